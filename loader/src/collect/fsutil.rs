//! Atomic file replacement: write a temporary file in the same folder, fsync it, rename it over
//! the target, fsync the folder. A reader (or a crash) sees the old file or the new one, never
//! half of one.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use super::error::CollectError;

/// The suffix of our temporary files, so a later run can sweep the ones a `kill -9` left.
pub(crate) const TEMP_SUFFIX: &str = ".collect-tmp";

/// Replaces `path` with what `fill` writes, atomically and durably.
///
/// # Errors
/// Any I/O failure, naming `path`; the target is then untouched and the temporary file removed.
pub(crate) fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&File>) -> std::io::Result<()>,
) -> Result<(), CollectError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| CollectError::io(dir, e))?;
    {
        let mut out = BufWriter::new(temp.as_file());
        fill(&mut out)
            .and_then(|()| out.flush())
            .map_err(|e| CollectError::io(path, e))?;
    }
    temp.as_file()
        .sync_all()
        .map_err(|e| CollectError::io(path, e))?;
    temp.persist(path)
        .map_err(|e| CollectError::io(path, e.error))?;
    sync_dir(dir)
}

/// fsyncs a folder so that a rename in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), CollectError> {
    // Directories cannot be opened for fsync on every platform; where they can, do it.
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| CollectError::io(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Removes temporary files an interrupted run left in `dir`. Best effort.
pub(crate) fn sweep_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, |w| w.write_all(b"one")).unwrap();
        write_atomic(&path, |w| w.write_all(b"two")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, |w| w.write_all(b"old")).unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn sweep_removes_only_our_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".x.png.abc123.collect-tmp"), b"half").unwrap();
        fs::write(dir.path().join("x.png"), b"whole").unwrap();
        sweep_temp_files(dir.path());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.png")]);
    }
}
