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

// Every sink sends the agent with its verdicts; it is the store's identity.
pub use crate::store::agent::Agent;

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
