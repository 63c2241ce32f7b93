//! `opensoc watch`: follows files and directories until SIGINT/SIGTERM.
//!
//! inotify (through notify) wakes the loop when a watched directory changes; a poll every
//! `--poll-secs` catches what events miss (network file systems, an exhausted inotify limit).
//! The files themselves are the queue: when the model is slower than the log, reading pauses
//! while windows are analysed, the unread bytes are counted and reported as lag, and reading
//! catches up afterwards. Live files stay open between reads (up to
//! [`opensoc_edge::ingest::MAX_OPEN_READERS`]), so a live file rotated away or deleted is read
//! to its end through its descriptor; files read to their end beyond that are closed and
//! opened again by device and inode when a refresh finds them grown.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;
use notify::{RecursiveMode, Watcher};
use opensoc::analyze::analyzer::Analyzer;
use opensoc::analyze::floors::FloorConfig;
use opensoc_edge::ingest::Ingest;
use serde_json::json;

use crate::commands::agent::{print_findings, stop_flag, AgentArgs, ModelJudge};
use crate::commands::loaded_model::LoadedModel;
use crate::Global;

/// Lines read between two looks at the lag and the findings (the pipeline looks at the stop
/// flag itself, before each model call).
const CHUNK_LINES: usize = 500;

/// How often the lag is reported while the reader is behind.
const LAG_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Arguments of `opensoc watch`.
#[derive(Debug, Args)]
#[command(
    after_help = "Findings at or above --min-severity are printed as they are stored \
                        (one JSON object a line with --json); every verdict goes to the \
                        database. SIGINT/SIGTERM finish the window being analysed, keep the lines \
                        of the windows still open in the database, write the checkpoints and exit \
                        0; the next scan or watch judges those lines first and resumes there.\n\n\
                        The systemd journal: `opensoc watch --journal` (or `--journal sshd nginx`, \
                        `--journal-dir DIR`) follows journalctl from the last entry stored.\n\n\
                        A systemd unit: scripts/opensoc-watch.service"
)]
pub struct WatchArgs {
    #[command(flatten)]
    agent: AgentArgs,
    /// Seconds between two looks at the files when no event arrives.
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    poll_secs: f64,
    /// Poll only; no inotify.
    #[arg(long)]
    poll_only: bool,
    /// Seconds of quiet after which a window that already holds enough failed logins or
    /// refusals to set a floor (--floor-failures, --floor-denials) is judged, rather than
    /// after the whole --idle-secs: a burst of guesses is reported within seconds.
    #[arg(long, default_value_t = 5, value_name = "S")]
    alert_after: u64,
}

/// Follows the paths until a signal.
pub fn run(args: WatchArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let a = &args.agent;
    if !(args.poll_secs > 0.0 && args.poll_secs <= 3600.0) {
        anyhow::bail!("--poll-secs must be between 0 and 3600");
    }
    if a.paths.iter().any(|p| p.as_os_str() == "-") {
        anyhow::bail!("watch follows files; for stdin use `opensoc scan -`");
    }
    let config = a.ingest_config()?;
    let journal = a.journal_query(true)?;
    let idle = Duration::from_secs(config.window.idle_secs as u64);
    let alert_after = Duration::from_secs(args.alert_after);
    let opts = a.mode.options()?;
    // The least count of failures or refusals that sets a floor (5 each by default).
    let alert_events = [opts.floors.failures, opts.floors.denials]
        .into_iter()
        .filter(|n| *n > 0)
        .min()
        .unwrap_or(FloorConfig::default().failures);
    a.forward.destinations()?;
    let (_lock, store) = a.open_store()?;
    // Delivery runs beside the pipeline, on its own connection: analysis never waits for it.
    let forwarder = a.forward.start(store.path().to_path_buf())?;
    let lm = LoadedModel::load(global)?;
    let analyzer = Analyzer::new(&lm.model, &lm.tokenizer, opts)?;
    let mut ingest = Ingest::new(store, ModelJudge { analyzer }, config);

    let stop = stop_flag()?;
    ingest.set_stop(stop.clone());

    let (tx, rx) = mpsc::channel();
    if let Some(query) = &journal {
        // New entries wake the loop as a file event would.
        let wake = tx.clone();
        let wake = move || {
            let _ = wake.send(Ok(notify::Event::new(notify::EventKind::Any)));
        };
        ingest.add_journal(query, Some(Box::new(wake)))?;
    }
    let _watcher = if args.poll_only {
        None
    } else {
        match start_watcher(&a.paths, tx) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!(
                    "warning: no file events ({e}); polling every {} s",
                    args.poll_secs
                );
                None
            }
        }
    };
    eprintln!(
        "watching {} path{}{} into {} (Ctrl-C to stop)",
        a.paths.len(),
        if a.paths.len() == 1 { "" } else { "s" },
        journal
            .as_ref()
            .map_or_else(String::new, |q| format!(" and {}", q.name())),
        a.db_path().display()
    );

    let poll = Duration::from_secs_f64(args.poll_secs);
    let mut last_line = Instant::now();
    let mut last_lag_report: Option<Instant> = None;
    let mut max_lag = 0u64;
    let mut out = std::io::stdout().lock();
    while !stop.load(Ordering::SeqCst) {
        ingest.refresh(&a.paths)?;
        crate::commands::agent::note_skipped_dirs(&ingest.take_skipped_dirs());
        crate::commands::agent::warn_problems(&ingest.take_problems());
        while !stop.load(Ordering::SeqCst) {
            let n = ingest.pump(Some(CHUNK_LINES))?;
            ingest.close_idle_by_log_time()?;
            print_findings(&mut out, &ingest.take_stored(), a.min_severity, a.json)?;
            out.flush()?;
            if n == 0 {
                break;
            }
            last_line = Instant::now();
            let lag = ingest.lag_bytes();
            max_lag = max_lag.max(lag);
            if lag > 0 && last_lag_report.is_none_or(|t| t.elapsed() >= LAG_REPORT_EVERY) {
                eprintln!(
                    "lag: {lag} bytes not read yet (the model is slower than the log); catching up"
                );
                last_lag_report = Some(Instant::now());
            }
        }
        if last_line.elapsed() >= alert_after && ingest.has_open() {
            ingest.close_alerting(alert_events)?;
            print_findings(&mut out, &ingest.take_stored(), a.min_severity, a.json)?;
            out.flush()?;
        }
        if last_line.elapsed() >= idle && ingest.has_open() {
            // Quiet for the idle time: close what is open rather than hold it indefinitely.
            ingest.flush()?;
            print_findings(&mut out, &ingest.take_stored(), a.min_severity, a.json)?;
            out.flush()?;
        }
        wait_for_change(&rx, poll, &stop);
    }
    // What is read but still in open windows is kept in the store for the next run.
    ingest.suspend()?;
    // A signal stopped us: destinations get a moment, then wait in the store for the next run.
    let forwarded = match forwarder {
        Some(f) => f.finish_within(crate::commands::scan::FORWARD_ON_SIGNAL)?,
        None => Vec::new(),
    };
    crate::commands::forward::say_statuses(&forwarded, a.json);

    let s = ingest.stats();
    let summary = json!({
        "stopped": true,
        "files": s.files,
        "lines": s.lines,
        "windows": s.windows,
        "model_calls": s.model_calls,
        "cache_hits": s.cache_hits,
        "record_hits": s.record_hits,
        "batches": s.batches,
        "benign_copies": s.copies,
        "max_lag_bytes": max_lag,
        "open_lines_left_for_next_run": ingest.lag_bytes(),
        "forwarded": crate::commands::forward::statuses_json(&forwarded),
    });
    if a.json {
        writeln!(out, "{summary}")?;
    } else {
        eprintln!(
            "stopped: {} lines, {} windows stored ({} analysed, {} cached), largest lag {} bytes; \
             checkpoints written",
            s.lines, s.windows, s.model_calls, s.cache_hits, max_lag
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// How often a wait for file events looks at the stop flag: `--poll-secs` may be an hour.
const STOP_LOOK_EVERY: Duration = Duration::from_millis(200);

/// Waits for a file event or the poll, whichever comes first, and drains the burst an event
/// brings; returns early when the stop flag is set.
fn wait_for_change(
    rx: &mpsc::Receiver<notify::Result<notify::Event>>,
    poll: Duration,
    stop: &AtomicBool,
) {
    let deadline = Instant::now() + poll;
    while !stop.load(Ordering::SeqCst) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match rx.recv_timeout(left.min(STOP_LOOK_EVERY)) {
            Ok(_) => {
                while rx.try_recv().is_ok() {}
                return;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // No watcher (polling only, or it failed to start): a disconnected channel answers
            // at once, and the loop must not spin.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(left.min(STOP_LOOK_EVERY))
            }
        }
    }
}

/// Watches the directory of every path (not the files: rotation replaces them).
fn start_watcher(
    paths: &[PathBuf],
    tx: mpsc::Sender<notify::Result<notify::Event>>,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(tx)?;
    for p in paths {
        let dir = watch_dir(p);
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    }
    Ok(watcher)
}

/// The directory to watch for a path: itself when a directory, else the parent of its first
/// component without glob characters.
fn watch_dir(p: &Path) -> PathBuf {
    if p.is_dir() {
        return p.to_path_buf();
    }
    let mut dir = PathBuf::new();
    for c in p.components() {
        let s = c.as_os_str().to_string_lossy();
        if s.contains(['*', '?', '[']) {
            break;
        }
        dir.push(c);
    }
    if dir == p {
        dir.pop();
    }
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watched_directory_is_the_parent_or_the_part_before_a_glob() {
        assert_eq!(
            watch_dir(Path::new("/var/log/auth.log")),
            PathBuf::from("/var/log")
        );
        assert_eq!(
            watch_dir(Path::new("/var/log/nginx/*.log")),
            PathBuf::from("/var/log/nginx")
        );
        assert_eq!(watch_dir(Path::new("auth.log")), PathBuf::from("."));
        assert_eq!(watch_dir(Path::new("/tmp")), PathBuf::from("/tmp"));
    }
}
