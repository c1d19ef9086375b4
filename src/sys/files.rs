//! The user's own files: the inputs they name on the command line (`--nodes-file`,
//! `--regions-file`, `--cluster-ca`, the reports `summarize` reads) and the assets
//! `generate-assets` writes. The host being checked is read through `sys::host` (the injected
//! environment); the report and bundle outputs go through `sys::output`. Nothing else in the
//! library touches the filesystem (`tests/architecture.rs` checks it).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::errno;

/// Why a named input file was not read, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("not a regular file")]
    NotFile,
    #[error("is a directory")]
    Directory,
    #[error("{0} bytes; {1}")]
    TooBig(u64, String),
    #[error("{0}")]
    Io(String),
}

fn io(e: &std::io::Error) -> ReadError {
    ReadError::Io(errno::words(e))
}

/// Read a file of at most `max` bytes into `buf` (cleared first); `limit` says the limit in words
/// ("at most 4 MiB"); `regular` refuses anything but a regular file (a FIFO, a device). The size
/// is checked before reading and the read is capped, so a file that grows meanwhile cannot make
/// it read more.
pub(crate) fn read_capped(
    path: &Path,
    max: u64,
    limit: &str,
    regular: bool,
    buf: &mut Vec<u8>,
) -> Result<(), ReadError> {
    let mut f = std::fs::File::open(path).map_err(|e| io(&e))?;
    let md = f.metadata().map_err(|e| io(&e))?;
    if md.is_dir() {
        return Err(ReadError::Directory);
    }
    if regular && !md.is_file() {
        return Err(ReadError::NotFile);
    }
    if md.len() > max {
        return Err(ReadError::TooBig(md.len(), limit.to_string()));
    }
    buf.clear();
    (&mut f)
        .take(max + 1)
        .read_to_end(buf)
        .map_err(|e| io(&e))?;
    if buf.len() as u64 > max {
        return Err(ReadError::TooBig(buf.len() as u64, limit.to_string()));
    }
    Ok(())
}

/// The `*.json` files directly in `dir`, sorted; empty when it cannot be listed.
pub(crate) fn json_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "json") && f.is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Where a symbolic link points, if `path` is one.
pub(crate) fn link_target(path: &Path) -> Option<PathBuf> {
    std::fs::read_link(path).ok()
}

/// The size of a file, 0 when it cannot be read.
pub(crate) fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Create a directory and its parents (`generate-assets`).
pub(crate) fn create_dirs(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Rewrite a text file the tool generated itself (`generate-assets`).
pub(crate) fn rewrite(path: &Path, edit: impl FnOnce(String) -> String) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    std::fs::write(path, edit(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_capped_and_typed() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.json");
        std::fs::write(&f, "0123456789").unwrap();
        let mut buf = vec![];
        assert_eq!(read_capped(&f, 10, "10 B", true, &mut buf), Ok(()));
        assert_eq!(buf, b"0123456789");
        assert_eq!(
            read_capped(&f, 9, "9 B", true, &mut buf),
            Err(ReadError::TooBig(10, "9 B".into()))
        );
        assert_eq!(
            read_capped(d.path(), 9, "9 B", true, &mut buf),
            Err(ReadError::Directory)
        );
        assert!(matches!(
            read_capped(&d.path().join("none"), 9, "9 B", true, &mut buf),
            Err(ReadError::Io(_))
        ));
        assert_eq!(json_files_in(d.path()), [f]);
    }
}
