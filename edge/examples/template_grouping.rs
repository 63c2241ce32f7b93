//! Grouping accuracy of the template mask on the Loghub-2k samples, next to Drain's published
//! figures. Run: `cargo run -p opensoc-edge --release --example template_grouping -- DIR`.

use opensoc_logs::template::{grouping_accuracy, mask};
use std::path::Path;

/// Drain on Loghub-2k (Zhu et al., ICSE-SEIP 2019, table of parsing accuracy).
const DRAIN: [(&str, f64); 10] = [
    ("Android", 0.911),
    ("BGL", 0.963),
    ("HPC", 0.887),
    ("HealthApp", 0.780),
    ("Linux", 0.690),
    ("Mac", 0.787),
    ("Proxifier", 0.527),
    ("Spark", 0.920),
    ("Thunderbird", 0.955),
    ("Windows", 0.997),
];

/// The structured file's rows as (EventId, Content).
fn read_truth(path: &Path) -> std::io::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)?;
    let mut rows = opensoc_logs::csv::records(&text).into_iter();
    let header = rows.next().unwrap_or_default();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(id), Some(content)) = (col("EventId"), col("Content")) else {
        return Err(std::io::Error::other("no EventId/Content column"));
    };
    Ok(rows
        .map(|f| {
            (
                f.get(id).cloned().unwrap_or_default(),
                f.get(content).cloned().unwrap_or_default(),
            )
        })
        .collect())
}

/// Prints truth groups the mask split, and masks shared by several truth groups.
fn explain_splits(masked: &[String], ids: &[String]) {
    use std::collections::BTreeMap;
    let mut by_id: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut by_mask: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (m, id) in masked.iter().zip(ids) {
        let v = by_id.entry(id).or_default();
        if !v.contains(&m.as_str()) {
            v.push(m);
        }
        let v = by_mask.entry(m).or_default();
        if !v.contains(&id.as_str()) {
            v.push(id);
        }
    }
    for (id, masks) in by_id.iter().filter(|(_, m)| m.len() > 1) {
        println!("split {id}: {} masks, e.g.", masks.len());
        for m in masks.iter().take(3) {
            println!("    {m}");
        }
    }
    for (m, ids) in by_mask.iter().filter(|(_, i)| i.len() > 1) {
        println!("merged {ids:?}: {m}");
    }
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/loghub".to_string());
    // `--explain SYSTEM` lists that system's templates the mask splits or merges.
    let explain = std::env::args().nth(3);
    println!(
        "{:<12} {:>8} {:>8} {:>8}",
        "system", "raw", "content", "Drain"
    );
    let (mut sum_raw, mut sum_content, mut sum_drain, mut n) = (0.0, 0.0, 0.0, 0);
    for (system, drain) in DRAIN {
        let base = Path::new(&dir).join(system);
        let log = base.join(format!("{system}_2k.log"));
        let csv = base.join(format!("{system}_2k.log_structured.csv"));
        let (Ok(raw), Ok(truth)) = (std::fs::read_to_string(&log), read_truth(&csv)) else {
            println!("{system:<12} missing");
            continue;
        };
        let raw: Vec<String> = raw.lines().map(mask).collect();
        let ids: Vec<String> = truth.iter().map(|(id, _)| id.clone()).collect();
        let content: Vec<String> = truth.iter().map(|(_, c)| mask(c)).collect();
        if raw.len() != ids.len() {
            println!(
                "{system:<12} {} log lines but {} rows",
                raw.len(),
                ids.len()
            );
        }
        if explain.as_deref() == Some(system) {
            explain_splits(&raw, &ids);
        }
        let a_raw = grouping_accuracy(&raw, &ids);
        let a_content = grouping_accuracy(&content, &ids);
        println!("{system:<12} {a_raw:>8.3} {a_content:>8.3} {drain:>8.3}");
        sum_raw += a_raw;
        sum_content += a_content;
        sum_drain += drain;
        n += 1;
    }
    if n > 0 {
        let n = n as f64;
        println!(
            "{:<12} {:>8.3} {:>8.3} {:>8.3}",
            "mean",
            sum_raw / n,
            sum_content / n,
            sum_drain / n
        );
    }
    Ok(())
}
