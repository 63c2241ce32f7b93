//! The template signature against real data: payloads of different classes never share a
//! signature, and grouping accuracy on the Loghub-2k samples does not regress.

use opensoc_logs::logline::LogFormat;
use opensoc_logs::record::Record;
use opensoc_logs::template::{grouping_accuracy, mask, signature};
use opensoc_logs::window::Window;
use std::collections::HashMap;
use std::path::PathBuf;

/// `$OPENSOC_DATA`, else `../shared/data` next to the repository; None (with a notice) when absent.
fn data_dir(what: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("OPENSOC_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let path = dir.join(what);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: {} not found (set OPENSOC_DATA)", path.display());
        None
    }
}

fn one_record_window(text: String) -> Window {
    Window {
        group: "access.log".into(),
        entity: None,
        format: LogFormat::Access,
        records: vec![Record {
            file: 1,
            start: 0,
            end: text.len() as u64 + 1,
            text,
        }],
        first_time: None,
        last_time: None,
        summary: None,
    }
}

#[test]
fn payloads_of_different_classes_never_share_a_signature() {
    let Some(path) = data_dir("httpparams/payload_train.csv") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("readable payload file");
    let rows = opensoc_logs::csv::records(&text);
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).expect("column");
    let (payload, label) = (col("payload"), col("label"));
    let mut seen: HashMap<String, (String, String)> = HashMap::new();
    let mut conflicts = Vec::new();
    let mut payloads = 0;
    for row in &rows[1..] {
        let (Some(p), Some(l)) = (row.get(payload), row.get(label)) else {
            continue;
        };
        payloads += 1;
        let line = format!(
            "1.2.3.4 - - [28/Nov/2026:10:00:00 +0000] \"GET /search?q={p} HTTP/1.1\" 200 512 \"-\" \"Mozilla/5.0\""
        );
        let sig = signature(&one_record_window(line).records);
        match seen.get(&sig) {
            Some((other_label, other)) if other_label != l => {
                conflicts.push(format!("{other_label} {other:?} vs {l} {p:?}"));
            }
            Some(_) => {}
            None => {
                seen.insert(sig, (l.clone(), p.clone()));
            }
        }
    }
    assert!(payloads > 10_000, "only {payloads} payloads read");
    assert!(
        conflicts.is_empty(),
        "{} signature collisions across labels, e.g. {:#?}",
        conflicts.len(),
        &conflicts[..conflicts.len().min(10)]
    );
    // The cache must still group: far fewer signatures than payloads would mean nothing was masked.
    eprintln!("{payloads} payloads, {} signatures", seen.len());
}

const SYSTEMS: [&str; 10] = [
    "Android",
    "BGL",
    "HPC",
    "HealthApp",
    "Linux",
    "Mac",
    "Proxifier",
    "Spark",
    "Thunderbird",
    "Windows",
];

/// Mean grouping accuracy of the raw-line mask measured by examples/template_grouping.rs.
const MEASURED_MEAN: f64 = 0.637;

#[test]
fn loghub_grouping_accuracy_does_not_regress() {
    let Some(dir) = data_dir("loghub") else {
        return;
    };
    let mut sum = 0.0;
    for system in SYSTEMS {
        let base = dir.join(system);
        let raw = std::fs::read_to_string(base.join(format!("{system}_2k.log"))).expect("log");
        let csv = std::fs::read_to_string(base.join(format!("{system}_2k.log_structured.csv")))
            .expect("structured csv");
        let rows = opensoc_logs::csv::records(&csv);
        let id = rows[0]
            .iter()
            .position(|h| h == "EventId")
            .expect("EventId");
        let truth: Vec<String> = rows[1..].iter().map(|r| r[id].clone()).collect();
        let predicted: Vec<String> = raw.lines().map(mask).collect();
        assert_eq!(predicted.len(), truth.len(), "{system}: lines vs rows");
        let a = grouping_accuracy(&predicted, &truth);
        eprintln!("{system:<12} {a:.3}");
        sum += a;
    }
    let mean = sum / SYSTEMS.len() as f64;
    assert!(
        mean >= MEASURED_MEAN - 0.02,
        "mean grouping accuracy {mean:.3} fell below {MEASURED_MEAN} - 0.02"
    );
}
