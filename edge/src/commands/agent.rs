//! What `scan` and `watch` share: their flags, the database and its lock, the model as the
//! pipeline's judge, and how a finding is printed.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use opensoc::analyze::analyzer::Analyzer;
use opensoc::model::llama::Llama;
use opensoc::task::verdict::{Severity, Verdict};
use opensoc_edge::ingest::{IngestConfig, Judge};
use opensoc_edge::store::lock::RunLock;
use opensoc_edge::store::sqlite::{Store, StoredVerdict};
use opensoc_edge::tail::journal::JournalQuery;
use opensoc_logs::window::WindowConfig;

use crate::commands::analyze::ModeArgs;
use crate::commands::database::db_path;
use opensoc_edge::store::export::{format_time, parse_severity, severity_of, verdict_json};

/// Flags of `scan` and `watch`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Log files, directories or glob patterns; rotated siblings (`.1`, `.2.gz`, dated names)
    /// of a file are read too, oldest first. `-` reads stdin to its end (scan only): log text,
    /// or the output of `journalctl -o export` or `journalctl -o json`, recognised by its
    /// first bytes (prefer export: json leaves out messages over 4 KiB).
    #[arg(
        value_name = "PATH",
        required_unless_present_any = ["journal", "journal_dir", "journal_file"]
    )]
    pub paths: Vec<PathBuf>,
    /// Also read the systemd journal, through journalctl: every entry, or only those of the
    /// units named (`--journal sshd nginx`; the words after --journal are units, so put log
    /// paths before it). Each entry is read as the syslog line it makes
    /// (`2026-03-05T10:00:01Z web1 sshd[4242]: Failed password …`), once: the cursor of the
    /// last entry stored is kept in the database, and the next scan or watch of the same
    /// selection goes on after it.
    #[arg(long, value_name = "UNIT", num_args = 0.., help_heading = "Systemd journal")]
    pub journal: Option<Vec<String>>,
    /// Read the journal files in DIR (journalctl -D) instead of this machine's journal:
    /// another machine's /var/log/journal, or a copy. Implies --journal (add --journal
    /// UNIT… for some units only).
    #[arg(long, value_name = "DIR", help_heading = "Systemd journal")]
    pub journal_dir: Option<PathBuf>,
    /// Read this journal file (journalctl --file; may be given more than once) instead of this
    /// machine's journal. Implies --journal.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "journal_dir",
        help_heading = "Systemd journal"
    )]
    pub journal_file: Vec<PathBuf>,
    /// The verdict database (created with mode 0600 if absent).
    #[arg(long, env = "OPENSOC_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Alert threshold: verdicts at or above it are findings (printed; `scan` exits 1).
    #[arg(long, default_value = "MEDIUM", value_name = "LEVEL", value_parser = parse_severity)]
    pub min_severity: Severity,
    /// Seconds of log time one window may span.
    #[arg(long, default_value_t = WindowConfig::default().span_secs, value_name = "S")]
    pub window_secs: i64,
    /// A window closes after this many seconds without a line from its entity.
    #[arg(long, default_value_t = WindowConfig::default().idle_secs, value_name = "S")]
    pub idle_secs: i64,
    /// Records one window holds at most.
    #[arg(long, default_value_t = WindowConfig::default().max_records, value_name = "N")]
    pub max_lines: usize,
    /// Analyse every window with the model: even one whose masked signature was seen before, or
    /// whose every template was in a window the model judged benign (the benign-record memory).
    #[arg(long)]
    pub no_cache: bool,
    /// Store a row for every window. By default a benign window answered from the template
    /// cache is only counted on the verdict it copies (`opensoc report` counts it), so that
    /// the database grows with the findings rather than with the traffic.
    #[arg(long)]
    pub store_every_window: bool,
    /// Windows that close together and each need the model are analysed in one batched
    /// pass, at most this many (1: one at a time). The verdicts, and the order they are
    /// stored in, are the same.
    #[arg(long, default_value_t = opensoc_edge::ingest::DEFAULT_BATCH, value_name = "N")]
    pub batch: usize,
    /// Delete stored verdicts older than this many days (0 keeps everything).
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    pub keep_days: u32,
    #[command(flatten)]
    pub mode: ModeArgs,
    #[command(flatten)]
    pub forward: crate::commands::forward::ForwardArgs,
}

impl AgentArgs {
    /// The database path: `--db`, `$OPENSOC_DB`, else the default ([`db_path`]).
    pub fn db_path(&self) -> PathBuf {
        db_path(self.db.as_deref())
    }

    /// The journal entries to read (`--journal`, `--journal-dir`, `--journal-file`), if any;
    /// `follow` for `watch`. Fails when there is no journalctl to read them with, before the
    /// model is loaded.
    pub fn journal_query(&self, follow: bool) -> anyhow::Result<Option<JournalQuery>> {
        if self.journal.is_none() && self.journal_dir.is_none() && self.journal_file.is_empty() {
            return Ok(None);
        }
        let units = self.journal.clone().unwrap_or_default();
        if let Some(u) = units.iter().find(|u| u.contains('/') || *u == "-") {
            // A unit name never holds a slash: this is a log path typed after --journal.
            anyhow::bail!(
                "--journal takes unit names, and `{u}` is a path: put log paths before \
                 --journal (opensoc scan /var/log/nginx/ --journal sshd)"
            );
        }
        // Absolute, so that the saved cursor belongs to the same files whatever the working
        // directory of the next run.
        let absolute = |p: &PathBuf, what: &str| {
            std::fs::canonicalize(p).with_context(|| format!("{what} {}", p.display()))
        };
        let directory = match &self.journal_dir {
            Some(d) => Some(absolute(d, "--journal-dir")?),
            None => None,
        };
        let files = self
            .journal_file
            .iter()
            .map(|f| absolute(f, "--journal-file"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        opensoc_edge::tail::journal::journalctl()?;
        Ok(Some(JournalQuery {
            directory,
            files,
            units,
            follow,
        }))
    }

    /// The pipeline's settings.
    pub fn ingest_config(&self) -> anyhow::Result<IngestConfig> {
        if self.window_secs < 1 || self.idle_secs < 1 || self.max_lines < 1 || self.batch < 1 {
            anyhow::bail!("--window-secs, --idle-secs, --max-lines and --batch must be at least 1");
        }
        Ok(IngestConfig {
            window: WindowConfig {
                span_secs: self.window_secs,
                idle_secs: self.idle_secs,
                max_records: self.max_lines,
                ..WindowConfig::default()
            },
            use_cache: !self.no_cache,
            exclude: self.database_files(),
            count_benign_copies: !self.store_every_window,
            batch: self.batch,
            ..IngestConfig::default()
        })
    }

    /// The database and the files SQLite and the lock keep beside it, under the name given
    /// and, when that is a link, beside the file it names: a scan must read none of them.
    fn database_files(&self) -> Vec<std::path::PathBuf> {
        let db = self.db_path();
        let mut files = opensoc_edge::store::sqlite::side_files(&db);
        if let Ok(real) = opensoc_edge::store::lock::canonical_db(&db) {
            files.extend(opensoc_edge::store::sqlite::side_files(&real));
        }
        files
    }

    /// Locks and opens the database, and applies retention.
    pub fn open_store(&self) -> anyhow::Result<(RunLock, Store)> {
        let path = self.db_path();
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        match (dir, &self.db) {
            // The default location is ours to create (the data directory).
            (Some(dir), None) => std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the directory of {}", path.display()))?,
            // A --db the user typed is not: a typo must not leave directories behind.
            (Some(dir), Some(_)) if !dir.is_dir() => anyhow::bail!(
                "the directory of the database {} does not exist (create it first)",
                path.display()
            ),
            _ => {}
        }
        // A device or a directory is no database, and the lock and journal files that SQLite
        // would put beside it must not appear there (`--db /dev/null`).
        if let Ok(meta) = std::fs::metadata(&path) {
            if !meta.is_file() {
                anyhow::bail!("the database {} is not a regular file", path.display());
            }
        }
        let lock = RunLock::acquire(&path)?;
        let mut store = Store::open(&path)?;
        if self.keep_days > 0 {
            let before = opensoc_edge::ingest::unix_now() - i64::from(self.keep_days) * 86_400;
            store.prune(before)?;
        }
        Ok((lock, store))
    }
}

/// A flag that SIGINT (Ctrl-C) or SIGTERM sets, so that `scan` and `watch` stop between two
/// model calls ([`Ingest::set_stop`](opensoc_edge::ingest::Ingest::set_stop)) and end cleanly
/// instead of dying in the middle of a database write: well within systemd's stop timeout.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("installing the SIGINT/SIGTERM handler")?;
    Ok(stop)
}

/// The analyzer as the pipeline's judge.
pub struct ModelJudge<'m> {
    /// The analyzer over the loaded model.
    pub analyzer: Analyzer<'m, Llama>,
}

impl Judge for ModelJudge<'_> {
    fn judge(&mut self, input: &str) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
        let a = self.analyzer.analyze(input.as_bytes())?;
        a.verdict.ok_or_else(|| {
            "the model's text lacks a verdict field (use --mode fast or full)".into()
        })
    }

    fn judge_batch(
        &mut self,
        inputs: &[&str],
    ) -> Result<Vec<Verdict>, Box<dyn std::error::Error + Send + Sync>> {
        let raws: Vec<&[u8]> = inputs.iter().map(|i| i.as_bytes()).collect();
        self.analyzer
            .analyze_batch(&raws)?
            .into_iter()
            .map(|a| {
                a.verdict.ok_or_else(|| {
                    "the model's text lacks a verdict field (use --mode fast or full)".into()
                })
            })
            .collect()
    }

    fn secondary(
        &mut self,
        records: &[&str],
        verdict: &Verdict,
    ) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(opensoc::analyze::stages::secondary(
            &mut self.analyzer,
            opensoc::task::prompt::INSTRUCTION,
            records,
            verdict,
        )?)
    }

    fn floor(&self, input: &str) -> Option<opensoc::analyze::floors::Floor> {
        self.analyzer.floor_of(input.as_bytes())
    }
}

/// Prints the verdicts at or above the threshold: one line each, or one JSON object a line.
pub fn print_findings(
    out: &mut impl Write,
    verdicts: &[StoredVerdict],
    min: Severity,
    json: bool,
) -> anyhow::Result<usize> {
    let mut n = 0;
    for stored in verdicts.iter().filter(|v| severity_of(v) >= min) {
        n += 1;
        if json {
            writeln!(out, "{}", verdict_json(stored))?;
        } else {
            let v = &stored.verdict;
            let text = crate::commands::verdict_format::terminal_text;
            let also = v
                .secondary
                .as_deref()
                .map_or_else(String::new, |s| format!(" (also: {})", text(s)));
            // The id first: `opensoc verdicts inspect ID` shows the finding in full.
            writeln!(
                out,
                "#{:<5} {}  {:<8}  {}{also}  {}  {} ({} line{})",
                stored.id,
                v.first_time.map_or_else(|| "-".to_string(), format_time),
                text(&v.severity),
                text(&v.threat_type),
                text(v.entity.as_deref().unwrap_or("-")),
                text(&v.source),
                v.records,
                if v.records == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(n)
}

/// Prints each path that could not be read, with why, on stderr (as log text: escaped).
pub fn warn_problems(problems: &[opensoc_edge::ingest::Problem]) {
    let text = crate::commands::verdict_format::terminal_text;
    for p in problems {
        eprintln!(
            "warning: {}: {}",
            text(&p.path.display().to_string()),
            text(&p.message)
        );
    }
}

/// Says on stderr which subdirectories of the scanned directories were left unread, so that a
/// directory of logs one level down is not mistaken for a clean one. A note, not an error:
/// listing is not recursive by design.
pub fn note_skipped_dirs(dirs: &[PathBuf]) {
    for dir in dirs {
        let shown = crate::commands::verdict_format::terminal_text(&dir.display().to_string());
        eprintln!(
            "note: {shown}: a directory inside a scanned directory, not read (scans do not \
             descend into subdirectories; name it, or a pattern such as '{shown}/*.log', to read it)"
        );
    }
}
