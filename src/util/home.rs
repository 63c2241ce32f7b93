//! opensoc's home directory, where the model cache and the verdict database live by default.

use std::path::PathBuf;

/// opensoc's cache directory: `$OPENSOC_HOME`, default `$HOME/.cache/opensoc`.
pub fn home_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("OPENSOC_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    // Without HOME (some service managers) the cache lands in the working directory.
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("opensoc")
}
