//! `opensoc scan`: one pass over what the logs gained since the last run, for cron.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use opensoc::analyzer::Analyzer;
use opensoc::verdict::Severity;
use opensoc_edge::ingest::{Ingest, IngestStats};
use serde_json::json;

use crate::agent_cmd::{print_findings, severity_of, stop_flag, AgentArgs, ModelJudge};
use crate::loaded_model::LoadedModel;
use crate::Global;

/// Lines read between two looks at Ctrl-C and the progress bar.
const CHUNK_LINES: usize = 2_000;

/// Arguments of `opensoc scan`.
#[derive(Debug, Args)]
#[command(
    after_help = "Reads each file from where the last scan stopped (files that rotated \
                        since are found by inode and content fingerprint), groups lines into \
                        windows per entity, and stores one verdict per window in the database.\n\n\
                        Exit status: 0 no finding at or above --min-severity, 1 findings, 2 error \
                        (also when a path was missing or unreadable: the others are still read and stored).\n\n\
                        Cron, every 10 minutes:\n  \
                        */10 * * * * opensoc scan --db /var/lib/opensoc/verdicts.db /var/log/auth.log /var/log/nginx/access.log"
)]
pub struct ScanArgs {
    #[command(flatten)]
    agent: AgentArgs,
}

/// Runs one scan and prints its summary.
pub fn run(args: ScanArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let a = &args.agent;
    let config = a.ingest_config()?;
    let opts = a.mode.options()?;
    let (_lock, store) = a.open_store()?;
    let lm = LoadedModel::load(global)?;
    let analyzer = Analyzer::new(&lm.model, &lm.tokenizer, opts)?;
    let mut ingest = Ingest::new(store, ModelJudge { analyzer }, config);

    let stop = stop_flag()?;

    let (stdin, files): (Vec<PathBuf>, Vec<PathBuf>) =
        a.paths.iter().cloned().partition(|p| p.as_os_str() == "-");
    if stdin.len() > 1 {
        anyhow::bail!("`-` (stdin) given more than once");
    }
    ingest.refresh(&files)?;
    if !stdin.is_empty() {
        ingest.add_stream("-", Box::new(std::io::stdin()))?;
    }
    let backlog = ingest.lag_bytes();
    let bar = progress_bar(backlog);
    let mut verdicts = Vec::new();
    let mut interrupted = false;
    loop {
        let n = ingest.pump(Some(CHUNK_LINES))?;
        ingest.close_idle_by_log_time()?;
        bar.set_position(ingest.stats().bytes);
        verdicts.extend(ingest.take_stored());
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
        verdicts.extend(ingest.take_stored());
    }
    bar.finish_and_clear();
    let problems = ingest.take_problems();
    for p in &problems {
        eprintln!(
            "warning: {}: {}",
            crate::verdict_format::terminal_text(&p.path.display().to_string()),
            crate::verdict_format::terminal_text(&p.message)
        );
    }

    let stats = ingest.stats().clone();
    let mut out = std::io::stdout().lock();
    let findings: Vec<_> = verdicts
        .iter()
        .filter(|v| severity_of(v) >= a.min_severity)
        .collect();
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
            "by_severity": severity_counts(&stats),
            "min_severity": a.min_severity.as_str(),
            "findings": findings.iter().map(|v| crate::verdict_format::verdict_json(v)).collect::<Vec<_>>(),
            "problems": problems.iter().map(|p| json!({"path": p.path, "message": p.message})).collect::<Vec<_>>(),
            "interrupted": interrupted,
        });
        writeln!(out, "{summary}")?;
    } else {
        writeln!(
            out,
            "scanned {} file{}: {} new lines, {} windows ({} analysed, {} from the template cache)",
            stats.files,
            plural(stats.files as u64),
            stats.lines,
            stats.windows,
            stats.model_calls,
            stats.cache_hits
        )?;
        if stats.skipped_lines > 0 {
            writeln!(
                out,
                "skipped {} lines already stored by an earlier, interrupted run",
                stats.skipped_lines
            )?;
        }
        let counts: Vec<String> = Severity::ALL
            .iter()
            .zip(stats.by_severity)
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        writeln!(out, "verdicts by severity: {}", counts.join(", "))?;
        if findings.is_empty() {
            writeln!(out, "no findings at or above {}", a.min_severity)?;
        } else {
            writeln!(out, "findings at or above {}:", a.min_severity)?;
            let owned: Vec<_> = findings.iter().map(|v| (*v).clone()).collect();
            print_findings(&mut out, &owned, a.min_severity, false)?;
            writeln!(
                out,
                "details: opensoc verdicts --db {} --min-severity {}",
                a.db_path().display(),
                a.min_severity
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
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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
