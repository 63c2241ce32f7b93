//! The loop `scan` runs, for tests that drive the pipeline in-process and stop it midway.

use std::sync::atomic::{AtomicBool, Ordering};

use opensoc_edge::ingest::{Ingest, Judge};

/// Pumps `ingest` `chunk` lines at a time, closing the windows idle in log time after each
/// chunk, until nothing is left to read or `stop` is set; true when it stopped.
pub fn pump_until_stopped<J: Judge>(
    ingest: &mut Ingest<J>,
    stop: &AtomicBool,
    chunk: usize,
) -> bool {
    loop {
        let n = ingest.pump(Some(chunk)).unwrap();
        ingest.close_idle_by_log_time().unwrap();
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        if n == 0 {
            return false;
        }
    }
}
