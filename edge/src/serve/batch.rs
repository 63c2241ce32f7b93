//! Uploaded files: each is read through the agent's own pipeline ([`Ingest`] over a store in
//! memory), so an auth.log gives one verdict per source and window as `scan` would store,
//! and its progress, verdicts and end are kept as events that any number of page streams
//! replay from the start and then follow.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::response::sse::Event;
use futures_util::stream::{self, Stream};
use opensoc::task::verdict::Severity;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::ingest::{Ingest, IngestConfig, Judge, SCAN_CHUNK_LINES};
use crate::store::export::{severity_of, verdict_json};
use crate::store::sqlite::{Store, StoredVerdict};

/// Finished uploads kept for their events and CSV; older ones are forgotten.
const KEPT: usize = 16;

/// One upload: what happened to it so far.
pub struct BatchJob {
    /// Its number in the URLs (`/api/batch/ID/…`).
    pub id: u64,
    /// The name the page gave (shown as the verdicts' source, `upload:NAME`).
    pub name: String,
    /// Lines in the file.
    pub total_lines: u64,
    cancel: Arc<AtomicBool>,
    events: Mutex<Vec<(&'static str, Value)>>,
    /// The number of events, bumped at each one, so that streams wake.
    changed: watch::Sender<usize>,
    finished: AtomicBool,
    verdicts: Mutex<Vec<StoredVerdict>>,
}

/// A lock that a panicking holder left poisoned still holds consistent data here (every
/// writer pushes whole values), so the page keeps working.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl BatchJob {
    /// Asks the pipeline to stop before its next model call.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// Whether it has ended (done, cancelled or failed).
    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }

    /// The verdicts stored so far, in the order they were judged.
    pub fn verdicts(&self) -> Vec<StoredVerdict> {
        lock(&self.verdicts).clone()
    }

    fn push(&self, kind: &'static str, data: Value) {
        lock(&self.events).push((kind, data));
        self.changed.send_modify(|n| *n += 1);
    }

    /// The last event, after which streams end.
    fn end(&self, kind: &'static str, data: Value) {
        self.push(kind, data);
        self.finished.store(true, Ordering::SeqCst);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Ends the job with an error the page shows.
    pub fn fail(&self, message: &str) {
        self.end("failed", json!({ "error": message }));
    }

    /// Windows and judges the file through `judge`, as `scan` does, sending progress as it
    /// goes; ends with `done`, `cancelled` or `failed`.
    pub fn run<J: Judge>(&self, bytes: Vec<u8>, judge: J) {
        if let Err(e) = self.judge_all(bytes, judge) {
            self.fail(&e);
        }
    }

    fn judge_all<J: Judge>(&self, bytes: Vec<u8>, judge: J) -> Result<(), String> {
        let started = Instant::now();
        let store = Store::open_in_memory().map_err(|e| e.to_string())?;
        // Every window of an upload gets its row on the page, benign copies included.
        let config = IngestConfig {
            count_benign_copies: false,
            ..IngestConfig::default()
        };
        let mut ingest = Ingest::new(store, judge, config);
        ingest.set_stop(self.cancel.clone());
        ingest.defer_judging(true);
        ingest
            .add_stream(
                &format!("upload:{}", self.name),
                Box::new(Cursor::new(bytes)),
            )
            .map_err(|e| e.to_string())?;
        // Reading and windowing cost no model call: the windows are counted first, then
        // judged one at a time behind the progress bar.
        loop {
            let n = ingest
                .pump(Some(SCAN_CHUNK_LINES))
                .map_err(|e| e.to_string())?;
            ingest.close_idle_by_log_time().map_err(|e| e.to_string())?;
            if n == 0 || ingest.stopping() {
                break;
            }
        }
        let total = ingest.close_all().map_err(|e| e.to_string())?;
        let lines_read = ingest.stats().lines;
        let mut done = 0usize;
        let mut findings = 0usize;
        let progress = |done: usize| {
            json!({
                "percent": (done * 100).checked_div(total).unwrap_or(100),
                "lines_read": lines_read,
                "total_lines": self.total_lines,
                "windows": done,
                "total_windows": total,
            })
        };
        self.push("progress", progress(0));
        while ingest.store_next().map_err(|e| e.to_string())? {
            for v in ingest.take_stored() {
                done += 1;
                findings += usize::from(severity_of(&v) >= Severity::Medium);
                self.push("verdict", verdict_json(&v));
                lock(&self.verdicts).push(v);
            }
            self.push("progress", progress(done));
        }
        let problems: Vec<String> = ingest
            .take_problems()
            .into_iter()
            .map(|p| p.message)
            .collect();
        let stats = ingest.stats();
        let summary = json!({
            "lines": stats.lines,
            "windows": done,
            "total_windows": total,
            "model_calls": stats.model_calls,
            "cache_hits": stats.cache_hits,
            "record_hits": stats.record_hits,
            "batches": stats.batches,
            "findings": findings,
            "problems": problems,
            "elapsed_s": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            "percent": (done * 100).checked_div(total).unwrap_or(100),
        });
        if self.cancel.load(Ordering::SeqCst) {
            self.end("cancelled", summary);
        } else if let Some(p) = problems.first() {
            return Err(format!("the file could not be read: {p}"));
        } else {
            self.end("done", summary);
        }
        Ok(())
    }

    /// Every event so far, then each new one as it comes, until the job ends.
    pub fn events(self: Arc<Self>) -> impl Stream<Item = Result<Event, Infallible>> {
        let rx = self.changed.subscribe();
        stream::unfold((self, rx, 0usize), |(job, mut rx, at)| async move {
            loop {
                rx.borrow_and_update();
                let next = lock(&job.events).get(at).cloned();
                if let Some((kind, data)) = next {
                    let event = Event::default().event(kind).data(data.to_string());
                    return Some((Ok(event), (job, rx, at + 1)));
                }
                if job.finished() || rx.changed().await.is_err() {
                    return None;
                }
            }
        })
    }
}

/// The uploads of this server's life, the newest [`KEPT`] finished ones and every running one.
#[derive(Default)]
pub struct Registry {
    next: AtomicU64,
    jobs: Mutex<VecDeque<Arc<BatchJob>>>,
}

impl Registry {
    /// A new job for a file of `total_lines` lines named `name`.
    pub fn create(&self, name: &str, total_lines: u64) -> Arc<BatchJob> {
        let (changed, _) = watch::channel(0);
        let job = Arc::new(BatchJob {
            id: self.next.fetch_add(1, Ordering::SeqCst) + 1,
            name: name.to_string(),
            total_lines,
            cancel: Arc::new(AtomicBool::new(false)),
            events: Mutex::new(Vec::new()),
            changed,
            finished: AtomicBool::new(false),
            verdicts: Mutex::new(Vec::new()),
        });
        let mut jobs = lock(&self.jobs);
        jobs.push_back(job.clone());
        while jobs.iter().filter(|j| j.finished()).count() > KEPT {
            if let Some(i) = jobs.iter().position(|j| j.finished()) {
                jobs.remove(i);
            }
        }
        job
    }

    /// The job with this id, if it is still kept.
    pub fn get(&self, id: u64) -> Option<Arc<BatchJob>> {
        lock(&self.jobs).iter().find(|j| j.id == id).cloned()
    }

    /// Forgets a job that never started (the model's queue was full).
    pub fn remove(&self, id: u64) {
        lock(&self.jobs).retain(|j| j.id != id);
    }
}
