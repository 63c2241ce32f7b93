//! Where opensoc keeps its files by default: the model in a cache directory (it can be fetched
//! again), the verdict history in a data directory (it cannot), the user's settings in a
//! configuration directory, as the XDG base directories separate them. `$OPENSOC_HOME` puts
//! the model and the history in one directory.

use std::path::{Path, PathBuf};

/// The verdict database's file name in the data directory.
pub const DB_FILE_NAME: &str = "verdicts.db";

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        // The XDG specification ignores relative paths in its variables.
        .filter(|p| p.is_absolute() || name == "OPENSOC_HOME")
}

/// `$HOME`, or the working directory without it (some service managers set none).
fn user_home() -> PathBuf {
    env_dir("HOME").unwrap_or_else(|| PathBuf::from("."))
}

/// opensoc's cache directory, where the model is fetched: `$OPENSOC_HOME`, else
/// `$XDG_CACHE_HOME/opensoc`, default `~/.cache/opensoc`.
pub fn home_dir() -> PathBuf {
    if let Some(h) = env_dir("OPENSOC_HOME") {
        return h;
    }
    env_dir("XDG_CACHE_HOME")
        .unwrap_or_else(|| user_home().join(".cache"))
        .join("opensoc")
}

/// opensoc's data directory, where the verdict history lives: `$OPENSOC_HOME`, else
/// `$XDG_DATA_HOME/opensoc`, default `~/.local/share/opensoc` (cache cleaners empty
/// `~/.cache`; a history must survive them).
pub fn data_dir() -> PathBuf {
    if let Some(h) = env_dir("OPENSOC_HOME") {
        return h;
    }
    env_dir("XDG_DATA_HOME")
        .unwrap_or_else(|| user_home().join(".local").join("share"))
        .join("opensoc")
}

/// opensoc's user configuration directory: `$XDG_CONFIG_HOME/opensoc`, default
/// `~/.config/opensoc`; none without either variable (settings are never read from the
/// working directory). `$OPENSOC_HOME` does not move it: configuration is not data.
pub fn config_dir() -> Option<PathBuf> {
    env_dir("XDG_CONFIG_HOME")
        .or_else(|| env_dir("HOME").map(|h| h.join(".config")))
        .map(|d| d.join("opensoc"))
}

/// The default verdict database, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultDb {
    /// The path to use.
    pub path: PathBuf,
    /// Set when `path` is a history left in the cache directory by an earlier version,
    /// used because the data directory holds none yet: the path it should move to.
    pub move_to: Option<PathBuf>,
}

/// The database used without `--db` or `$OPENSOC_DB`: `data_dir()/verdicts.db`; or, while
/// that does not exist and an earlier version's `home_dir()/verdicts.db` does, that one, so
/// that no history is lost by an upgrade.
pub fn default_db() -> DefaultDb {
    choose_db(&data_dir(), &home_dir())
}

fn choose_db(data: &Path, cache: &Path) -> DefaultDb {
    let path = data.join(DB_FILE_NAME);
    let legacy = cache.join(DB_FILE_NAME);
    if data != cache && !path.exists() && legacy.is_file() {
        return DefaultDb {
            path: legacy,
            move_to: Some(path),
        };
    }
    DefaultDb {
        path,
        move_to: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_history_in_the_cache_is_used_until_it_is_moved() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let (data, cache) = (tmp.path().join("data"), tmp.path().join("cache"));
        assert_eq!(choose_db(&data, &cache).path, data.join(DB_FILE_NAME));

        std::fs::create_dir_all(&cache).expect("cache dir");
        std::fs::write(cache.join(DB_FILE_NAME), b"x").expect("legacy db");
        let chosen = choose_db(&data, &cache);
        assert_eq!(chosen.path, cache.join(DB_FILE_NAME));
        assert_eq!(chosen.move_to, Some(data.join(DB_FILE_NAME)));

        std::fs::create_dir_all(&data).expect("data dir");
        std::fs::write(data.join(DB_FILE_NAME), b"y").expect("new db");
        assert_eq!(
            choose_db(&data, &cache),
            DefaultDb {
                path: data.join(DB_FILE_NAME),
                move_to: None
            }
        );
    }
}
