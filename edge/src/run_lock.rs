//! The lock that keeps two agents (a cron `scan` that overran, a `watch`) off one database.
//!
//! An advisory `flock` on `<database>.lock`: the kernel drops it when the process dies, so a
//! crashed run never leaves a stale lock behind, unlike a pid file.

use std::fs::{File, OpenOptions};
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
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        let lock = PathBuf::from(name);
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
    fn a_lock_in_a_missing_directory_is_an_open_error() {
        let err = RunLock::acquire(Path::new("/nonexistent/dir/v.db")).unwrap_err();
        assert!(matches!(err, LockError::Open { .. }), "{err}");
    }
}
