//! Image files: the checks every image passes ([`check_image`], shared with `loader collect`),
//! reading one within the size limit, and its strong ETag.

use std::fs::{self, FileType};
use std::io::{self, Cursor, Read};
use std::path::Path;

use common::model::ImageRecord;
use image::ImageFormat;

use super::error::{DatasetError, Problem};
use super::format::MAX_IMAGE_BYTES;

/// The strong ETag of image bytes: the quoted md5 hex digest.
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{:x}\"", md5::compute(bytes))
}

/// The stored record of an image.
pub fn image_record(bytes: Vec<u8>, content_type: &str) -> ImageRecord {
    ImageRecord {
        content_type: content_type.to_owned(),
        etag: etag_of(&bytes),
        bytes,
    }
}

/// What a file that is not a regular file is, for messages; `None` for a regular file. Only
/// regular files are read as images: opening a FIFO waits for a writer forever, and a device
/// may never end.
pub(super) fn not_a_file(kind: &FileType) -> Option<&'static str> {
    if kind.is_file() {
        return None;
    }
    if kind.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some("a FIFO");
        }
        if kind.is_socket() {
            return Some("a socket");
        }
        if kind.is_block_device() || kind.is_char_device() {
            return Some("a device");
        }
    }
    Some("not a file")
}

/// Reads a regular file, but never more than one byte over [`MAX_IMAGE_BYTES`].
///
/// # Errors
/// [`DatasetError::Io`] when it cannot be read or is not a regular file. The type is checked
/// before opening (so a FIFO is never opened, which would block) and again on the open file.
pub(super) fn read_limited(path: &Path) -> Result<Vec<u8>, DatasetError> {
    let io_err = |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    };
    let check = |kind: FileType| match not_a_file(&kind) {
        Some(what) => Err(io_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({what})"),
        ))),
        None => Ok(()),
    };
    check(fs::metadata(path).map_err(io_err)?.file_type())?;
    let file = fs::File::open(path).map_err(io_err)?;
    check(file.metadata().map_err(io_err)?.file_type())?;
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    Ok(bytes)
}

/// Checks that `bytes` are an image superpower can serve as `format`: at most
/// [`MAX_IMAGE_BYTES`], and an image of that format by its magic bytes and header (the pixels are
/// not decoded). `extension` is the one the record claims, for the message. Used when a dataset
/// is loaded and by `loader collect images` on every download, so both accept the same files.
///
/// # Errors
/// [`Problem::ImageTooLarge`], [`Problem::FormatMismatch`] (another format, or no image at all:
/// an HTML error page, say) or [`Problem::BadImage`] (the header cannot be decoded).
pub fn check_image(bytes: &[u8], format: ImageFormat, extension: &str) -> Result<(), Problem> {
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(Problem::ImageTooLarge {
            bytes: bytes.len() as u64,
        });
    }
    let found = image::guess_format(bytes).map_err(|_| Problem::FormatMismatch {
        extension: extension.to_owned(),
        found: "not a known image format".to_owned(),
    })?;
    if found != format {
        return Err(Problem::FormatMismatch {
            extension: extension.to_owned(),
            found: format!("{found:?}").to_uppercase(),
        });
    }
    image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| Problem::BadImage(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_etag_is_a_quoted_md5() {
        assert_eq!(etag_of(b""), "\"d41d8cd98f00b204e9800998ecf8427e\"");
    }
}
