//! JSON lines in the Elastic Common Schema ([`ecs`](crate::forward::ecs)), appended to a file
//! or written to standard output, for Filebeat, Vector or Fluent Bit to ship.
//!
//! A batch is accepted once it is written and, for a file, flushed to the disk (`fdatasync`):
//! only then does the cursor move, so a crash repeats at most the last batch, never loses it.
//! A repeat carries the same `event.id` (agent id and verdict id), which shippers can use to
//! drop it.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
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
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| ForwardError::delivery(&self.name, "opening", e))?;
        file.write_all(&text)
            .and_then(|()| file.sync_data())
            .map_err(|e| ForwardError::delivery(&self.name, "writing", e))?;
        Ok(())
    }
}
