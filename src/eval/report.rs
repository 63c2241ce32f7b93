//! What an eval run leaves on disk: the predictions file (JSONL), a Markdown report and a
//! confusion-matrix picture (SVG) next to it.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::eval::metrics::{Confusion, Metrics, Prediction};

use crate::eval::parity::{Parity, PARITY_FIELDS};
use crate::util::atomic_file::write_atomically;

/// Why a predictions file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file could not be opened or read.
    #[error("cannot read predictions file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: io::Error,
    },
    /// A line is not a prediction.
    #[error("predictions file {path}, line {line}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        source: serde_json::Error,
    },
}

/// Writes one JSON line per prediction, in index order; the file appears whole or not at all.
pub fn write_predictions(path: &Path, preds: &[Prediction]) -> io::Result<()> {
    let with_path = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut sorted: Vec<&Prediction> = preds.iter().collect();
    sorted.sort_by_key(|p| p.index);
    write_atomically(path, with_path, |w| {
        for p in &sorted {
            serde_json::to_writer(&mut *w, p)
                .map_err(io::Error::from)
                .map_err(with_path)?;
            w.write_all(b"\n").map_err(with_path)?;
        }
        Ok(())
    })
}

/// Reads a predictions file written by [`write_predictions`] (or in DESIGN.md's shorter line
/// format); blank lines are skipped.
pub fn read_predictions(path: &Path) -> Result<Vec<Prediction>, ReportError> {
    let read_err = |source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(read_err)?;
        if line.trim().is_empty() {
            continue;
        }
        let p = serde_json::from_str(&line).map_err(|source| ReportError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        out.push(p);
    }
    Ok(out)
}

/// The report and picture paths next to a predictions file: `p.jsonl` gives `p.report.md` and
/// `p.confusion.svg` (another name gets the suffixes appended).
pub fn companion_paths(predictions: &Path) -> (PathBuf, PathBuf) {
    let base: OsString = if predictions.extension().is_some_and(|e| e == "jsonl") {
        predictions.with_extension("").into_os_string()
    } else {
        predictions.as_os_str().to_owned()
    };
    let with = |suffix: &str| {
        let mut s = base.clone();
        s.push(suffix);
        PathBuf::from(s)
    };
    (with(".report.md"), with(".confusion.svg"))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A table cell: pipes would end the cell and newlines the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The Markdown report: headline metrics, per-class scores, confusion matrix, and the parity
/// table when backends were compared.
pub fn markdown(title: &str, m: &Metrics, parity: &[Parity]) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(s, "# {}\n", title.replace(['\n', '\r'], " "));
    s.push_str("| metric | value |\n| --- | --- |\n");
    let rows: [(&str, String); 17] = [
        ("entries", m.n.to_string()),
        (
            "threat accuracy (strict, the paper's)",
            pct(m.strict_threat_accuracy),
        ),
        ("category accuracy", pct(m.category_accuracy)),
        ("macro precision", format!("{:.3}", m.macro_precision)),
        ("macro recall", format!("{:.3}", m.macro_recall)),
        ("macro F1", format!("{:.3}", m.macro_f1)),
        ("severity accuracy", pct(m.severity_accuracy)),
        ("technique accuracy", pct(m.technique_accuracy)),
        ("tactic accuracy", pct(m.tactic_accuracy)),
        (
            "risk score MAE",
            m.risk_mae.map_or("–".to_string(), |x| format!("{x:.1}")),
        ),
        (
            "false-positive rate (benign references flagged)",
            m.false_positive_rate.map_or("–".to_string(), pct),
        ),
        (
            "detection recall (threat references flagged)",
            m.detection_recall.map_or("–".to_string(), pct),
        ),
        ("valid rate", pct(m.valid_rate)),
        ("latency p50", format!("{} ms", m.latency_p50_ms)),
        ("latency p90", format!("{} ms", m.latency_p90_ms)),
        ("entries per minute", format!("{:.1}", m.entries_per_minute)),
        ("total time", format!("{:.1} s", m.total_s)),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }

    s.push_str("\n## Per category\n\n");
    if m.per_class.is_empty() {
        s.push_str("No categories.\n");
    } else {
        s.push_str("| category | support | predicted | precision | recall | F1 |\n");
        s.push_str("| --- | ---: | ---: | ---: | ---: | ---: |\n");
        for c in &m.per_class {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} | {:.3} | {:.3} |",
                cell(&c.class),
                c.support,
                c.predicted,
                c.precision,
                c.recall,
                c.f1
            );
        }
    }

    s.push_str("\n## Confusion matrix\n\n");
    let c = &m.confusion;
    if c.counts.is_empty() {
        s.push_str("No entries.\n");
    } else {
        s.push_str("Rows: reference category; columns: predicted category.\n\n");
        s.push_str("| reference \\ predicted |");
        for l in &c.labels {
            let _ = write!(s, " {} |", cell(l));
        }
        s.push_str("\n| --- |");
        s.push_str(&" ---: |".repeat(c.labels.len()));
        s.push('\n');
        for (label, row) in c.row_labels().iter().zip(&c.counts) {
            let _ = write!(s, "| {} |", cell(label));
            for n in row {
                let _ = write!(s, " {n} |");
            }
            s.push('\n');
        }
    }

    if !parity.is_empty() {
        s.push('\n');
        s.push_str(&parity_markdown(parity));
    }
    s
}

/// The parity section of the report (a heading and one table row per pair of backends); `opensoc
/// parity` prints it for two predictions files.
pub fn parity_markdown(parity: &[Parity]) -> String {
    let mut s = String::new();
    s.push_str("## Parity between backends\n\n| backends | entries | identical |");
    for f in PARITY_FIELDS {
        let _ = write!(s, " {f} |");
    }
    s.push_str(" max logit diff |\n| --- | ---: | ---: |");
    s.push_str(&" ---: |".repeat(PARITY_FIELDS.len() + 1));
    s.push('\n');
    for p in parity {
        let _ = write!(
            s,
            "| {} vs {} | {} | {} ({}) |",
            cell(&p.a),
            cell(&p.b),
            p.entries,
            p.identical_all_fields,
            pct(p.identical_share())
        );
        for f in PARITY_FIELDS {
            let same = p
                .per_field
                .iter()
                .find(|(name, _)| name == f)
                .map_or("–".to_string(), |(_, n)| n.to_string());
            let _ = write!(s, " {same} |");
        }
        let diff = p
            .max_logit_diff
            .map_or("–".to_string(), |d| format!("{d:.3e}"));
        let _ = writeln!(s, " {diff} |");
    }
    s
}

/// Text made safe for XML content and attribute values; characters XML 1.0 forbids are dropped.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

const CELL: usize = 36;
const PAD: usize = 12;
const FONT: usize = 12;
/// Rough advance of one character at FONT px in a sans-serif face; only sizes the margins.
const CHAR_W: usize = 7;
const AXIS_TITLE: usize = 22;

/// Cell colour: white for 0, deep blue for the whole row.
fn shade(frac: f64) -> String {
    let f = frac.clamp(0.0, 1.0);
    let mix = |lo: f64, hi: f64| (hi + (lo - hi) * f).round() as u8;
    format!(
        "rgb({},{},{})",
        mix(8.0, 255.0),
        mix(81.0, 255.0),
        mix(156.0, 255.0)
    )
}

/// The confusion matrix as a self-contained SVG: one row per reference category, one column
/// per predicted category, each cell shaded by its share of the row and labelled with its count.
pub fn confusion_svg(c: &Confusion) -> String {
    let rows = c.row_labels();
    let cols = &c.labels;
    let longest = |ls: &[String]| ls.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let row_label_w = longest(rows) * CHAR_W + PAD;
    let col_label_h = longest(cols) * CHAR_W + PAD;
    let left = PAD + AXIS_TITLE + row_label_w;
    let top = PAD;
    let grid_w = cols.len() * CELL;
    let grid_h = rows.len() * CELL;
    let width = (left + grid_w + PAD).max(240);
    let height = top + grid_h + col_label_h + AXIS_TITLE + PAD;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{FONT}">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#
    );
    if rows.is_empty() {
        let _ = writeln!(
            s,
            r#"<text x="{PAD}" y="{}">no entries</text>"#,
            top + FONT + AXIS_TITLE
        );
    }

    for (i, (label, counts)) in rows.iter().zip(&c.counts).enumerate() {
        let y = top + i * CELL;
        let total: usize = counts.iter().sum();
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>"#,
            left - 6,
            y + CELL / 2,
            xml_escape(label)
        );
        for (j, &n) in counts.iter().enumerate() {
            let x = left + j * CELL;
            let frac = if total == 0 {
                0.0
            } else {
                n as f64 / total as f64
            };
            // Reference labels are the first labels, so the diagonal is where the answer is right.
            let stroke = if i == j {
                r##"stroke="#333" stroke-width="2""##
            } else {
                r##"stroke="#ccc" stroke-width="1""##
            };
            let tip = format!(
                "reference {} / predicted {}: {n} of {total}",
                label,
                cols.get(j).map_or("", String::as_str)
            );
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{}" {stroke}><title>{}</title></rect>"#,
                shade(frac),
                xml_escape(&tip)
            );
            let ink = if frac > 0.5 {
                "white"
            } else if n == 0 {
                "#bbb"
            } else {
                "black"
            };
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="middle" dominant-baseline="middle" fill="{ink}">{n}</text>"#,
                x + CELL / 2,
                y + CELL / 2
            );
        }
    }

    let label_y = top + grid_h + 6;
    for (j, label) in cols.iter().enumerate() {
        let x = left + j * CELL + CELL / 2;
        // Rotated a quarter turn and anchored at its end so it hangs down from the column.
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{label_y}" text-anchor="end" dominant-baseline="middle" transform="rotate(-90 {x} {label_y})">{}</text>"#,
            xml_escape(label)
        );
    }

    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="14" font-weight="bold">predicted</text>"#,
        left + grid_w / 2,
        top + grid_h + col_label_h + AXIS_TITLE - 4
    );
    let (rx, ry) = (PAD + AXIS_TITLE / 2 + 4, top + grid_h / 2);
    let _ = writeln!(
        s,
        r#"<text x="{rx}" y="{ry}" text-anchor="middle" font-size="14" font-weight="bold" transform="rotate(-90 {rx} {ry})">reference</text>"#
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::metrics::{score, Gold};
    use crate::eval::parity::parity;

    fn preds() -> Vec<Prediction> {
        vec![
            Prediction::from_output(
                2,
                "THREAT_TYPE: Brute Force Attack\nMITRE_TECHNIQUE: T1110\nMITRE_TACTIC: Credential Access\nSEVERITY: HIGH\nRISK_SCORE: 70\n",
                120,
            ),
            Prediction::from_output(0, "nothing useful, \"quoted\"\nsecond line", 80),
            Prediction::from_output(1, "THREAT_TYPE: SQL Injection — Union", 95),
        ]
    }

    #[test]
    fn predictions_round_trip_in_index_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("run.jsonl");
        let p = preds();
        write_predictions(&path, &p).expect("writes");
        let text = std::fs::read_to_string(&path).expect("reads back");
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().all(|l| l.starts_with('{') && l.ends_with('}')));
        let back = read_predictions(&path).expect("parses");
        let mut want = p.clone();
        want.sort_by_key(|p| p.index);
        assert_eq!(back, want);
        // Only the result is left in the directory, no temp file.
        assert_eq!(std::fs::read_dir(dir.path()).expect("lists").count(), 1);
        // Overwrites a previous run.
        write_predictions(&path, &p[..1]).expect("rewrites");
        assert_eq!(read_predictions(&path).expect("parses").len(), 1);
    }

    #[test]
    fn reading_reports_file_and_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.jsonl");
        let good = serde_json::to_string(&preds()[0]).expect("serialises");
        std::fs::write(&path, format!("{good}\n\n{{\"index\": \"zero\"}}\n")).expect("writes");
        let e = read_predictions(&path).unwrap_err();
        assert!(matches!(e, ReportError::Parse { line: 3, .. }), "{e}");
        assert!(e.to_string().contains("bad.jsonl"), "{e}");
        let e = read_predictions(&dir.path().join("absent.jsonl")).unwrap_err();
        assert!(matches!(e, ReportError::Read { .. }), "{e}");
        let e = write_predictions(&dir.path().join("no/such/dir/x.jsonl"), &preds()).unwrap_err();
        assert!(e.to_string().contains("x.jsonl"), "{e}");
    }

    #[test]
    fn companions_sit_next_to_the_predictions() {
        assert_eq!(
            companion_paths(Path::new("out/p.jsonl")),
            (
                PathBuf::from("out/p.report.md"),
                PathBuf::from("out/p.confusion.svg")
            )
        );
        assert_eq!(
            companion_paths(Path::new("run.v2.jsonl")).0,
            PathBuf::from("run.v2.report.md")
        );
        assert_eq!(
            companion_paths(Path::new("preds")).1,
            PathBuf::from("preds.confusion.svg")
        );
    }

    fn metrics() -> Metrics {
        let golds: Vec<Gold> = [
            "THREAT_TYPE: Cross-Site Scripting (XSS) <b> & co — Reflected",
            "THREAT_TYPE: SQL Injection — Union",
            "THREAT_TYPE: Brute Force Attack",
            "THREAT_TYPE: Pipe | Attack",
        ]
        .iter()
        .map(|o| Gold::from_output(o))
        .collect();
        let mut p = preds();
        p.push(Prediction::from_output(
            3,
            "THREAT_TYPE: Cross-Site Scripting (XSS) <b> & co",
            10,
        ));
        score(&golds, &p, 2.0)
    }

    /// Checks that tags nest and close and that every `&` starts an entity: enough to catch a
    /// label written unescaped.
    fn assert_well_formed(xml: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = xml;
        while let Some(open) = rest.find('<') {
            let close = rest[open..].find('>').expect("tag closes") + open;
            let tag = &rest[open + 1..close];
            assert!(!tag.contains('<'), "raw < inside a tag: {tag}");
            let name = |t: &str| {
                t.split(|c: char| c.is_whitespace() || c == '/')
                    .next()
                    .unwrap_or("")
                    .to_string()
            };
            if let Some(end) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name(end).as_str()), "at {tag}");
            } else if !tag.ends_with('/') {
                stack.push(name(tag));
            }
            rest = &rest[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        for (i, _) in xml.match_indices('&') {
            let ent = &xml[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| ent.starts_with(e)),
                "bare & at {}",
                &xml[i..(i + 12).min(xml.len())]
            );
        }
    }

    #[test]
    fn svg_is_well_formed_and_escapes_labels() {
        let m = metrics();
        let svg = confusion_svg(&m.confusion);
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        assert_well_formed(&svg);
        assert!(svg.contains("Cross-Site Scripting (XSS) &lt;b&gt; &amp; co"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains(">reference</text>") && svg.contains(">predicted</text>"));
        assert!(svg.contains("rotate(-90"));
        // One shaded cell per row and column.
        let cells = m.confusion.counts.len() * m.confusion.labels.len();
        assert_eq!(svg.matches("<rect x=").count(), cells + 1);
        // A full row is the darkest shade; an empty cell is white.
        assert!(svg.contains("fill=\"rgb(8,81,156)\""));
        assert!(svg.contains("fill=\"rgb(255,255,255)\""));

        let empty = confusion_svg(&Confusion {
            labels: vec![],
            counts: vec![],
        });
        assert_well_formed(&empty);
        assert!(empty.contains("no entries"));
    }

    #[test]
    fn markdown_has_the_headline_per_class_confusion_and_parity() {
        let m = metrics();
        let md = markdown("Eval: soc_eval.json", &m, &[]);
        assert!(md.starts_with("# Eval: soc_eval.json\n"));
        assert!(md.contains("| threat accuracy (strict, the paper's) | "));
        assert!(md.contains("| macro F1 | "));
        assert!(md.contains("| latency p90 | 120 ms |"), "{md}");
        for c in &m.per_class {
            let row = format!("| {} | {} | {} |", cell(&c.class), c.support, c.predicted);
            assert!(md.contains(&row), "missing {row} in\n{md}");
        }
        assert!(
            md.contains("| Brute Force Attack | 1 | 1 | 1.000 | 1.000 | 1.000 |"),
            "{md}"
        );
        assert!(
            md.contains("| Pipe \\| Attack | 1 | 0 | 0.000 | 0.000 | 0.000 |"),
            "{md}"
        );
        assert!(md.contains("| reference \\ predicted |"));
        assert!(md.contains("(invalid)"));
        assert!(!md.contains("## Parity"));

        let pr = parity("cpu", &preds(), "wgpu", &preds());
        let md = markdown("t", &m, &[pr]);
        assert!(md.contains("## Parity between backends"));
        assert!(
            md.contains("| cpu vs wgpu | 3 | 3 (100.0%) | 3 | 3 | 3 | 3 | 3 | 3 | – |"),
            "{md}"
        );
    }
}
