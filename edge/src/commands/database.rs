//! Which verdict database a command uses: `--db`, `$OPENSOC_DB`, else the default in the data
//! directory. Every command that reads or writes the store asks here.

use std::path::{Path, PathBuf};

use opensoc::util::home::default_db;

/// The database `given` (`--db`, `$OPENSOC_DB`), else `verdicts.db` in the data directory
/// (`~/.local/share/opensoc`, see [`default_db`]); when that is an earlier version's history
/// in the cache directory, says once on stderr where it should move.
pub fn db_path(given: Option<&Path>) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    let chosen = default_db();
    if let Some(to) = &chosen.move_to {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            eprintln!(
                "note: using the verdict history at {} (an earlier version's place, which cache \
                 cleaners empty); move it with: mkdir -p {} && mv {} {}",
                chosen.path.display(),
                to.parent()
                    .map_or(String::new(), |d| d.display().to_string()),
                chosen.path.display(),
                to.display()
            );
        });
    }
    chosen.path
}
