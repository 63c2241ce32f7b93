//! JSON lines in the Elastic Common Schema ([`ecs`](crate::forward::ecs)), appended to a file
//! or written to standard output, for Filebeat, Vector or Fluent Bit to ship.
//!
//! A batch is accepted once it is written and, for a file, flushed to the disk (`fdatasync`):
//! only then does the cursor move, so a crash repeats at most the last batch, never loses it.
//! A batch torn by a crash mid-write is cut back to its last whole line before the next one is
//! appended. A repeat carries the same `event.id` (agent id and verdict id), which shippers can use to
//! drop it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::forward::{ecs, Agent, ForwardError, Sink};
use crate::store::sqlite::StoredVerdict;

/// The JSON lines sink.
pub struct JsonLinesSink {
    name: String,
    path: Option<PathBuf>,
}

impl JsonLinesSink {
    /// A sink appending to `path` (created mode 0600: verdicts quote log lines), or writing to
    /// standard output when `path` is `None`.
    pub fn new(name: &str, path: Option<&Path>) -> JsonLinesSink {
        JsonLinesSink {
            name: name.to_string(),
            path: path.map(Path::to_path_buf),
        }
    }

    fn text(agent: &Agent, batch: &[StoredVerdict]) -> Vec<u8> {
        let mut out = Vec::new();
        for stored in batch {
            out.extend_from_slice(ecs::document(agent, stored).to_string().as_bytes());
            out.push(b'\n');
        }
        out
    }
}

impl Sink for JsonLinesSink {
    fn deliver(&mut self, agent: &Agent, batch: &[StoredVerdict]) -> Result<(), ForwardError> {
        let text = JsonLinesSink::text(agent, batch);
        let Some(path) = &self.path else {
            let mut out = std::io::stdout().lock();
            return out
                .write_all(&text)
                .and_then(|()| out.flush())
                .map_err(|e| ForwardError::delivery(&self.name, "writing", e));
        };
        // Opened for each batch, so that a shipper that rotates the file (renames it away) gets
        // the next batch in a new one.
        // Read as well: a torn last line is looked for first.
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| ForwardError::delivery(&self.name, "opening", e))?;
        drop_torn_line(&file).map_err(|e| ForwardError::delivery(&self.name, "repairing", e))?;
        file.write_all(&text)
            .and_then(|()| file.sync_data())
            .map_err(|e| ForwardError::delivery(&self.name, "writing", e))?;
        Ok(())
    }
}

/// Cuts a last line that has no newline: what a crash in the middle of a write left. Its batch
/// was not counted as delivered, so it comes again whole; appending after the torn part would
/// glue two lines into one that no shipper can parse. Shippers read only whole lines, so none
/// has taken the torn one.
fn drop_torn_line(file: &File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    // Back to the newline before it, a block at a time.
    let mut end = len;
    let mut block = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let part = &mut block[..(end - start) as usize];
        file.read_exact_at(part, start)?;
        if let Some(i) = part.iter().rposition(|&b| b == b'\n') {
            return file.set_len(start + i as u64 + 1);
        }
        end = start;
    }
    file.set_len(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_torn_by_a_crash_is_cut_before_the_next_batch() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v.jsonl");
        for (before, after) in [
            ("{\"a\":1}\n{\"b\":", "{\"a\":1}\n"),
            ("{\"b\":", ""),
            ("{\"a\":1}\n", "{\"a\":1}\n"),
        ] {
            std::fs::write(&path, before).expect("write");
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(&path)
                .expect("open");
            drop_torn_line(&file).expect("repair");
            assert_eq!(std::fs::read_to_string(&path).expect("read"), after);
        }
    }
}
