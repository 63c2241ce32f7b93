//! What reading the systemd journal costs per line: N journal entries with the fields journald
//! gives a real entry (about 30, 1 KB in the export format), read through the agent's
//! `LineReader` three ways: the syslog lines they convert to, as text; the entries as
//! `journalctl -o export` output; and as `journalctl -o json` output. Prints lines/s and
//! ns/line of each, the median of five passes. With `--write DIR` it also writes the three
//! streams (`lines.log`, `journal.export`, `journal.json`), for timing `opensoc scan -` on each.
//!
//! `cargo run --release -p opensoc-edge --example journal_lines -- [N] [--write DIR]`

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use opensoc_edge::tail::journal::text_or_journal;
use opensoc_edge::tail::line_reader::LineReader;

/// The fields of entry `i` (a mix of sshd, cron, systemd and an application), in the order
/// journalctl writes them.
fn entry(i: u64) -> Vec<(&'static str, String)> {
    let t = 1_772_704_800_000_000 + i * 250_000;
    let (program, unit, message) = match i % 4 {
        0 => (
            "sshd",
            "ssh.service",
            format!(
                "Failed password for invalid user admin{} from 203.0.113.{} port {} ssh2",
                i % 50,
                i % 200,
                30_000 + i % 20_000
            ),
        ),
        1 => (
            "CRON",
            "cron.service",
            format!("pam_unix(cron:session): session opened for user root(uid=0) by (uid=0) #{i}"),
        ),
        2 => (
            "systemd",
            "init.scope",
            format!("Started session-{i}.scope - Session {i} of User backup."),
        ),
        _ => (
            "app",
            "app.service",
            format!(
                "GET /api/v1/items/{} 200 {} ms client=10.0.{}.{}",
                i,
                i % 900,
                i % 250,
                i % 200
            ),
        ),
    };
    vec![
        (
            "__CURSOR",
            format!(
                "s=8b2a3c4d5e6f708192a3b4c5d6e7f801;i={i:x};b=0123456789abcdef0123456789abcdef;\
                 m={:x};t={t:x};x=9f8e7d6c5b4a3921",
                i * 250_000
            ),
        ),
        ("__REALTIME_TIMESTAMP", t.to_string()),
        ("__MONOTONIC_TIMESTAMP", (i * 250_000).to_string()),
        ("_BOOT_ID", "0123456789abcdef0123456789abcdef".into()),
        ("_TRANSPORT", "syslog".into()),
        ("PRIORITY", "6".into()),
        ("SYSLOG_FACILITY", "4".into()),
        ("SYSLOG_IDENTIFIER", program.into()),
        ("SYSLOG_PID", (1000 + i % 30_000).to_string()),
        ("_PID", (1000 + i % 30_000).to_string()),
        ("_UID", "0".into()),
        ("_GID", "0".into()),
        ("_COMM", program.to_lowercase()),
        ("_EXE", format!("/usr/sbin/{}", program.to_lowercase())),
        (
            "_CMDLINE",
            format!("/usr/sbin/{} -D -R", program.to_lowercase()),
        ),
        ("_CAP_EFFECTIVE", "1ffffffffff".into()),
        ("_SELINUX_CONTEXT", "unconfined".into()),
        ("_SYSTEMD_CGROUP", format!("/system.slice/{unit}")),
        ("_SYSTEMD_UNIT", unit.into()),
        ("_SYSTEMD_SLICE", "system.slice".into()),
        (
            "_SYSTEMD_INVOCATION_ID",
            "4f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
        ),
        ("_MACHINE_ID", "fedcba9876543210fedcba9876543210".into()),
        ("_HOSTNAME", "web1".into()),
        ("_SOURCE_REALTIME_TIMESTAMP", (t - 37).to_string()),
        ("MESSAGE", message),
    ]
}

/// The three streams of `n` entries: syslog text, export, JSON.
fn streams(n: u64) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut export = Vec::new();
    let mut json = Vec::new();
    for i in 0..n {
        let fields = entry(i);
        let mut object = serde_json::Map::new();
        for (k, v) in &fields {
            export.extend_from_slice(format!("{k}={v}\n").as_bytes());
            object.insert((*k).to_string(), v.clone().into());
        }
        export.push(b'\n');
        json.extend_from_slice(serde_json::Value::Object(object).to_string().as_bytes());
        json.push(b'\n');
    }
    // The text is what the entries convert to: the same lines the pipeline then reads.
    let mut text = Vec::new();
    text_or_journal(Box::new(Cursor::new(export.clone())))
        .read_to_end(&mut text)
        .expect("convert");
    (text, export, json)
}

/// Lines read from `bytes` through the line reader (converted first when journal output).
fn read(bytes: &[u8]) -> anyhow::Result<u64> {
    let stream = text_or_journal(Box::new(Cursor::new(bytes.to_vec())));
    let mut reader = LineReader::from_stream(Path::new("-"), stream);
    let mut lines = 0;
    while reader.next_line(true)?.is_some() {
        lines += 1;
    }
    Ok(lines)
}

fn main() -> anyhow::Result<()> {
    let mut n = 200_000u64;
    let mut write: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--write" => write = args.next().map(PathBuf::from),
            other => n = other.parse()?,
        }
    }
    let (text, export, json) = streams(n);
    if let Some(dir) = &write {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("lines.log"), &text)?;
        std::fs::write(dir.join("journal.export"), &export)?;
        std::fs::write(dir.join("journal.json"), &json)?;
    }
    let mut base = 0.0;
    for (name, bytes) in [
        ("syslog text", &text),
        ("journal export", &export),
        ("journal json", &json),
    ] {
        let mut secs = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let lines = read(bytes)?;
            secs.push(t.elapsed().as_secs_f64());
            anyhow::ensure!(lines == n, "{name}: {lines} lines of {n}");
        }
        secs.sort_by(f64::total_cmp);
        let median = secs[2];
        if base == 0.0 {
            base = median;
        }
        println!(
            "{name:>14}: {n} lines, {:>6.1} MB in, median {:.3} s, {:>9.0} lines/s, {:>5.0} ns/line ({:.2}x the text)",
            bytes.len() as f64 / 1e6,
            median,
            n as f64 / median,
            median * 1e9 / n as f64,
            median / base
        );
    }
    Ok(())
}
