//! A scan of more files than the open-file limit allows: every line is stored, none twice.
//!
//! A scan that opened every file at once would, under `ulimit -n 1024`, store 1,015 of 5,000
//! one-line files and warn "Too many open files" for the other 3,985; since those files'
//! records are already in the store, later scans would never read them.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Output;

/// Files scanned; well above the limit the scan runs under.
const FILES: usize = 1_500;

/// The open-file limit of the scan (soft and hard, so it cannot raise it).
const NOFILE: libc::rlim_t = 256;

/// One line for every file: the same host and template, so the template cache answers all
/// windows but the first and the test costs one model call.
const LINE: &str = "Mar  5 10:00:01 web1 CRON[2211]: (root) CMD (run-parts /etc/cron.hourly)\n";

#[path = "common/cli.rs"]
mod cli;
use cli::{stored, text};

fn opensoc(args: &[&str], nofile: Option<libc::rlim_t>) -> Output {
    opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let mut c = cli::opensoc();
    c.args(args);
    if let Some(n) = nofile {
        // SAFETY: setrlimit is async-signal-safe and touches only the child being started.
        unsafe {
            c.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    c.output().expect("run opensoc")
}

/// Lines covered by the stored verdicts.
fn stored_lines(db: &Path) -> u64 {
    stored(db)
        .iter()
        .map(|v| v["lines"].as_u64().expect("a line count"))
        .sum()
}

#[test]
fn a_scan_of_more_files_than_the_open_file_limit_stores_every_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    for i in 0..FILES {
        std::fs::write(logs.join(format!("app{i:04}.log")), LINE).unwrap();
    }
    let db = dir.path().join("v.db");
    // Every window's row is kept, so that the stored windows' lines add up to the lines read.
    let args = [
        "scan",
        "--store-every-window",
        "--db",
        db.to_str().unwrap(),
        "--json",
        logs.to_str().unwrap(),
    ];

    let out = opensoc(&args, Some(NOFILE));
    let stderr = text(&out.stderr);
    let summary: serde_json::Value = text(&out.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no summary; stderr:\n{stderr}"));
    let brief = |s: &serde_json::Value| {
        let mut s = s.clone();
        if let Some(p) = s["problems"].as_array_mut() {
            p.truncate(3);
        }
        s
    };
    assert!(
        !stderr.contains("Too many open files"),
        "{}",
        &stderr[..stderr.len().min(2_000)]
    );
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "exit {:?} (2: a file could not be read): {}",
        out.status.code(),
        brief(&summary)
    );
    assert_eq!(summary["lines"], FILES as u64, "{}", brief(&summary));
    assert_eq!(stored_lines(&db), FILES as u64);

    // Nothing was left behind for the next scan, and nothing is read twice.
    let out = opensoc(&args, Some(NOFILE));
    let again: serde_json::Value = text(&out.stdout)
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no summary; stderr:\n{}", text(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{}", brief(&again));
    assert_eq!(again["lines"], 0, "{}", brief(&again));
    assert_eq!(stored_lines(&db), FILES as u64);
}
