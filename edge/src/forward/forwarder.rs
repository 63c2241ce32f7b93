//! The delivery loop: for each destination, the verdicts after its cursor, in id order, a
//! batch at a time; the cursor moves in the local store once the destination accepted the
//! batch. A destination that fails is retried with backoff (1 s doubling to a minute) while
//! the others go on, and caught up when it is back.
//!
//! [`Forwarder`] runs the loop on a thread of its own with its own connection to the store,
//! so the pipeline never waits for a destination: the store is the buffer. `scan` gives it a
//! bounded time to catch up at its end ([`Forwarder::finish`]); what is left waits in the
//! store for the next run or `opensoc forward`.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::forward::destination::Destination;
use crate::forward::{Agent, ForwardError, Sink};
use crate::store::sqlite::Store;

/// Verdicts delivered in one batch (one TCP write, one PostgreSQL transaction).
pub const BATCH: usize = 500;
/// The first wait after a failure; it doubles with each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often the store is looked at for new verdicts: verdicts come a few a second at most,
/// and each look that finds some costs every destination a commit (and the JSON lines file an
/// fsync), so fewer, larger batches cost the analysis less.
const POLL: Duration = Duration::from_secs(2);
/// The forwarder's niceness: on a machine whose cores the model keeps busy, the scheduler
/// gives delivery what analysis leaves (the store is the buffer; delivery can wait).
const NICE: libc::c_int = 10;

/// Delivers the next batch of verdicts after `destination`'s cursor through `sink` and moves
/// the cursor past it; returns how many were delivered (0 when the destination is caught up).
pub fn deliver_next(
    store: &mut Store,
    agent: &Agent,
    destination: &str,
    sink: &mut dyn Sink,
    batch: usize,
) -> Result<usize, ForwardError> {
    let cursor = store.forward_cursor(destination)?;
    let verdicts = store.verdicts_after(cursor, batch)?;
    let Some(last) = verdicts.last().map(|v| v.id) else {
        return Ok(0);
    };
    sink.deliver(agent, &verdicts)?;
    store.set_forward_cursor(destination, last)?;
    Ok(verdicts.len())
}

/// What the forwarder tells its owner as it goes (the binary prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A destination failed; it is tried again after `retry_in`. Said once per outage, and
    /// again when the reason changes.
    Failing {
        /// The destination's name.
        destination: String,
        /// Why.
        error: String,
        /// When the next try is.
        retry_in: Duration,
    },
    /// A destination that was failing accepted a batch again.
    Recovered {
        /// The destination's name.
        destination: String,
    },
}

/// One destination at the end of a forwarder's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The destination's name.
    pub destination: String,
    /// Verdicts delivered during this run.
    pub delivered: u64,
    /// Stored verdicts it has not received yet (they wait in the store).
    pub pending: u64,
    /// Why its last try failed, if it did.
    pub error: Option<String>,
}

/// One destination inside the loop.
struct Lane {
    name: String,
    sink: Box<dyn Sink>,
    next_try: Instant,
    backoff: Duration,
    error: Option<String>,
    delivered: u64,
}

impl Lane {
    /// Delivers batches until caught up, failed, or `until` passes; true when caught up.
    fn run(
        &mut self,
        store: &mut Store,
        agent: &Agent,
        until: Option<Instant>,
        on: &mut dyn FnMut(Event),
    ) -> bool {
        loop {
            match deliver_next(store, agent, &self.name, self.sink.as_mut(), BATCH) {
                Ok(n) => {
                    if n > 0 && self.error.take().is_some() {
                        on(Event::Recovered {
                            destination: self.name.clone(),
                        });
                    }
                    self.backoff = FIRST_BACKOFF;
                    self.delivered += n as u64;
                    if n == 0 {
                        return true;
                    }
                    if until.is_some_and(|t| Instant::now() >= t) {
                        return false;
                    }
                }
                Err(e) => {
                    let error = e.to_string();
                    let retry_in = self.backoff;
                    if self.error.as_deref() != Some(error.as_str()) {
                        on(Event::Failing {
                            destination: self.name.clone(),
                            error: error.clone(),
                            retry_in,
                        });
                    }
                    self.error = Some(error);
                    self.next_try = Instant::now() + retry_in;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    return false;
                }
            }
        }
    }
}

/// What the owner asks of the thread.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
struct Control {
    /// Stop trying failing destinations at this time, then stop once the others are caught up.
    finish_by: Option<Instant>,
    /// Stop at `finish_by` even in the middle of catching up (a signal is waiting).
    hard: bool,
}

/// How long a stop for a signal waits past its deadline for a delivery in progress (a
/// connection attempt, a batch a server is slow to take) before leaving the thread behind.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// The delivery loop on a thread of its own.
pub struct Forwarder {
    control: Arc<(Mutex<Control>, Condvar)>,
    /// The thread's answer when it ends: where each destination stands.
    done: Option<Receiver<Result<Vec<Status>, ForwardError>>>,
    /// The store, and the destinations' names, to say where each stands when the thread does
    /// not answer in time.
    db: PathBuf,
    names: Vec<String>,
}

impl Forwarder {
    /// Starts delivering the verdicts of the store at `db` to `destinations`. Every sink is
    /// made first, so a destination no retry can fix (a bad URL, an unreadable CA file) is an
    /// error here rather than a warning later. `on` hears of failures and recoveries.
    pub fn start(
        db: PathBuf,
        destinations: &[Destination],
        on: Box<dyn FnMut(Event) + Send>,
    ) -> Result<Forwarder, ForwardError> {
        let mut lanes = Vec::new();
        for d in destinations {
            lanes.push(Lane {
                name: d.name.clone(),
                sink: d.open()?,
                next_try: Instant::now(),
                backoff: FIRST_BACKOFF,
                error: None,
                delivered: 0,
            });
        }
        let names = lanes.iter().map(|l| l.name.clone()).collect();
        let store = Store::open(&db)?;
        let agent = Agent::here(store.agent_id()?);
        let control = Arc::new((Mutex::new(Control::default()), Condvar::new()));
        let shared = control.clone();
        let (tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("forwarder".into())
            .spawn(move || {
                lower_priority();
                // The owner may have stopped listening (a stop that timed out): nothing to do.
                let _ = tx.send(run(store, agent, lanes, &shared, on));
            })
            .map_err(|e| ForwardError::delivery("forwarder", "starting its thread", e))?;
        Ok(Forwarder {
            control,
            done: Some(done),
            db,
            names,
        })
    }

    /// Delivers what every destination lacks and stops the thread: a destination that fails
    /// is retried for at most `retry_for`, one that works is caught up to the end. Says where
    /// each destination stands; what is not delivered stays in the store for the next run.
    pub fn finish(mut self, retry_for: Duration) -> Result<Vec<Status>, ForwardError> {
        self.stop(retry_for, false)
    }

    /// Like [`Forwarder::finish`], but stops after `within` even in the middle of catching
    /// up, and does not wait for a delivery in progress much longer than that (a server that
    /// does not answer): for a signal, which must be answered within seconds.
    pub fn finish_within(mut self, within: Duration) -> Result<Vec<Status>, ForwardError> {
        self.stop(within, true)
    }

    fn stop(&mut self, wait: Duration, hard: bool) -> Result<Vec<Status>, ForwardError> {
        let Some(done) = self.done.take() else {
            return Ok(Vec::new());
        };
        {
            let (lock, cv) = &*self.control;
            let mut c = lock.lock().unwrap_or_else(|p| p.into_inner());
            *c = Control {
                finish_by: Some(Instant::now() + wait),
                hard,
            };
            cv.notify_all();
        }
        let answer = if hard {
            done.recv_timeout(wait + STOP_GRACE)
                .map_err(|e| matches!(e, RecvTimeoutError::Timeout))
        } else {
            done.recv().map_err(|_| false)
        };
        match answer {
            Ok(result) => result,
            // Left behind in a delivery that did not answer: the process is about to end.
            Err(true) => self.statuses_from_store("no answer before the stop"),
            Err(false) => Err(ForwardError::delivery(
                "forwarder",
                "running",
                "its thread ended without an answer (a panic)",
            )),
        }
    }

    /// Where each destination stands, read from the store's cursors, when the thread cannot
    /// say: nothing counted as delivered in this run, `why` as each one's error.
    fn statuses_from_store(&self, why: &str) -> Result<Vec<Status>, ForwardError> {
        let store = Store::open_read_only(&self.db)?;
        self.names
            .iter()
            .map(|name| {
                Ok(Status {
                    destination: name.clone(),
                    delivered: 0,
                    pending: store.count_verdicts_after(store.forward_cursor(name)?)?,
                    error: Some(why.to_string()),
                })
            })
            .collect()
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.stop(Duration::ZERO, true);
    }
}

/// Lowers the calling thread's scheduling priority to [`NICE`]; on Linux a thread has a
/// niceness of its own. Best effort: at worst delivery competes with analysis as an equal.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take plain integers and touch only this thread's priority.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE);
    }
}

/// The thread's loop.
fn run(
    mut store: Store,
    agent: Agent,
    mut lanes: Vec<Lane>,
    control: &(Mutex<Control>, Condvar),
    mut on: Box<dyn FnMut(Event) + Send>,
) -> Result<Vec<Status>, ForwardError> {
    loop {
        let asked = *control.0.lock().unwrap_or_else(|p| p.into_inner());
        let past = |t: Instant| asked.finish_by.is_some_and(|by| t >= by);
        let hard_until = asked.finish_by.filter(|_| asked.hard);
        let mut caught_up = true;
        for lane in &mut lanes {
            let now = Instant::now();
            if past(now) && (asked.hard || lane.error.is_some()) {
                // Given up for this run: its verdicts wait in the store.
                continue;
            }
            if now >= lane.next_try {
                caught_up &= lane.run(&mut store, &agent, hard_until, on.as_mut());
            } else {
                caught_up = false;
            }
        }
        let now = Instant::now();
        let working = lanes
            .iter()
            .any(|l| l.error.is_none() && !(asked.hard && past(now)));
        if asked.finish_by.is_some() && (caught_up || (past(now) && !working)) {
            break;
        }
        // Sleep until the next poll, the next retry or the deadline, whichever is first; a
        // call to finish wakes it at once.
        let mut until = now + POLL;
        for lane in lanes.iter().filter(|l| l.next_try > now) {
            until = until.min(lane.next_try);
        }
        if let Some(by) = asked.finish_by.filter(|by| *by > now) {
            until = until.min(by);
        }
        let (lock, cv) = control;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        if *guard == asked {
            let _ = cv.wait_timeout(guard, until.saturating_duration_since(now));
        }
    }
    lanes
        .iter()
        .map(|lane| {
            Ok(Status {
                destination: lane.name.clone(),
                delivered: lane.delivered,
                pending: store.count_verdicts_after(store.forward_cursor(&lane.name)?)?,
                error: lane.error.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::NewVerdict;

    fn one_verdict_store(dir: &std::path::Path) -> PathBuf {
        let db = dir.join("v.db");
        let mut store = Store::open(&db).expect("store");
        let v = NewVerdict {
            created_at: 1_764_235_000,
            first_time: None,
            last_time: None,
            source: "auth.log".into(),
            entity: None,
            records: 1,
            signature: "s".into(),
            cached_from: None,
            threat_type: "No Threat Detected".into(),
            category: "No Threat Detected".into(),
            technique: "N/A".into(),
            tactic: "N/A".into(),
            severity: "LOW".into(),
            risk_score: 5,
            evidence: "e".into(),
            impact: "i".into(),
            recommendation: "r".into(),
            secondary: None,
            input: "x".into(),
        };
        store.commit_window(&v, &[], &[]).expect("commit");
        db
    }

    #[test]
    fn a_stop_for_a_signal_does_not_wait_for_a_server_that_never_answers() {
        // A server that takes the connection and never says a word: the PostgreSQL client
        // waits for its greeting far longer than a stop may take.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        let port = listener.local_addr().expect("address").port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for c in listener.incoming().flatten() {
                held.push(c);
            }
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let db = one_verdict_store(dir.path());
        let url = format!("postgres://u@127.0.0.1:{port}/fleet");
        let dest = Destination::parse(&url, &Default::default()).expect("destination");
        let f = Forwarder::start(db, &[dest], Box::new(|_| {})).expect("forwarder");
        std::thread::sleep(Duration::from_millis(300));
        let asked = Instant::now();
        let statuses = f
            .finish_within(Duration::from_millis(200))
            .expect("statuses");
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!(statuses.len(), 1);
        assert_eq!(statuses[0].pending, 1, "the verdict waits in the store");
        assert!(statuses[0].error.is_some());
    }
}
