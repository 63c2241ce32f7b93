//! `opensoc parity A.jsonl B.jsonl`: compares two predictions files written by `opensoc eval`
//! (two machines, two builds, two backends run apart) with the eval's own parity measure, and
//! fails when they agree on too few entries.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use opensoc::eval::{parity, Parity};
use opensoc::report;

/// Arguments of `opensoc parity`.
#[derive(Debug, Args)]
#[command(
    after_help = "Agreement is the share of entries (of either file, matched by index) whose \
                  threat type, technique, tactic, severity, risk score and validity are all \
                  identical; an entry only one file has counts as a disagreement.\n\
                  Exit status: 0 agreement at or above --min-agreement, 1 below, 2 error.\n\
                  Example: opensoc parity x86.jsonl aarch64.jsonl"
)]
pub struct ParityArgs {
    /// First predictions file (JSONL, as `opensoc eval --predictions` writes).
    #[arg(value_name = "A.jsonl")]
    a: PathBuf,
    /// Second predictions file.
    #[arg(value_name = "B.jsonl")]
    b: PathBuf,
    /// Print one JSON object (the parity, the agreement and the verdict) instead of the table.
    #[arg(long)]
    json: bool,
    /// Lowest share of entries that must agree on every field (0 to 1).
    #[arg(long, value_name = "SHARE", default_value_t = 0.98, value_parser = share)]
    min_agreement: f64,
}

/// Parses a share between 0 and 1.
fn share(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number between 0 and 1"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

/// The outcome of comparing two predictions files.
#[derive(Debug)]
struct Comparison {
    parity: Parity,
    /// Distinct entry indices in either file.
    union: usize,
}

impl Comparison {
    /// Entries identical on every field over all entries of either file.
    fn agreement(&self) -> f64 {
        if self.union == 0 {
            0.0
        } else {
            self.parity.identical_all_fields as f64 / self.union as f64
        }
    }
}

/// A file's name in the table: its stem (`x86` for `out/x86.jsonl`).
fn display_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Reads both files and compares them.
fn compare(a: &Path, b: &Path) -> anyhow::Result<Comparison> {
    let pa = report::read_predictions(a)?;
    let pb = report::read_predictions(b)?;
    if pa.is_empty() && pb.is_empty() {
        bail!(
            "{} and {} hold no predictions to compare",
            a.display(),
            b.display()
        );
    }
    let (mut na, mut nb) = (display_name(a), display_name(b));
    if na == nb {
        // Same stem in two directories: the full paths tell the rows apart.
        (na, nb) = (a.display().to_string(), b.display().to_string());
    }
    let union: HashSet<usize> = pa.iter().chain(&pb).map(|p| p.index).collect();
    Ok(Comparison {
        parity: parity(&na, &pa, &nb, &pb),
        union: union.len(),
    })
}

/// Runs the comparison and prints it.
pub fn run(args: ParityArgs) -> anyhow::Result<ExitCode> {
    let c = compare(&args.a, &args.b).context("comparing predictions")?;
    let agreement = c.agreement();
    let pass = agreement >= args.min_agreement;
    if args.json {
        let mut v = serde_json::to_value(&c.parity)?;
        v["union_entries"] = c.union.into();
        v["agreement"] = agreement.into();
        v["min_agreement"] = args.min_agreement.into();
        v["pass"] = pass.into();
        println!("{v}");
    } else {
        print!(
            "{}",
            report::parity_markdown(std::slice::from_ref(&c.parity))
        );
        println!(
            "\nagreement {}/{} entries ({:.1}%), minimum {:.1}%: {}",
            c.parity.identical_all_fields,
            c.union,
            agreement * 100.0,
            args.min_agreement * 100.0,
            if pass { "pass" } else { "FAIL" }
        );
    }
    Ok(if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opensoc::eval::Prediction;

    fn write(dir: &Path, name: &str, preds: &[Prediction]) -> PathBuf {
        let path = dir.join(name);
        report::write_predictions(&path, preds).expect("writes");
        path
    }

    fn entry(i: usize, threat: &str, severity: &str) -> Prediction {
        let out = format!(
            "THREAT_TYPE: {threat}\nMITRE_TECHNIQUE: T1190\nMITRE_TACTIC: Initial Access\n\
             SEVERITY: {severity}\nRISK_SCORE: 80\nEVIDENCE: e\nIMPACT: i\nRECOMMENDATION: r"
        );
        Prediction::from_output(i, &out, 10)
    }

    #[test]
    fn counts_disagreements_and_missing_entries() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a: Vec<Prediction> = (0..4).map(|i| entry(i, "SQL Injection", "HIGH")).collect();
        let mut b = a.clone();
        b[1] = entry(1, "SQL Injection", "LOW");
        b.pop(); // entry 3 only in a
        let (pa, pb) = (
            write(dir.path(), "x86.jsonl", &a),
            write(dir.path(), "arm.jsonl", &b),
        );
        let c = compare(&pa, &pb).expect("compares");
        assert_eq!((c.parity.a.as_str(), c.parity.b.as_str()), ("x86", "arm"));
        assert_eq!(c.parity.entries, 3);
        assert_eq!(c.parity.identical_all_fields, 2);
        assert_eq!(c.union, 4);
        assert_eq!(c.agreement(), 0.5);
        let severity = c.parity.per_field.iter().find(|(f, _)| f == "severity");
        assert_eq!(severity, Some(&("severity".to_string(), 2)));

        let same = compare(&pa, &pa).expect("compares");
        assert_eq!(same.agreement(), 1.0);
        // One stem for both rows: the full paths tell them apart.
        assert_eq!(same.parity.a, pa.display().to_string());
    }

    #[test]
    fn empty_or_broken_files_are_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = write(dir.path(), "e.jsonl", &[]);
        assert!(compare(&empty, &empty).is_err());
        let broken = dir.path().join("b.jsonl");
        std::fs::write(&broken, "{not json\n").expect("writes");
        let err = compare(&broken, &empty).expect_err("fails").to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(compare(&dir.path().join("missing.jsonl"), &empty).is_err());
    }

    #[test]
    fn share_accepts_only_0_to_1() {
        assert_eq!(share("0.98"), Ok(0.98));
        assert_eq!(share("1"), Ok(1.0));
        assert!(share("1.5").is_err());
        assert!(share("-0.1").is_err());
        assert!(share("abc").is_err());
        assert!(share("NaN").is_err());
    }
}
