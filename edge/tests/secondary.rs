//! A window's secondary threat: the judge is asked for it with the window's records (not the
//! summary line), it is stored with the verdict, and a window answered from the template cache
//! carries the earlier window's. The real analyzer's halves rule is measured on the generated
//! two-stage windows (README); a stand-in judge stands in for it here.

use std::io::Write;

use opensoc::task::verdict::{Severity, Verdict};
use opensoc_edge::ingest::{Ingest, IngestConfig, Judge};
use opensoc_edge::store::sqlite::{Store, VerdictFilter};

/// Calls every window with four records or more "probing", and its secondary "scanning".
#[derive(Default)]
struct StageJudge {
    secondary_calls: Vec<Vec<String>>,
}

impl Judge for StageJudge {
    fn judge(&mut self, _input: &str) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Verdict {
            threat_type: "SQL Injection — Union/Boolean SQLi".into(),
            mitre_technique: "T1190".into(),
            technique_name: "Exploit Public-Facing Application".into(),
            mitre_tactic: "Initial Access".into(),
            severity: Severity::High,
            risk_score: 80,
            evidence: "test".into(),
            impact: "test".into(),
            recommendation: "test".into(),
        })
    }

    fn secondary(
        &mut self,
        records: &[&str],
        _verdict: &Verdict,
    ) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
        self.secondary_calls
            .push(records.iter().map(|r| r.to_string()).collect());
        Ok((records.len() >= 4)
            .then(|| "Automated Reconnaissance / Vulnerability Scanning".to_string()))
    }
}

/// One pass over `log` into `dir`/v.db with the stand-in judge.
fn scan(dir: &std::path::Path, log: std::path::PathBuf) -> Ingest<StageJudge> {
    let store = Store::open(&dir.join("v.db")).unwrap();
    let mut ingest = Ingest::new(store, StageJudge::default(), IngestConfig::default());
    ingest.refresh(&[log]).unwrap();
    while ingest.pump(None).unwrap() > 0 {}
    ingest.flush().unwrap();
    ingest
}

#[test]
fn the_secondary_threat_is_stored_and_reused_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut f = std::fs::File::create(&log).unwrap();
    // Two clients with the same pattern (the second is a template-cache hit), five requests
    // each, far enough apart in time to close separately.
    for (ip, minute) in [("203.0.113.7", 0), ("198.51.100.9", 30)] {
        for (i, path) in [
            "/admin",
            "/.env",
            "/wp-login.php",
            "/phpmyadmin",
            "/item?id=1%27%20OR%201=1--",
        ]
        .iter()
        .enumerate()
        {
            writeln!(
                f,
                "{ip} - - [28/Nov/2026:10:{minute:02}:{i:02} +0000] \"GET {path} HTTP/1.1\" 404 153 \"-\" \"Mozilla/5.0\""
            )
            .unwrap();
        }
    }
    drop(f);
    let ingest = scan(dir.path(), log);
    assert_eq!(ingest.stats().windows, 2);
    assert_eq!(
        ingest.stats().cache_hits,
        1,
        "the second client reuses the first's verdict"
    );

    let store = Store::open_read_only(&dir.path().join("v.db")).unwrap();
    let all = store.verdicts(&VerdictFilter::default()).unwrap();
    assert_eq!(all.len(), 2);
    for v in &all {
        assert_eq!(
            v.verdict.secondary.as_deref(),
            Some("Automated Reconnaissance / Vulnerability Scanning"),
            "{v:?}"
        );
    }
}

#[test]
fn the_judge_sees_the_records_without_the_summary_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let mut f = std::fs::File::create(&log).unwrap();
    for i in 0..3 {
        writeln!(
            f,
            "Nov 28 03:14:0{i} web1 sshd[22{i}]: Failed password for root from 185.220.101.33 port 5012{i} ssh2"
        )
        .unwrap();
    }
    drop(f);
    let ingest = scan(dir.path(), log);
    let seen = &ingest.judge().secondary_calls;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].len(), 3, "{seen:?}");
    assert!(
        seen[0].iter().all(|r| r.contains("Failed password")),
        "{seen:?}"
    );
    let store = Store::open_read_only(&dir.path().join("v.db")).unwrap();
    let all = store.verdicts(&VerdictFilter::default()).unwrap();
    assert_eq!(all.len(), 1);
    assert!(
        all[0].verdict.input.ends_with(']'),
        "the window has a summary line"
    );
    assert_eq!(
        all[0].verdict.secondary, None,
        "three records: no secondary"
    );
}
