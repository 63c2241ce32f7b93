//! The work the server hands to the model: single entries and uploaded files wait in one
//! bounded queue, and the thread that owns the model (the `opensoc serve` command's) judges
//! them one at a time, so twenty clients share two cores without twenty copies of the model's
//! buffers, and a full queue answers "busy" at once.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use opensoc::analyze::analyzer::Mode;
use tokio::sync::oneshot;

use super::batch::BatchJob;

/// Jobs that may wait for the model at once; one more is refused as busy.
pub const QUEUE: usize = 64;

/// What the model thread does.
pub enum Job {
    /// One entry, judged as `opensoc analyze --json` judges it.
    Analyze {
        /// The entry's bytes.
        text: Vec<u8>,
        /// fast or full.
        mode: Mode,
        /// Where the analysis (`analyze --json`'s object) or the error goes.
        reply: oneshot::Sender<Result<serde_json::Value, String>>,
    },
    /// An uploaded file, windowed and judged as `scan` does ([`BatchJob::run`]).
    Batch {
        /// Where progress and verdicts go.
        job: Arc<BatchJob>,
        /// The file's bytes.
        bytes: Vec<u8>,
        /// fast or full.
        mode: Mode,
    },
}

/// The queue's sending end, shared by the handlers.
#[derive(Clone)]
pub struct Worker {
    tx: SyncSender<Job>,
}

/// The queue is full, or the model thread is gone.
#[derive(Debug)]
pub struct Busy;

/// A new queue: the server submits to the [`Worker`], the model thread takes from the
/// receiver until the server is gone.
pub fn queue() -> (Worker, Receiver<Job>) {
    let (tx, rx) = sync_channel(QUEUE);
    (Worker { tx }, rx)
}

impl Worker {
    /// Queues a job without waiting.
    pub fn submit(&self, job: Job) -> Result<(), Busy> {
        match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}
