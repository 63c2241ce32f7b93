//! PostgreSQL sink: the fleet table ([`crate::store::fleet`]), written idempotently, so a
//! batch delivered again (after a crash, a cut connection, a commit whose answer was lost)
//! leaves exactly one row per verdict.
//!
//! The connection is made on the first delivery and kept; the fleet tables are created or
//! upgraded once per connection; any error drops the connection and the next try makes a
//! new one. The client is the synchronous one, which has no deadline of its own: it runs on
//! a thread of the sink's, and a batch that has no answer in [`DEADLINE`] (a server that
//! stopped answering on a connection that stays open, which no socket timeout sees) is
//! given up with its thread, so that the forwarder never hangs on a destination.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use crate::forward::{Agent, ForwardError, Sink};
use crate::store::fleet::{self, FleetStore};
use crate::store::sqlite::StoredVerdict;

/// The longest one batch may take, connecting included: the connect timeout, plus the
/// server's statement timeout, with room for a slow link.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// The PostgreSQL sink.
pub struct PostgresSink {
    name: String,
    url: String,
    config: postgres::Config,
    worker: Option<Worker>,
    /// [`DEADLINE`]; shorter in the tests.
    deadline: Duration,
}

/// A batch for the worker thread.
struct Job {
    agent: Agent,
    batch: Vec<StoredVerdict>,
}

/// The thread that holds the connection.
struct Worker {
    jobs: SyncSender<Job>,
    done: Receiver<Result<(), ForwardError>>,
}

impl PostgresSink {
    /// A sink for the database at `url`; connects on its first delivery. A URL PostgreSQL
    /// cannot take is an error now.
    pub fn new(name: &str, url: &str) -> Result<PostgresSink, ForwardError> {
        let config = fleet::config(url).map_err(|e| ForwardError::BadDestination {
            url: fleet::shown_url(url),
            why: match e {
                fleet::FleetError::BadUrl { why, .. } => why,
                other => other.to_string(),
            },
        })?;
        Ok(PostgresSink {
            name: name.to_string(),
            url: url.to_string(),
            config,
            worker: None,
            deadline: DEADLINE,
        })
    }

    fn spawn(&self) -> Result<Worker, ForwardError> {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(0);
        let (done_tx, done) = mpsc::sync_channel(1);
        let (name, url, config) = (self.name.clone(), self.url.clone(), self.config.clone());
        std::thread::Builder::new()
            .name("forward-postgres".into())
            .spawn(move || {
                let mut store: Option<FleetStore> = None;
                // Ends when the sink drops its end: after a deadline passed, or with the sink.
                for job in job_rx {
                    let result = deliver_on(&mut store, &config, &url, &job);
                    if result.is_err() {
                        // A connection that failed once is not trusted again.
                        store = None;
                    }
                    let result = result.map_err(|Failure(what, e)| failure(&name, what, e));
                    if done_tx.send(result).is_err() {
                        break;
                    }
                }
            })
            .map(|_| Worker { jobs, done })
            .map_err(|e| ForwardError::delivery(&self.name, "starting its thread", e))
    }
}

/// What failed on the worker and why.
struct Failure(&'static str, fleet::FleetError);

/// The forwarder's error for `e`: what failed and the whole chain of causes on one line
/// (the forwarder shows an error's text, not its sources), without the URL again (the
/// destination's name says it).
fn failure(name: &str, what: &'static str, e: fleet::FleetError) -> ForwardError {
    let (what, text) = match &e {
        fleet::FleetError::Connect { source, .. } => ("connecting", causes(source)),
        fleet::FleetError::Postgres { what, source, .. } => (*what, causes(source)),
        other => (what, other.to_string()),
    };
    ForwardError::delivery(name, what, text)
}

/// An error and its sources, joined by ": ", each said once.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        next = cause.source();
    }
    line
}

/// Connects (and migrates) when not connected, then writes the job's batch.
fn deliver_on(
    store: &mut Option<FleetStore>,
    config: &postgres::Config,
    url: &str,
    job: &Job,
) -> Result<(), Failure> {
    let connected = match store {
        Some(s) => s,
        None => {
            store.insert(FleetStore::open_with(config, url).map_err(|e| Failure("connecting", e))?)
        }
    };
    connected
        .insert(&job.agent, &job.batch)
        .map(|_| ())
        .map_err(|e| Failure("writing", e))
}

impl Sink for PostgresSink {
    fn deliver(&mut self, agent: &Agent, batch: &[StoredVerdict]) -> Result<(), ForwardError> {
        if batch.is_empty() {
            return Ok(());
        }
        let worker = match &self.worker {
            Some(w) => w,
            None => self.worker.insert(self.spawn()?),
        };
        let job = Job {
            agent: agent.clone(),
            batch: batch.to_vec(),
        };
        if worker.jobs.send(job).is_err() {
            self.worker = None;
            return Err(ForwardError::delivery(
                &self.name,
                "sending",
                "its thread stopped",
            ));
        }
        match worker.done.recv_timeout(self.deadline) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                // The thread is left to its blocked call; it ends when the call does, and a
                // batch it commits meanwhile is one the next delivery finds already there.
                self.worker = None;
                Err(ForwardError::delivery(
                    &self.name,
                    "waiting for the server",
                    format!("no answer in {} s", self.deadline.as_secs()),
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.worker = None;
                Err(ForwardError::delivery(
                    &self.name,
                    "writing",
                    "its thread stopped",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_refused_at_once_without_its_password() {
        let err = PostgresSink::new("x", "postgres://u:hunter2@h:99999/db")
            .err()
            .expect("a bad port is refused");
        let text = err.to_string();
        assert!(matches!(err, ForwardError::BadDestination { .. }), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(PostgresSink::new("x", "postgres://u@127.0.0.1:5432/db").is_ok());
    }

    #[test]
    fn a_server_that_is_down_is_a_delivery_error() {
        // Port 1 on the loopback: nothing listens there, the connection is refused at once.
        let mut sink = PostgresSink::new("pg", "postgres://u@127.0.0.1:1/db").expect("sink");
        let agent = Agent::here("a".into());
        let err = sink.deliver(&agent, &[verdict()]).unwrap_err();
        assert!(matches!(err, ForwardError::Delivery { .. }), "{err}");
        assert!(err.to_string().contains("Connection refused"), "{err}");
    }

    fn verdict() -> StoredVerdict {
        crate::store::sqlite::NewVerdict {
            created_at: 1,
            first_time: None,
            last_time: None,
            source: "s".into(),
            entity: None,
            records: 1,
            signature: "x".into(),
            cached_from: None,
            threat_type: "t".into(),
            category: "c".into(),
            technique: "T".into(),
            tactic: "t".into(),
            severity: "LOW".into(),
            risk_score: 1,
            evidence: "e".into(),
            impact: "i".into(),
            recommendation: "r".into(),
            secondary: None,
            input: "in".into(),
        }
        .stored_as(1)
    }

    #[test]
    fn a_server_that_never_answers_fails_the_batch_at_the_deadline() {
        // Takes the connection and says nothing, as a stopped (SIGSTOP) server does: no
        // socket timeout fires, the deadline does.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
        let mut sink =
            PostgresSink::new("pg", &format!("postgres://u@127.0.0.1:{port}/db")).expect("sink");
        sink.deadline = Duration::from_secs(1);
        let started = std::time::Instant::now();
        let err = sink
            .deliver(&Agent::here("a".into()), &[verdict()])
            .unwrap_err();
        assert!(err.to_string().contains("no answer in 1 s"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        drop(held);
    }
}
