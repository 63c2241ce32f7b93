//! `opensoc scan`: one pass over what the logs gained since the last run, for cron.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use opensoc::analyze::analyzer::Analyzer;
use opensoc::task::verdict::Severity;
use opensoc_edge::ingest::{Ingest, IngestStats, SCAN_CHUNK_LINES};
use opensoc_edge::store::sqlite::StoredVerdict;
use serde_json::json;

use crate::commands::agent::{print_findings, stop_flag, AgentArgs, ModelJudge};
use crate::commands::loaded_model::LoadedModel;
use crate::Global;
use opensoc_edge::store::export::{severity_of, verdict_json};

/// Findings listed at the end of a scan, at most; the rest are counted, and `opensoc verdicts`
/// lists them all. Keeping every stored verdict for this list until the end would make a
/// scan's memory grow with its log (a gzip of one access line repeated: 307 → 535 MB in 120 s).
pub const MAX_LISTED_FINDINGS: usize = 100;

/// How long forwarding may go on after a signal: the stop must come within seconds.
pub const FORWARD_ON_SIGNAL: Duration = Duration::from_secs(2);

/// The findings a scan lists at its end: at most `cap`, the most severe first kept, listed in
/// the order they were stored, with a count of those left out.
#[derive(Debug)]
pub struct Listed<T> {
    cap: usize,
    /// (order stored, severity, finding).
    kept: Vec<(u64, Severity, T)>,
    seen: u64,
    left_out: u64,
}

impl<T> Listed<T> {
    /// An empty list that keeps at most `cap` findings.
    pub fn new(cap: usize) -> Self {
        Listed {
            cap,
            kept: Vec::new(),
            seen: 0,
            left_out: 0,
        }
    }

    /// Takes a finding; when the list is full, it replaces the latest of the least severe kept
    /// if it is more severe than that one (a CRITICAL after a hundred MEDIUMs is listed), and
    /// is counted as left out otherwise.
    pub fn push(&mut self, severity: Severity, finding: T) {
        let order = self.seen;
        self.seen += 1;
        if self.kept.len() < self.cap {
            self.kept.push((order, severity, finding));
            return;
        }
        self.left_out += 1;
        let weakest = self
            .kept
            .iter()
            .enumerate()
            .min_by_key(|(_, (o, s, _))| (*s, std::cmp::Reverse(*o)))
            .map(|(i, (_, s, _))| (i, *s));
        if let Some((i, s)) = weakest {
            if severity > s {
                // Kept in stored order: the newcomer is the latest stored.
                self.kept.remove(i);
                self.kept.push((order, severity, finding));
            }
        }
    }

    /// The findings kept, in the order they were stored.
    pub fn kept(&self) -> impl Iterator<Item = &T> {
        self.kept.iter().map(|(_, _, f)| f)
    }

    /// Findings taken but not kept.
    pub fn left_out(&self) -> u64 {
        self.left_out
    }

    /// Findings taken in all.
    pub fn total(&self) -> u64 {
        self.seen
    }
}

/// Arguments of `opensoc scan`.
#[derive(Debug, Args)]
#[command(
    after_help = "Reads each file from where the last scan stopped (files that rotated \
                        since are found by inode and content fingerprint), groups lines into \
                        windows per entity, and stores one verdict per window in the database.\n\n\
                        Exit status: 0 no finding at or above --min-severity, 1 findings, 2 error \
                        (also when a path was missing or unreadable: the others are still read and stored).\n\n\
                        The systemd journal: `opensoc scan --journal` (every unit; `--journal sshd \
                        nginx` for some) runs journalctl and goes on after the last entry stored; \
                        `--journal-dir DIR` reads another machine's journal files. A one-off look \
                        without a cursor: `journalctl -o export --since today | opensoc scan -`.\n\n\
                        Cron, every 10 minutes:\n  \
                        */10 * * * * opensoc scan -q --db /var/lib/opensoc/verdicts.db /var/log/auth.log /var/log/nginx/access.log"
)]
pub struct ScanArgs {
    #[command(flatten)]
    agent: AgentArgs,
    /// Print nothing unless there are findings (cron mails whatever a job prints); warnings
    /// and errors still go to stderr, and the exit status is the same. No effect on --json.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Also list the windows below --min-severity (every verdict this scan stored, up to 100,
    /// "No Threat Detected" included; benign windows counted on their template's verdict are
    /// only counted); the exit status still counts only findings.
    #[arg(short, long)]
    verbose: bool,
    /// Seconds a scan keeps retrying a --forward destination that fails, at its end; a
    /// destination that works is always caught up. What is left is delivered by the next
    /// scan or `opensoc forward`.
    #[arg(long, default_value_t = 10, value_name = "S", help_heading = crate::commands::forward::HEADING)]
    forward_wait: u64,
}

/// Runs one scan and prints its summary.
pub fn run(args: ScanArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let a = &args.agent;
    let config = a.ingest_config()?;
    let journal = a.journal_query(false)?;
    let opts = a.mode.options()?;
    // Destinations are checked before the model loads: a typo fails in a second.
    a.forward.destinations()?;
    let (_lock, store) = a.open_store()?;
    // Delivery runs beside the scan, on its own connection: analysis never waits for it.
    let forwarder = a.forward.start(store.path().to_path_buf())?;
    let lm = LoadedModel::load(global)?;
    let analyzer = Analyzer::new(&lm.model, &lm.tokenizer, opts)?;
    let mut ingest = Ingest::new(store, ModelJudge { analyzer }, config);

    let stop = stop_flag()?;
    ingest.set_stop(stop.clone());

    let (stdin, files): (Vec<PathBuf>, Vec<PathBuf>) =
        a.paths.iter().cloned().partition(|p| p.as_os_str() == "-");
    if stdin.len() > 1 {
        anyhow::bail!("`-` (stdin) given more than once");
    }
    ingest.refresh(&files)?;
    if let Some(query) = &journal {
        ingest.add_journal(query, None)?;
    }
    if !stdin.is_empty() {
        // journalctl's JSON or export output is converted to syslog lines; text stays text.
        let stdin = opensoc_edge::tail::journal::text_or_journal(Box::new(std::io::stdin()));
        ingest.add_stream("-", stdin)?;
    }
    let started = std::time::Instant::now();
    let backlog = ingest.lag_bytes();
    let bar = progress_bar(backlog);
    // Only the findings to list are kept: the store holds every verdict.
    let mut findings = Listed::new(MAX_LISTED_FINDINGS);
    // With --verbose, the windows below the threshold too.
    let mut below = Listed::new(if args.verbose { MAX_LISTED_FINDINGS } else { 0 });
    let mut keep = |stored: Vec<StoredVerdict>| {
        for v in stored {
            let s = severity_of(&v);
            if s >= a.min_severity {
                findings.push(s, v);
            } else if args.verbose {
                below.push(s, v);
            }
        }
    };
    let mut interrupted = false;
    loop {
        let n = ingest.pump(Some(SCAN_CHUNK_LINES))?;
        ingest.close_idle_by_log_time()?;
        bar.set_position(ingest.stats().bytes);
        keep(ingest.take_stored());
        if stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        if n == 0 {
            break;
        }
    }
    if !interrupted {
        // A scan closes its windows: cron's next run starts fresh ones.
        ingest.flush()?;
        keep(ingest.take_stored());
        // A signal during the flush leaves windows for the next run, like one during reading.
        interrupted = ingest.stopping();
    }
    if interrupted {
        // The open windows' lines wait in the database for the next run.
        ingest.suspend()?;
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let skipped_dirs = ingest.take_skipped_dirs();
    if !args.quiet {
        crate::commands::agent::note_skipped_dirs(&skipped_dirs);
    }
    let problems = ingest.take_problems();
    crate::commands::agent::warn_problems(&problems);
    // The scan's verdicts are all stored: give the destinations their chance to take them.
    let forwarded = match forwarder {
        Some(f) if interrupted => f.finish_within(FORWARD_ON_SIGNAL)?,
        Some(f) => f.finish(Duration::from_secs(args.forward_wait))?,
        None => Vec::new(),
    };
    crate::commands::forward::say_statuses(&forwarded, args.quiet || a.json);

    let stats = ingest.stats().clone();
    let mut out = std::io::stdout().lock();
    let listed = in_log_time(&findings);
    if a.json {
        let summary = json!({
            "db": a.db_path(),
            "files": stats.files,
            "lines": stats.lines,
            "bytes": stats.bytes,
            "skipped_lines": stats.skipped_lines,
            "windows": stats.windows,
            "model_calls": stats.model_calls,
            "cache_hits": stats.cache_hits,
            "record_hits": stats.record_hits,
            "batches": stats.batches,
            "benign_copies": stats.copies,
            "by_severity": severity_counts(&stats),
            "records_by_format": stats.records_by_format,
            "min_severity": a.min_severity.as_str(),
            "findings": listed.iter().map(verdict_json).collect::<Vec<_>>(),
            "findings_total": findings.total(),
            "findings_not_listed": findings.left_out(),
            "problems": problems.iter().map(|p| json!({"path": p.path, "message": p.message})).collect::<Vec<_>>(),
            "skipped_directories": skipped_dirs,
            "forwarded": crate::commands::forward::statuses_json(&forwarded),
            "interrupted": interrupted,
            "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
            "lines_per_s": (stats.lines as f64 / elapsed.max(1e-3)).round(),
        });
        writeln!(out, "{summary}")?;
    } else if args.quiet && findings.total() == 0 && !interrupted {
        // Nothing to say: cron mails nothing.
    } else {
        if !args.quiet {
            write_totals(&mut out, &stats, elapsed)?;
        }
        if below.total() > 0 {
            let rest = in_log_time(&below);
            writeln!(out, "windows below {}:", a.min_severity)?;
            print_findings(&mut out, &rest, Severity::Low, false)?;
            if below.left_out() > 0 {
                writeln!(out, "... and {} more", below.left_out())?;
            }
        }
        if findings.total() == 0 {
            writeln!(out, "no findings at or above {}", a.min_severity)?;
        } else {
            writeln!(out, "findings at or above {}:", a.min_severity)?;
            print_findings(&mut out, &listed, a.min_severity, false)?;
            if findings.left_out() > 0 {
                writeln!(
                    out,
                    "... and {} more (the {} most severe are listed)",
                    findings.left_out(),
                    MAX_LISTED_FINDINGS
                )?;
            }
            writeln!(
                out,
                "details: opensoc verdicts --db {db} --min-severity {}; one in full: \
                 opensoc verdicts inspect ID --db {db} (ID: the number after #)",
                a.min_severity,
                db = a.db_path().display(),
            )?;
        }
        if interrupted {
            writeln!(
                out,
                "interrupted: the next scan resumes where this one stopped"
            )?;
        }
    }
    if interrupted {
        return Ok(ExitCode::from(130));
    }
    if !problems.is_empty() {
        // A path cron cannot read must not pass for a clean system.
        eprintln!(
            "error: {} path{} could not be read (warnings above); what could be read is stored",
            problems.len(),
            plural(problems.len() as u64)
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if findings.total() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The verdicts of `l` in log time, as a reader follows an incident; files are read one after
/// another, so the order they were stored in jumps back in time at each new file.
fn in_log_time(l: &Listed<StoredVerdict>) -> Vec<StoredVerdict> {
    let mut v: Vec<StoredVerdict> = l.kept().cloned().collect();
    v.sort_by_key(|v| (v.verdict.first_time.unwrap_or(v.verdict.created_at), v.id));
    v
}

/// The scan's totals: files, lines, windows, model calls, the time it took and the verdicts
/// by severity.
fn write_totals(out: &mut impl Write, stats: &IngestStats, elapsed: f64) -> std::io::Result<()> {
    writeln!(
        out,
        "scanned {} file{}: {} new lines, {} windows ({} analysed, {} from the template cache) \
         in {}",
        stats.files,
        plural(stats.files as u64),
        stats.lines,
        stats.windows,
        stats.model_calls,
        stats.cache_hits,
        duration_and_rate(elapsed, stats.lines)
    )?;
    if stats.copies > 0 {
        writeln!(
            out,
            "{} benign window{} from the template cache counted on {} template's verdict, not \
             stored one by one (`opensoc report` counts them)",
            stats.copies,
            plural(stats.copies),
            if stats.copies == 1 { "its" } else { "their" }
        )?;
    }
    if stats.skipped_lines > 0 {
        writeln!(
            out,
            "skipped {} lines already stored by an earlier, interrupted run",
            stats.skipped_lines
        )?;
    }
    if !stats.records_by_format.is_empty() {
        writeln!(out, "records by layout: {}", layout_counts(stats))?;
    }
    let counts: Vec<String> = Severity::ALL
        .iter()
        .zip(stats.by_severity)
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    writeln!(out, "verdicts by severity: {}", counts.join(", "))
}

/// `syslog 1,200, access 800, plain (no known layout) 3`: the records of each layout read,
/// most first, so that a log opensoc cannot parse shows as `plain`.
fn layout_counts(stats: &IngestStats) -> String {
    let mut counts: Vec<(&str, u64)> = stats
        .records_by_format
        .iter()
        .map(|(k, n)| (*k, *n))
        .collect();
    counts.sort_by_key(|(k, n)| (std::cmp::Reverse(*n), *k));
    counts
        .iter()
        .map(|(k, n)| {
            let name = if *k == "plain" {
                "plain (no known layout)"
            } else {
                k
            };
            format!("{name} {}", opensoc::util::thousands::grouped(*n))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `4.2 s (1,234 lines/s)`: the rate only when there was something to read.
fn duration_and_rate(elapsed: f64, lines: u64) -> String {
    let took = if elapsed < 60.0 {
        format!("{elapsed:.1} s")
    } else {
        format!(
            "{} min {:02} s",
            (elapsed / 60.0) as u64,
            (elapsed % 60.0) as u64
        )
    };
    if lines == 0 || elapsed <= 0.0 {
        return took;
    }
    let rate = (lines as f64 / elapsed).round() as u64;
    format!(
        "{took} ({} lines/s)",
        opensoc::util::thousands::grouped(rate)
    )
}

fn severity_counts(stats: &IngestStats) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (s, n) in Severity::ALL.iter().zip(stats.by_severity) {
        m.insert(s.as_str().to_string(), n.into());
    }
    m.into()
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A byte progress bar on a terminal, hidden otherwise (cron mails stay clean).
fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() || total < 1 << 20 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_how_long_and_how_fast() {
        assert_eq!(duration_and_rate(4.25, 0), "4.2 s");
        assert_eq!(duration_and_rate(2.0, 5_000), "2.0 s (2,500 lines/s)");
        assert_eq!(duration_and_rate(185.0, 370), "3 min 05 s (2 lines/s)");
    }

    #[test]
    fn the_listed_findings_never_exceed_the_cap_and_the_rest_are_counted() {
        let mut l = Listed::new(3);
        let sev = [
            Severity::Medium,
            Severity::High,
            Severity::Medium,
            Severity::Medium,
            Severity::Critical,
            Severity::Low,
            Severity::High,
        ];
        for (i, s) in sev.into_iter().enumerate() {
            l.push(s, i);
            assert!(l.kept().count() <= 3);
            assert_eq!(l.kept().count() as u64 + l.left_out(), i as u64 + 1);
        }
        assert_eq!(l.total(), 7);
        assert_eq!(l.left_out(), 4);
        // The three most severe, in stored order; of equal severity, the earlier stays.
        assert_eq!(l.kept().copied().collect::<Vec<_>>(), vec![1, 4, 6]);

        let mut many = Listed::new(MAX_LISTED_FINDINGS);
        for i in 0..100_000u32 {
            many.push(Severity::High, i);
        }
        assert_eq!(many.kept().count(), MAX_LISTED_FINDINGS);
        assert_eq!(many.left_out(), 100_000 - MAX_LISTED_FINDINGS as u64);
        assert_eq!(many.kept().next(), Some(&0));
    }
}
