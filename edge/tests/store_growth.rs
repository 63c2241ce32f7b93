//! The store grows with findings and templates, not with traffic: a flood of one-line benign
//! windows costs the database fewer bytes than its log, and the benign windows that are
//! counted on their template's verdict rather than stored are still judged exactly once
//! through a crash and the re-read after it.

use std::fs;
use std::path::{Path, PathBuf};

use opensoc::task::verdict::Verdict;
use opensoc_edge::ingest::{Ingest, IngestConfig, IngestError, IngestStats, Judge};
use opensoc_edge::store::report::Report;
use opensoc_edge::store::sqlite::{Store, VerdictFilter};

#[path = "common/cli.rs"]
mod cli;

/// Judges every window benign; fails on a window that requests `fail_on`, like a crash.
struct BenignJudge {
    fail_on: Option<&'static str>,
}

impl Judge for BenignJudge {
    fn judge(&mut self, input: &str) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
        if self.fail_on.is_some_and(|page| input.contains(page)) {
            return Err("stand-in crash".into());
        }
        Ok(cli::stand_in_verdict())
    }
}

/// One access-log line of `client` at `second` seconds past 2026-12-06 10:00:00.
fn request(client: &str, second: usize, page: &str) -> String {
    format!(
        "{client} - - [06/Dec/2026:{:02}:{:02}:{:02} +0000] \"GET {page} HTTP/1.1\" 200 {} \"-\" \
         \"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\"\n",
        10 + second / 3600,
        second / 60 % 60,
        second % 60,
        1000 + second % 9000,
    )
}

/// A distinct visitor address for each `i`.
fn visitor(i: usize) -> String {
    format!("10.{}.{}.{}", i / 65_536 % 256, i / 256 % 256, i % 256)
}

/// Scans `log` into `db` as `scan` does (idle windows closed after each chunk of lines).
fn scan(db: &Path, log: &Path, judge: BenignJudge) -> (Result<(), IngestError>, IngestStats) {
    let store = Store::open(db).unwrap();
    let mut ingest = Ingest::new(store, judge, IngestConfig::default());
    let run = (|| {
        ingest.refresh(&[log.to_path_buf()])?;
        while ingest.pump(Some(100))? > 0 {
            ingest.close_idle_by_log_time()?;
        }
        ingest.flush()
    })();
    (run, ingest.stats().clone())
}

/// Log lines covered by every stored verdict and every counted copy.
fn records_judged(db: &Path) -> u64 {
    Store::open_read_only(db).unwrap().records_judged().unwrap()
}

fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let db = dir.path().join("verdicts.db");
    (dir, log, db)
}

#[test]
fn a_flood_of_one_line_benign_windows_costs_fewer_bytes_than_its_log() {
    let (_dir, log, db) = scratch();
    let visitors = 4_000;
    let text: String = (0..visitors)
        .map(|i| request(&visitor(i), i, "/index.html"))
        .collect();
    fs::write(&log, &text).unwrap();
    let (run, stats) = scan(&db, &log, BenignJudge { fail_on: None });
    run.unwrap();
    assert_eq!(stats.windows, visitors as u64, "{stats:?}");
    assert_eq!(stats.model_calls, 1, "{stats:?}");
    assert_eq!(stats.copies, visitors as u64 - 1, "{stats:?}");
    // The connection is closed: SQLite has moved its write-ahead log into the file.
    let db_bytes: u64 = opensoc_edge::store::sqlite::side_files(&db)
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let log_bytes = text.len() as u64;
    eprintln!("database {db_bytes} bytes for a log of {log_bytes}");
    assert!(
        db_bytes <= log_bytes,
        "database {db_bytes} bytes for a log of {log_bytes}"
    );
    assert_eq!(records_judged(&db), visitors as u64);
    let store = Store::open_read_only(&db).unwrap();
    let report = Report::from_store(&store, &VerdictFilter::default(), 5).unwrap();
    assert_eq!(report.total, visitors);
    assert_eq!(report.copies, visitors - 1);
    let rows = store.verdicts(&VerdictFilter::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].copies, visitors as u64 - 1);
}

#[test]
fn counted_copies_are_judged_exactly_once_through_a_crash() {
    let (_dir, log, db) = scratch();
    // One-line visitors a second apart, and a monitor polling every 20 s whose windows stay
    // open for 300 s: they hold the checkpoint back while the visitors' copies are counted
    // past it, so the re-read after the crash must skip those copies' lines.
    let mut text = String::new();
    let mut lines = 0;
    for i in 0..1_200 {
        let page = if i == 1_000 {
            "/about.html"
        } else {
            "/index.html"
        };
        text += &request(&visitor(i), i, page);
        lines += 1;
        if i % 20 == 10 {
            text += &request("192.0.2.1", i, "/status");
            lines += 1;
        }
    }
    fs::write(&log, &text).unwrap();
    let (first, _) = scan(
        &db,
        &log,
        BenignJudge {
            fail_on: Some("/about.html"),
        },
    );
    assert!(first.is_err(), "the stand-in crash must stop the first run");
    let (second, stats) = scan(&db, &log, BenignJudge { fail_on: None });
    second.unwrap();
    assert!(
        stats.skipped_lines > 0,
        "the re-read must meet lines already counted: {stats:?}"
    );
    assert_eq!(records_judged(&db), lines);
}
