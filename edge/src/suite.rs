//! Running a scan-level eval suite's case ([`opensoc::eval::suite`] has the format and the
//! scoring): the case's log scanned once into a fresh store through the agent's own pipeline
//! ([`Ingest`]), as `opensoc scan` would on a new database.

use std::path::Path;

use opensoc::analyze::floors::INJECTION;
use opensoc::eval::suite::{Case, SuiteError, VerdictRow};
use opensoc::task::verdict::Severity;

use crate::ingest::{Ingest, IngestConfig, IngestError, Judge, SCAN_CHUNK_LINES};
use crate::store::sqlite::{Store, StoreError, StoredVerdict, VerdictFilter};

/// Why a case could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The suite or the case is wrong.
    #[error(transparent)]
    Suite(#[from] SuiteError),
    /// The temporary store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The pipeline failed (the judge, or the store under it).
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// Scans the case's log once, as `opensoc scan` would on a fresh database, and returns every
/// window's verdict (oldest first): benign copies are stored as rows here, since each window
/// is scored. The store lives in a temporary directory removed afterwards.
pub fn run_case<J: Judge>(
    dir: &Path,
    case: &Case,
    judge: J,
    config: IngestConfig,
) -> Result<Vec<StoredVerdict>, RunError> {
    let config = IngestConfig {
        count_benign_copies: false,
        ..config
    };
    let log = case.log_path(dir)?;
    let tmp = tempfile::Builder::new()
        .prefix("opensoc-suite-")
        .tempdir()
        .map_err(|source| SuiteError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let store = Store::open(&tmp.path().join("verdicts.db"))?;
    let mut ingest = Ingest::new(store, judge, config);
    ingest.refresh(&[log])?;
    loop {
        let n = ingest.pump(Some(SCAN_CHUNK_LINES))?;
        ingest.close_idle_by_log_time()?;
        if n == 0 {
            break;
        }
    }
    ingest.flush()?;
    if let Some(p) = ingest.take_problems().into_iter().next() {
        return Err(SuiteError::Case {
            case: case.name.clone(),
            message: format!("{}: {}", p.path.display(), p.message),
        }
        .into());
    }
    let mut rows = ingest.store().verdicts(&VerdictFilter::default())?;
    rows.reverse();
    Ok(rows)
}

impl From<&StoredVerdict> for VerdictRow {
    fn from(v: &StoredVerdict) -> Self {
        let v = &v.verdict;
        VerdictRow {
            entity: v.entity.clone(),
            severity: v.severity.parse().unwrap_or(Severity::Low),
            risk_score: v.risk_score,
            category: v.category.clone(),
            input: v.input.clone(),
            names_injection: v.category == INJECTION || v.evidence.contains(INJECTION),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opensoc::eval::suite::score_case;
    use opensoc::task::verdict::Verdict;

    /// A judge that calls every window with "Failed" in it a MEDIUM brute force.
    struct Stub;

    impl Judge for Stub {
        fn judge(
            &mut self,
            input: &str,
        ) -> Result<Verdict, Box<dyn std::error::Error + Send + Sync>> {
            let attack = input.contains("Failed");
            Ok(Verdict {
                threat_type: if attack {
                    "Brute Force Attack — Password Guessing".into()
                } else {
                    "No Threat Detected".into()
                },
                mitre_technique: "T1110".into(),
                technique_name: "Brute Force".into(),
                mitre_tactic: "Credential Access".into(),
                severity: if attack {
                    Severity::Medium
                } else {
                    Severity::Low
                },
                risk_score: 50,
                evidence: String::new(),
                impact: String::new(),
                recommendation: String::new(),
            })
        }
    }

    #[test]
    fn runs_a_case_through_the_pipeline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("fail2ban")).unwrap();
        let mut log = String::new();
        for i in 0..6 {
            log += &format!(
                "Mar  5 10:00:0{i} host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\n"
            );
        }
        log += "Mar  5 10:00:07 host sshd[2]: Accepted password for bob from 198.51.100.2 port 22 ssh2\n";
        std::fs::write(dir.path().join("fail2ban/sshd.log"), log).unwrap();
        let c: Case = serde_json::from_value(serde_json::json!({
            "name": "fail2ban/sshd", "source": "fail2ban", "service": "sshd", "split": "heldout",
            "log": "fail2ban/sshd.log",
            "attackers": [{"source": "192.0.2.1", "classes": ["Brute Force Attack"]}]
        }))
        .unwrap();
        let stored = run_case(dir.path(), &c, Stub, IngestConfig::default()).unwrap();
        let rows: Vec<VerdictRow> = stored.iter().map(VerdictRow::from).collect();
        let r = score_case(&c, &rows, Severity::Medium);
        assert!(
            r.attackers[0].flagged && r.attackers[0].right_class,
            "{r:?}"
        );
        assert_eq!((r.benign_windows, r.benign_flagged), (1, 0), "{r:?}");
    }
}
