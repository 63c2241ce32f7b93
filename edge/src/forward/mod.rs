//! Forwarding: every verdict is stored locally first, then delivered to the systems an admin
//! already runs, so that a fleet of agents has one view.
//!
//! ```text
//! Store (verdicts, ids only grow) ──▶ forwarder (a thread; one cursor per destination in the
//!                                     store) ──▶ Sink: syslog (RFC 5424 over TCP or TLS),
//!                                                     PostgreSQL (the fleet table),
//!                                                     JSON lines (Elastic Common Schema)
//! ```
//!
//! The local store is the buffer: the pipeline never waits for a destination. A destination
//! that is down is retried with backoff and caught up later, in order of verdict id; a restart
//! resumes from the cursor, which moves only after the destination accepted a batch. Delivery
//! is therefore at least once everywhere, and exactly once where the destination can refuse a
//! repeat (PostgreSQL's key is the agent id and the verdict id).
//!
//! - [`destination`]: a `--forward` URL, parsed and checked before anything runs;
//! - [`forwarder`]: the delivery loop, its cursors, backoff and the final catch-up;
//! - [`ecs`]: a verdict in the Elastic Common Schema's field names;
//! - [`jsonl`], [`syslog`], [`postgres`]: the sinks.

pub mod destination;
pub mod ecs;
pub mod forwarder;
pub mod jsonl;
pub mod postgres;
pub mod syslog;

use crate::store::sqlite::{StoreError, StoredVerdict};

/// Who sent a verdict: the same on every verdict one store forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// The store's agent id ([`Store::agent_id`](crate::store::sqlite::Store::agent_id)):
    /// stable across runs, different for every store.
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// This opensoc's version.
    pub version: String,
}

impl Agent {
    /// The agent of the store `id`, on this machine, with this build's version.
    pub fn here(id: String) -> Agent {
        Agent {
            id,
            host: host_name(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// This machine's host name ("localhost" when the system gives none).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is what we pass.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match (rc, String::from_utf8_lossy(&buf[..end]).trim()) {
        (0, name) if !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}

/// Where verdicts go: one destination's connection, opened lazily and reopened after a failure.
pub trait Sink: Send {
    /// Delivers `batch` (verdicts in ascending id order) and returns only once the destination
    /// has accepted every one of them (written, flushed, committed); an error means some or
    /// none were, and the batch will be delivered again.
    fn deliver(&mut self, agent: &Agent, batch: &[StoredVerdict]) -> Result<(), ForwardError>;
}

/// Why forwarding failed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// A `--forward` URL or its options are wrong: no retry can help.
    #[error("--forward {url}: {why}")]
    BadDestination {
        /// The URL as given (its password hidden).
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The destination could not be reached or refused the batch: retried with backoff.
    #[error("{destination}: {what}: {source}")]
    Delivery {
        /// The destination (its password hidden).
        destination: String,
        /// What was being done: "connecting", "TLS handshake", "writing", …
        what: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The local store could not be read or its cursor saved.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ForwardError {
    /// A delivery error of `destination` while doing `what`.
    pub fn delivery(
        destination: &str,
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> ForwardError {
        ForwardError::Delivery {
            destination: destination.to_string(),
            what: what.into(),
            source: source.into(),
        }
    }
}
