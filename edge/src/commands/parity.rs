//! `opensoc parity A.jsonl B.jsonl`: compares two predictions files written by `opensoc eval`
//! (two machines, two builds, two backends run apart) with the eval's own parity measure, and
//! fails when they agree on too few entries.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use opensoc::eval::parity::{parity, Parity};
use opensoc::eval::report;

/// Arguments of `opensoc parity`.
#[derive(Debug, Args)]
#[command(
    after_help = "Agreement is the share of entries (of either file, matched by index) whose \
                  threat type, technique, tactic, severity, risk score and validity are all \
                  identical; an entry only one file has counts as a disagreement.\n\
                  With --near-tie, an entry that differs only where both backends' schema \
                  choices were closer than that many logits to a tie (the `closest_margin` \
                  that `opensoc eval` records) counts as agreeing: arithmetic that rounds \
                  differently flips such choices, a wrong kernel flips wide ones.\n\
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
    /// Count a difference as agreement when both predictions' closest margins are below this
    /// many logits (off by default: every difference counts).
    #[arg(long, value_name = "LOGITS", value_parser = logits)]
    near_tie: Option<f32>,
}

/// Parses a positive number of logits.
fn logits(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a positive number of logits")),
    }
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
    /// Entries identical on every field, plus the differences at near-ties when `near_tie`
    /// is given, over all entries of either file.
    fn agreement(&self, near_tie: Option<f32>) -> f64 {
        if self.union == 0 {
            return 0.0;
        }
        let ties = near_tie.map_or(0, |t| self.parity.near_ties(t));
        (self.parity.identical_all_fields + ties) as f64 / self.union as f64
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
    let agreement = c.agreement(args.near_tie);
    let pass = agreement >= args.min_agreement;
    let ties = args.near_tie.map_or(0, |t| c.parity.near_ties(t));
    if args.json {
        let mut v = serde_json::to_value(&c.parity)?;
        v["union_entries"] = c.union.into();
        v["near_tie"] = args.near_tie.into();
        v["near_tie_differences"] = ties.into();
        v["agreement"] = agreement.into();
        v["min_agreement"] = args.min_agreement.into();
        v["pass"] = pass.into();
        println!("{v}");
    } else {
        print!(
            "{}",
            report::parity_markdown(std::slice::from_ref(&c.parity))
        );
        for d in &c.parity.differences {
            let margin = d
                .closest_margin
                .map_or_else(|| "not recorded".to_string(), |m| format!("{m:.3} logits"));
            println!("entry {} differs; closest margin {margin}", d.index);
        }
        let with_ties = match args.near_tie {
            Some(t) => format!(" + {ties} near-tie (margins below {t} logits)"),
            None => String::new(),
        };
        println!(
            "\nagreement {}{with_ties}/{} entries ({:.1}%), minimum {:.1}%: {}",
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
    use opensoc::eval::metrics::Prediction;

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
        assert_eq!(c.agreement(None), 0.5);
        // Entry 1 differs without recorded margins: never a near-tie.
        assert_eq!(c.agreement(Some(100.0)), 0.5);
        let severity = c.parity.per_field.iter().find(|(f, _)| f == "severity");
        assert_eq!(severity, Some(&("severity".to_string(), 2)));

        let same = compare(&pa, &pa).expect("compares");
        assert_eq!(same.agreement(None), 1.0);
        // One stem for both rows: the full paths tell them apart.
        assert_eq!(same.parity.a, pa.display().to_string());
    }

    #[test]
    fn differences_at_near_ties_count_only_when_asked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut a: Vec<Prediction> = (0..4).map(|i| entry(i, "SQL Injection", "HIGH")).collect();
        let mut b = a.clone();
        b[1] = entry(1, "SQL Injection", "LOW");
        b[2] = entry(2, "Brute Force Attack", "HIGH");
        for p in a.iter_mut().chain(b.iter_mut()) {
            p.closest_margin = Some(4.0);
        }
        // Entry 1's severity was a near-tie on both backends; entry 2 was not.
        a[1].closest_margin = Some(0.3);
        b[1].closest_margin = Some(0.6);
        let (pa, pb) = (
            write(dir.path(), "cpu.jsonl", &a),
            write(dir.path(), "wgpu.jsonl", &b),
        );
        let c = compare(&pa, &pb).expect("compares");
        assert_eq!(c.agreement(None), 0.5);
        assert_eq!(
            c.agreement(Some(0.5)),
            0.5,
            "0.6 on one side is not below 0.5"
        );
        assert_eq!(c.agreement(Some(1.0)), 0.75);
        assert_eq!(c.agreement(Some(5.0)), 1.0);
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
        assert_eq!(logits("1.5"), Ok(1.5));
        for bad in ["0", "-1", "inf", "NaN", "x"] {
            assert!(logits(bad).is_err(), "{bad}");
        }
    }
}
