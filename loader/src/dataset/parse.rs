//! Parsing `characters.json` record by record, so that a shape error names its record and its
//! position in the whole file.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use serde_json::value::RawValue;

use super::error::{DatasetError, Problem, RecordRef};
use super::format::{MarvelCharacter, MAX_CHARACTERS_FILE_BYTES};
use super::images::not_a_file;

/// Reads `characters.json` whole, but refuses it without reading when it is over
/// [`MAX_CHARACTERS_FILE_BYTES`] (and stops one byte over, should it grow meanwhile) or not a
/// regular file (a FIFO would block the open forever). `loader collect images` reads it through
/// here too.
pub(crate) fn read_characters_file(path: &Path) -> Result<Vec<u8>, DatasetError> {
    let io_err = |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    };
    let kind = fs::metadata(path).map_err(io_err)?.file_type();
    if let Some(what) = not_a_file(&kind) {
        return Err(io_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({what})"),
        )));
    }
    let too_large = |bytes| DatasetError::FileTooLarge {
        path: path.to_owned(),
        bytes,
    };
    let file = fs::File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    if len > MAX_CHARACTERS_FILE_BYTES {
        return Err(too_large(len));
    }
    let mut raw = Vec::with_capacity(len as usize);
    file.take(MAX_CHARACTERS_FILE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(io_err)?;
    if raw.len() as u64 > MAX_CHARACTERS_FILE_BYTES {
        return Err(too_large(raw.len() as u64));
    }
    Ok(raw)
}

/// Parses `characters.json` record by record, so that a shape error names its record.
pub(super) fn parse_characters(path: &Path) -> Result<Vec<MarvelCharacter>, DatasetError> {
    let raw = read_characters_file(path)?;
    let text = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw);

    let first = text.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let items: Vec<&RawValue> = match serde_json::from_slice(text) {
        Ok(items) => items,
        Err(e) if e.is_syntax() || e.is_eof() || e.is_io() || first == Some(b'[') => {
            return Err(DatasetError::Json {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
                detail: strip_position(&e.to_string()),
            })
        }
        Err(_) => {
            let found = match first {
                Some(b'{') => "an object",
                Some(b'"') => "a string",
                Some(b't' | b'f') => "a boolean",
                Some(b'n') => "null",
                None => "nothing",
                _ => "a number",
            };
            return Err(DatasetError::NotAnArray {
                path: path.to_owned(),
                found,
            });
        }
    };

    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            serde_json::from_str::<MarvelCharacter>(item.get()).map_err(|e| {
                // where this record starts in the file, to give absolute positions
                let start = item.get().as_ptr() as usize - text.as_ptr() as usize;
                let (line, column) = absolute_position(text, start, e.line(), e.column());
                let loose: Option<serde_json::Value> = serde_json::from_str(item.get()).ok();
                let id = loose.as_ref().and_then(|v| v.get("id")?.as_u64());
                let name = loose
                    .as_ref()
                    .and_then(|v| Some(v.get("name")?.as_str()?.to_owned()));
                DatasetError::Record {
                    file: path.to_owned(),
                    record: Box::new(RecordRef { index, id, name }),
                    problem: Problem::Shape {
                        detail: strip_position(&e.to_string()),
                        line,
                        column,
                    },
                }
            })
        })
        .collect()
}

/// serde_json appends " at line L column C" to its messages; we print positions ourselves.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Turns a (line, column) inside a record that starts at byte `start` of `text` into the
/// position in the whole file.
fn absolute_position(text: &[u8], start: usize, line: usize, column: usize) -> (usize, usize) {
    let before = &text[..start];
    let start_line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let start_column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
    if line <= 1 {
        (start_line, start_column + column.saturating_sub(1))
    } else {
        (start_line + line - 1, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_inside_a_record_become_file_positions() {
        let text = b"[\n  {\"a\": 1},\n  {\"b\":\n 2}\n]";
        let start = 16; // the second '{'
        assert_eq!(text[start], b'{');
        assert_eq!(absolute_position(text, start, 1, 1), (3, 3));
        assert_eq!(absolute_position(text, start, 2, 2), (4, 2));
    }
}
