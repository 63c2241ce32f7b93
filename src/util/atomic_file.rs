//! Files that appear whole or not at all: written to a temporary file beside the destination,
//! synced, then renamed over it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Writes `path` through `fill`, atomically: a crash, a full disk or an error from `fill`
/// leaves any previous file at `path` untouched and no partial file behind.
///
/// `io_err` turns an I/O failure of the temporary file, the sync or the rename into the
/// caller's error type (which is expected to name `path`).
pub fn write_atomically<E>(
    path: &Path,
    io_err: impl Fn(io::Error) -> E,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
) -> Result<(), E> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    // Same directory, so the rename cannot cross file systems; the dot hides it from globs.
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile's default 0600 would leave the result unreadable to others, unlike any file
        // a plain create makes (the umask still applies).
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = builder.tempfile_in(dir).map_err(&io_err)?;
    let (file, tmp_path) = tmp.into_parts();
    let mut w = BufWriter::with_capacity(1 << 20, file);
    fill(&mut w)?;
    w.flush().map_err(&io_err)?;
    let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
    // Durable before the rename makes it visible, so a crash cannot leave an empty file.
    file.sync_all().map_err(&io_err)?;
    drop(file);
    tmp_path.persist(path).map_err(|e| io_err(e.error))?;
    // The rename is durable only once the directory entry is; best effort, since some file
    // systems refuse to sync a directory.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        std::fs::write(&p, b"old").unwrap();
        write_atomically(&p, |e| e, |w| w.write_all(b"new contents")).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new contents");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary file left behind");
    }

    #[test]
    fn a_failing_fill_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        std::fs::write(&p, b"old").unwrap();
        let r = write_atomically(
            &p,
            |e| e,
            |w| {
                w.write_all(b"half")?;
                Err(io::Error::other("disk full"))
            },
        );
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/dir/f.bin");
        assert!(write_atomically(&p, |e| e, |w| w.write_all(b"x")).is_err());
    }
}
