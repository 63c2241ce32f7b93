//! `opensoc scan` of real Windows event logs (`.evtx`), read natively: every record becomes one
//! record in the compact layout the model reads, a file is recognised by its magic bytes (also
//! inside gzip), and checkpoints count record ids, so a newer copy of the same log adds only
//! its new records. The real binary and the real model.
//!
//! The recordings are Winlogbeat's test logs, fetched by `scripts/fetch-evtx-samples.sh` into
//! `$OPENSOC_HOME/samples/evtx` (not committed). Without them the tests say so and pass, except
//! under CI (`CI=true`), where they fail.

use std::io::Read;
use std::path::{Path, PathBuf};

#[path = "common/cli.rs"]
mod cli;
use cli::{opensoc, scan_json as scan, stored, text};

/// The sample directory, or `None` (after saying why) outside CI when it was not fetched.
fn samples(test: &str) -> Option<PathBuf> {
    let home = std::env::var_os("OPENSOC_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/opensoc")))
        .expect("HOME or OPENSOC_HOME");
    let dir = home.join("samples/evtx");
    if dir.join(".complete").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: no evtx samples in {}; run scripts/fetch-evtx-samples.sh",
        dir.display()
    );
    eprintln!(
        "SKIPPED {test}: no evtx samples in {}; run scripts/fetch-evtx-samples.sh",
        dir.display()
    );
    None
}

/// A sample's `.evtx` content, decompressed.
fn content(dir: &Path, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(dir.join(name)).expect("sample"))
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

/// `bytes` written to `path` through a new file renamed over it: a new inode, as a copy from
/// the Windows machine arrives.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[test]
fn security_system_powershell_and_sysmon_logs_are_read_record_by_record() {
    let Some(dir) = samples("security_system_powershell_and_sysmon_logs_are_read_record_by_record")
    else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let db = work.path().join("v.db");
    let names = [
        "security-windows2016_4720_Account_Created.evtx.gz",
        "security-windows2012_4697.evtx.gz",
        "4104.evtx.gz",
        "sysmon-12-processcreate.evtx.gz",
    ];
    let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let (code, summary, stderr) = scan(&db, &refs);
    assert_eq!(summary["problems"], serde_json::json!([]), "{stderr}");
    assert!(code == Some(0) || code == Some(1), "{code:?} {stderr}");
    let records = summary["records_by_format"]["windows-event"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        records,
        summary["lines"].as_u64().unwrap_or(u64::MAX),
        "{summary}"
    );
    assert!(records >= 4, "{summary}");
    let inputs: Vec<String> = stored(&db)
        .iter()
        .map(|v| v["input"].as_str().unwrap_or_default().to_string())
        .collect();
    // Every window is event records in the compact layout, never the file's binary.
    for input in &inputs {
        assert!(input.starts_with("EventID: "), "{input}");
        assert!(
            !input.contains("ElfFile") && !input.contains('\u{fffd}'),
            "{input}"
        );
    }
    let all = inputs.join("\n");
    // The fields that matter per event reach the model: the new account, the installed
    // service's binary, the script block, the process and its parent.
    for want in [
        "EventID: 4720",
        "Description: A user account was created",
        "EventID: 4697",
        "Service File: ",
        "EventID: 4104",
        "Description: PowerShell script block logged",
        "EventID: 1",
        "Parent: C:\\Windows\\explorer.exe",
        "Channel: Microsoft-Windows-Sysmon/Operational",
    ] {
        assert!(all.contains(want), "{want} missing from:\n{all}");
    }
}

#[test]
fn a_newer_copy_of_a_log_adds_only_its_new_records_and_a_rescan_none() {
    let Some(dir) = samples("a_newer_copy_of_a_log_adds_only_its_new_records_and_a_rescan_none")
    else {
        return;
    };
    let full = content(&dir, "sysmon-10.2-dns.evtx.gz");
    // An earlier copy of the same log: its first chunk of three (records 1 to 74; a log
    // grows chunk by chunk).
    let earlier = &full[..4096 + 65536];
    let work = tempfile::tempdir().expect("tempdir");
    let log = work.path().join("Sysmon.evtx");
    let db = work.path().join("v.db");
    replace(&log, earlier);
    let (_, first, stderr) = scan(&db, &[&log]);
    assert_eq!(first["problems"], serde_json::json!([]), "{stderr}");
    let first_lines = first["lines"].as_u64().expect("lines");
    assert!(first_lines > 0, "{first}");

    replace(&log, &full);
    let (_, second, stderr) = scan(&db, &[&log]);
    assert_eq!(second["problems"], serde_json::json!([]), "{stderr}");
    let second_lines = second["lines"].as_u64().expect("lines");

    // The whole log read once, in one go, as the reference.
    let db_once = work.path().join("once.db");
    let whole = work.path().join("whole").join("Sysmon.evtx");
    std::fs::create_dir(whole.parent().expect("dir")).expect("mkdir");
    std::fs::write(&whole, &full).expect("write");
    let (_, once, _) = scan(&db_once, &[&whole]);
    let all = once["lines"].as_u64().expect("lines");
    assert!(second_lines > 0, "the newer copy added nothing: {second}");
    assert_eq!(
        first_lines + second_lines,
        all,
        "records read twice or lost across the copies: {first_lines} + {second_lines} vs {all}"
    );

    let (_, third, _) = scan(&db, &[&log]);
    assert_eq!(third["lines"], 0, "a rescan read records again: {third}");
}

#[test]
fn a_log_that_grows_in_place_is_read_on_from_its_last_record() {
    let Some(dir) = samples("a_log_that_grows_in_place_is_read_on_from_its_last_record") else {
        return;
    };
    let full = content(&dir, "sysmon-10.2-dns.evtx.gz");
    let work = tempfile::tempdir().expect("tempdir");
    let log = work.path().join("Sysmon.evtx");
    let db = work.path().join("v.db");
    // Two chunks, then the third written into the same file (same inode), as the event log
    // service appends.
    std::fs::write(&log, &full[..4096 + 2 * 65536]).expect("write");
    let (_, first, stderr) = scan(&db, &[&log]);
    assert_eq!(first["problems"], serde_json::json!([]), "{stderr}");
    std::fs::write(&log, &full).expect("write");
    let (_, second, stderr) = scan(&db, &[&log]);
    assert_eq!(second["problems"], serde_json::json!([]), "{stderr}");
    // Chunks 1 and 2 hold records 1 to 143, chunk 3 records 144 to 156.
    assert_eq!(first["lines"], 143, "{first}");
    assert_eq!(second["lines"], 13, "{second}");
}

#[test]
fn a_damaged_chunk_is_skipped_reported_and_the_rest_read() {
    let Some(dir) = samples("a_damaged_chunk_is_skipped_reported_and_the_rest_read") else {
        return;
    };
    let mut bytes = content(&dir, "sysmon-10.2-dns.evtx.gz");
    let work = tempfile::tempdir().expect("tempdir");
    let whole = work.path().join("whole.evtx");
    std::fs::write(&whole, &bytes).expect("write");
    let (_, clean, _) = scan(&work.path().join("clean.db"), &[&whole]);
    let all = clean["lines"].as_u64().expect("lines");

    // Garbage over the records of the first chunk (its header stays), and a cut in the middle
    // of the last chunk, as a copy taken while Windows wrote it.
    let first_records = 4096 + 512..4096 + 8192;
    for b in &mut bytes[first_records] {
        *b = 0xA5;
    }
    let cut = bytes.len() - 30_000;
    bytes.truncate(cut);
    let damaged = work.path().join("damaged.evtx");
    std::fs::write(&damaged, &bytes).expect("write");
    let (code, summary, stderr) = scan(&work.path().join("d.db"), &[&damaged]);
    let lines = summary["lines"].as_u64().expect("lines");
    assert!(
        lines > 0 && lines < all,
        "{lines} of {all}: {summary}\n{stderr}"
    );
    let problems = summary["problems"].to_string();
    assert!(problems.contains("damaged"), "{problems}");
    assert_eq!(
        code,
        Some(2),
        "a file not wholly read must not pass for clean"
    );
}

#[test]
fn an_event_log_on_stdin_is_refused_with_what_to_do() {
    let Some(dir) = samples("an_event_log_on_stdin_is_refused_with_what_to_do") else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let raw = work.path().join("raw.evtx");
    std::fs::write(&raw, content(&dir, "1102.evtx.gz")).expect("write");
    let out = opensoc()
        .args(["scan", "--json", "--db"])
        .arg(work.path().join("v.db"))
        .arg("-")
        .stdin(std::fs::File::open(&raw).expect("open"))
        .output()
        .expect("run opensoc");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(text(&out.stdout).trim()).expect("summary");
    assert_eq!(summary["windows"], 0, "{summary}");
    assert!(
        summary["problems"].to_string().contains("name the file"),
        "{summary}"
    );
}
