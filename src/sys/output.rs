//! Where a report goes, decided and checked before any probe is sent: standard output, a regular
//! file replaced atomically (a temp file created with O_EXCL in the same directory, fsync, rename,
//! directory fsync), or a character device / FIFO written directly (`/dev/null`, `/dev/stdout`).
//! Anything else that exists at the path (a directory, a socket, a block device) is refused, so
//! `--output` as root cannot replace a device node or follow a planted temp-file symlink.

use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::error::{InputError, InternalError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    Stdout,
    /// A regular file (or a new one), replaced atomically; symlinks are resolved to their target.
    Replace(PathBuf),
    /// A character device or FIFO, written in place.
    Direct(PathBuf),
}

/// Check the `--output` destination before anything is sent.
pub(crate) fn prepare(path: Option<&Path>) -> Result<Destination, InputError> {
    prepare_for(path, "--output")
}

/// Check a destination named by `flag` before anything is sent.
pub(crate) fn prepare_for(path: Option<&Path>, flag: &str) -> Result<Destination, InputError> {
    let Some(path) = path else {
        return Ok(Destination::Stdout);
    };
    let shown = path.display().to_string();
    let bad = |why: &str| InputError::flag(flag, &shown, why);
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_char_device() || m.file_type().is_fifo() => {
            return Ok(Destination::Direct(path.to_path_buf()))
        }
        Ok(m) if m.is_file() => {}
        Ok(m) if m.is_dir() => return Err(bad("is a directory")),
        Ok(_) => return Err(bad(
            "exists and is not a regular file, character device or FIFO; refusing to replace it",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(bad(&crate::sys::errno::words(&e))),
    }
    // a symlink to a regular file: replace the target, not the link
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(bad(&format!("{} is not a directory", dir.display()))),
        Err(_) => return Err(bad(&format!("directory {} does not exist", dir.display()))),
    }
    // can we create a file there? (a temp file, removed at once)
    tempfile::Builder::new()
        .prefix(".ack-edge-preflight-")
        .tempfile_in(dir)
        .map_err(|e| {
            bad(&format!(
                "cannot write in {}: {}",
                dir.display(),
                crate::sys::errno::words(&e)
            ))
        })?;
    Ok(Destination::Replace(target))
}

/// Whether a write error is a closed pipe (`| head`), which ends quietly.
pub(crate) fn is_closed_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

/// Replace `path` atomically: a temp file created with O_EXCL in the same directory, filled by
/// `fill`, synced, renamed over `path`, and the directory synced. `mode` is the new file's mode;
/// None keeps the replaced file's, or 0644 for a new one (the textfile collector reads it as another
/// user), not the temp file's 0600.
pub(crate) fn replace_atomically(
    path: &Path,
    mode: Option<u32>,
    fill: impl FnOnce(&std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mode = mode.unwrap_or_else(|| {
        std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777)
    });
    let tmp = tempfile::Builder::new()
        .prefix(".ack-edge-preflight-")
        .tempfile_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    fill(tmp.as_file())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    replace_atomically(path, None, |mut f| f.write_all(text.as_bytes()))
}

/// Write the text; a closed standard output is not an error (the reader went away).
pub(crate) fn write(dest: &Destination, text: &str) -> Result<(), InternalError> {
    let res = match dest {
        Destination::Stdout => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if is_closed_pipe(&e) => Ok(()),
                r => r,
            }
        }
        Destination::Direct(p) => std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .and_then(|mut f| f.write_all(text.as_bytes())),
        Destination::Replace(p) => replace(p, text),
    };
    res.map_err(|e| {
        let path = match dest {
            Destination::Stdout => "standard output".to_string(),
            Destination::Direct(p) | Destination::Replace(p) => p.display().to_string(),
        };
        InternalError::Output {
            path,
            reason: crate::sys::errno::words(&e),
        }
    })
}

/// `watch --samples`: the file opened for appending (created when absent), checked before
/// anything is sent.
pub(crate) fn append_to(
    path: &Path,
    flag: &str,
) -> Result<std::io::BufWriter<std::fs::File>, InputError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(std::io::BufWriter::new)
        .map_err(|e| {
            InputError::flag(
                flag,
                &path.display().to_string(),
                crate::sys::errno::words(&e),
            )
        })
}

/// The last `max` bytes of a file, from the start of a line, as text (for the bundle's copy of
/// the samples); why not, when it cannot be read.
pub(crate) fn tail_text(path: &Path, max: usize) -> Result<String, String> {
    let b = std::fs::read(path).map_err(|e| crate::sys::errno::words(&e))?;
    let from = b.len().saturating_sub(max);
    let from = if from == 0 {
        0
    } else {
        b[from..]
            .iter()
            .position(|c| *c == b'\n')
            .map_or(b.len(), |i| from + i + 1)
    };
    Ok(String::from_utf8_lossy(&b[from..]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            prepare(Some(Path::new("/dev/null"))).unwrap(),
            Destination::Direct("/dev/null".into())
        );
        assert!(prepare(Some(d.path()))
            .unwrap_err()
            .to_string()
            .contains("directory"));
        assert!(prepare(Some(&d.path().join("missing/r.json")))
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
        let f = d.path().join("r.json");
        let dest = prepare(Some(&f)).unwrap();
        write(&dest, "one").unwrap();
        write(&dest, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "two");
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
                0o644
            );
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
            write(&dest, "kept").unwrap();
            assert_eq!(
                std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
                0o600
            );
            write(&dest, "two").unwrap();
        }
        // a symlink to a regular file: the target is replaced, the link stays a link
        let link = d.path().join("link.json");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        write(&prepare(Some(&link)).unwrap(), "three").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "three");
        // no temp files left behind
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
        write(&prepare(Some(Path::new("/dev/null"))).unwrap(), "x").unwrap();
        assert!(std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
    }
}
