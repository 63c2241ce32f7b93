//! The lock that keeps two agents (a cron `scan` that overran, a `watch`) off one database.
//!
//! An advisory `flock` on `<database>.lock`: the kernel drops it when the process dies, so a
//! crashed run never leaves a stale lock behind, unlike a pid file.
//!
//! The lock file sits beside the database's canonical path (symbolic links resolved, in the
//! directories and in the name itself): `--db x.db` and `--db link.db` (a link to x.db) are one
//! database, and SQLite itself writes through the link, so they must take one lock.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another opensoc scan or watch is using {db} (lock file {lock}); try again when it has finished")]
    Busy {
        /// The database.
        db: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file could not be opened.
    #[error("opening the lock file {path}: {source}")]
    Open {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Held for as long as the value lives.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of database `db` without waiting.
    pub fn acquire(db: &Path) -> Result<RunLock, LockError> {
        let lock = lock_path(db).map_err(|source| LockError::Open {
            path: with_lock_suffix(db),
            source,
        })?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock)
            .map_err(|source| LockError::Open {
                path: lock.clone(),
                source,
            })?;
        // SAFETY: flock only reads the descriptor, which `file` keeps open.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            return Err(if err.kind() == std::io::ErrorKind::WouldBlock {
                LockError::Busy {
                    db: db.to_path_buf(),
                    lock,
                }
            } else {
                LockError::Open {
                    path: lock,
                    source: err,
                }
            });
        }
        Ok(RunLock { _file: file })
    }
}

/// Symbolic links followed at most, as the kernel's own limit (ELOOP past it).
const MAX_LINKS: usize = 40;

/// The lock file of database `db`: `<canonical db>.lock`.
///
/// The database may not exist yet (the first scan creates it), so its directory is
/// canonicalized and the file name joined; a name that is itself a link (dangling or not) is
/// followed the way `open` would follow it.
pub fn lock_path(db: &Path) -> std::io::Result<PathBuf> {
    Ok(with_lock_suffix(&canonical_db(db)?))
}

/// `db` with every symbolic link resolved, whether or not the file exists.
pub fn canonical_db(db: &Path) -> std::io::Result<PathBuf> {
    let mut path = db.to_path_buf();
    for _ in 0..MAX_LINKS {
        let Some(name) = path.file_name().map(|n| n.to_owned()) else {
            // `/`, `..` or a path ending in `..`: no file name to keep apart; only an
            // existing directory can be spelled so (and it is refused as a database later).
            return fs::canonicalize(&path);
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => fs::canonicalize(p)?,
            _ => fs::canonicalize(".")?,
        };
        let joined = dir.join(&name);
        match fs::symlink_metadata(&joined) {
            Ok(meta) if meta.file_type().is_symlink() => {
                // A relative target is relative to the link's directory; `join` keeps an
                // absolute one as it is.
                path = dir.join(fs::read_link(&joined)?);
            }
            _ => return Ok(joined),
        }
    }
    Err(std::io::Error::from_raw_os_error(libc::ELOOP))
}

fn with_lock_suffix(db: &Path) -> PathBuf {
    let mut name: OsString = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_database_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("v.db");
        let first = RunLock::acquire(&db).unwrap();
        let err = RunLock::acquire(&db).unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }), "{err}");
        assert!(err.to_string().contains("v.db.lock"));
        drop(first);
        RunLock::acquire(&db).unwrap();
    }

    #[test]
    fn a_symlink_to_the_database_takes_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let link = dir.path().join("link.db");
        // Dangling while the database does not exist yet: the first scan creates it.
        std::os::unix::fs::symlink("x.db", &link).unwrap();
        let first = RunLock::acquire(&link).unwrap();
        let err = RunLock::acquire(&db).unwrap_err();
        assert!(
            matches!(err, LockError::Busy { .. }),
            "x.db locked through link.db must be busy: {err}"
        );
        drop(first);
        // And the other way round, with the database present and a link to its directory.
        std::fs::write(&db, b"").unwrap();
        let dir_link = dir.path().join("dir-link");
        std::os::unix::fs::symlink(dir.path(), &dir_link).unwrap();
        let _first = RunLock::acquire(&db).unwrap();
        for other in [
            link.clone(),
            dir_link.join("link.db"),
            dir_link.join("x.db"),
        ] {
            let err = RunLock::acquire(&other).unwrap_err();
            assert!(
                matches!(err, LockError::Busy { .. }),
                "{} must be busy: {err}",
                other.display()
            );
        }
        assert!(!dir.path().join("link.db.lock").exists());
    }

    #[test]
    fn a_symlink_loop_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.db");
        std::os::unix::fs::symlink("b.db", &a).unwrap();
        std::os::unix::fs::symlink("a.db", dir.path().join("b.db")).unwrap();
        let err = RunLock::acquire(&a).unwrap_err();
        assert!(matches!(err, LockError::Open { .. }), "{err}");
    }

    #[test]
    fn a_lock_in_a_missing_directory_is_an_open_error() {
        let err = RunLock::acquire(Path::new("/nonexistent/dir/v.db")).unwrap_err();
        assert!(matches!(err, LockError::Open { .. }), "{err}");
    }
}
