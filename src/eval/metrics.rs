//! Eval metrics (DESIGN.md, "Metrics"): predictions and reference labels read from verdict
//! blocks, the paper's strict threat accuracy, category accuracy with macro precision, recall
//! and F1, per-field accuracies, latency and throughput, and parity between two backends.
//!
//! Model-independent: whatever runs the model hands in [`Prediction`]s.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::task::taxonomy::taxonomy;
use crate::task::verdict::{normalize_technique, strict_threat, ParsedVerdict, Severity};

/// The pseudo category of a prediction without a readable threat type (or no prediction at all).
pub const INVALID: &str = "(invalid)";

/// The pseudo category of a reference block without a readable threat type.
pub const UNLABELLED: &str = "(unlabelled)";

/// One predictions line (DESIGN.md's format, plus the raw output text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// 0-based position of the entry in the data file.
    pub index: usize,
    /// THREAT_TYPE with its subtype.
    pub threat_type: Option<String>,
    /// The threat type without its subtype.
    pub category: Option<String>,
    /// Normalised technique id (`T1190`, `T1110.001`, `N/A`).
    pub mitre_technique: Option<String>,
    /// MITRE_TACTIC as written.
    pub mitre_tactic: Option<String>,
    /// SEVERITY.
    pub severity: Option<Severity>,
    /// RISK_SCORE, 0 to 100.
    pub risk_score: Option<u8>,
    /// Whether every structured field was produced and parsed.
    pub valid: bool,
    /// Wall time the model took for this entry.
    pub latency_ms: u64,
    /// The text the model wrote; lines in DESIGN.md's shorter format read as empty.
    #[serde(default)]
    pub output: String,
    /// The prompt's and the output's token ids, when asked for (peer comparisons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ids: Option<TokenIds>,
    /// A second threat type found in a half of the window, when asked for ([`crate::analyze::stages`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary: Option<String>,
    /// How near the model's schema choices came to a tie (`DecodeStats::closest_margin`), in
    /// logits; absent for outputs read from text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closest_margin: Option<f32>,
}

/// A prediction's token ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIds {
    /// The prompt as fed to the model.
    pub prompt: Vec<u32>,
    /// What followed it.
    pub output: Vec<u32>,
}

impl Prediction {
    /// The prediction a model's output text makes, parsed with [`ParsedVerdict`].
    pub fn from_output(index: usize, output: &str, latency_ms: u64) -> Prediction {
        let p = ParsedVerdict::parse(output);
        Prediction {
            index,
            category: p.category().map(str::to_string),
            valid: p.is_valid(),
            threat_type: p.threat_type,
            mitre_technique: p.mitre_technique,
            mitre_tactic: p.mitre_tactic,
            severity: p.severity,
            risk_score: p.risk_score,
            latency_ms,
            output: output.to_string(),
            token_ids: None,
            secondary: None,
            closest_margin: None,
        }
    }
}

/// The reference labels of one example, read from its `output` with the same parser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gold {
    /// THREAT_TYPE with its subtype.
    pub threat_type: Option<String>,
    /// The threat type without its subtype.
    pub category: Option<String>,
    /// Normalised technique id.
    pub mitre_technique: Option<String>,
    /// MITRE_TACTIC.
    pub mitre_tactic: Option<String>,
    /// SEVERITY.
    pub severity: Option<Severity>,
    /// RISK_SCORE (for the mean absolute error).
    pub risk_score: Option<u8>,
    /// The paper's strict extraction of the reference text.
    pub strict: Option<String>,
}

impl Gold {
    /// The labels of a reference block.
    pub fn from_output(output: &str) -> Gold {
        let p = ParsedVerdict::parse(output);
        Gold {
            category: p.category().map(str::to_string),
            threat_type: p.threat_type,
            mitre_technique: p.mitre_technique,
            mitre_tactic: p.mitre_tactic,
            severity: p.severity,
            risk_score: p.risk_score,
            strict: strict_threat(output),
        }
    }
}

/// Precision, recall and F1 of one category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    /// The category as the reference spells it (or the first prediction, if never a reference).
    pub class: String,
    /// Entries whose reference is this category.
    pub support: usize,
    /// Entries predicted as this category.
    pub predicted: usize,
    /// Correct / predicted; 0 when never predicted.
    pub precision: f64,
    /// Correct / support; 0 when never a reference.
    pub recall: f64,
    /// 2PR/(P+R); 0 when P+R is 0.
    pub f1: f64,
}

/// Counts of reference category (rows) against predicted category (columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Every label: the reference categories sorted case-insensitively, then
    /// [`UNLABELLED`] if it occurs, then categories only predicted (sorted), then [`INVALID`]
    /// if it occurs. Columns are all of them.
    pub labels: Vec<String>,
    /// `counts[i][j]`: entries with reference `labels[i]` predicted as `labels[j]`. There is one
    /// row per reference label only, i.e. `counts.len()` rows, which are the first labels.
    pub counts: Vec<Vec<usize>>,
}

impl Confusion {
    /// The labels of the rows (the reference categories).
    pub fn row_labels(&self) -> &[String] {
        &self.labels[..self.counts.len()]
    }
}

/// Every figure of one eval run; rates are shares in 0..=1, never NaN.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Entries scored (the number of reference examples).
    pub n: usize,
    /// Share of entries whose prediction has every structured field.
    pub valid_rate: f64,
    /// The paper's threat accuracy: strict extraction of the output equals the reference's.
    pub strict_threat_accuracy: f64,
    /// Share of entries with the reference category (case-insensitive).
    pub category_accuracy: f64,
    /// Mean precision over the categories (see [`score`] for which).
    pub macro_precision: f64,
    /// Mean recall over the categories.
    pub macro_recall: f64,
    /// Mean F1 over the categories.
    pub macro_f1: f64,
    /// Share of entries with the reference severity.
    pub severity_accuracy: f64,
    /// Share of entries with the reference technique id (sub-technique included).
    pub technique_accuracy: f64,
    /// Share of entries with the reference tactic (case-insensitive).
    pub tactic_accuracy: f64,
    /// Mean absolute risk-score error over entries where both scores exist.
    pub risk_mae: Option<f64>,
    /// Of the entries whose reference is benign, the share predicted as any threat (or left
    /// without a category); `None` when the data has no benign entry.
    pub false_positive_rate: Option<f64>,
    /// Of the entries whose reference is a threat, the share predicted as some threat (any
    /// category: the alert is raised); `None` when the data has no threat entry.
    pub detection_recall: Option<f64>,
    /// Median latency per entry (nearest rank).
    pub latency_p50_ms: u64,
    /// 90th percentile latency per entry (nearest rank).
    pub latency_p90_ms: u64,
    /// Throughput over the whole run: n / total_s * 60.
    pub entries_per_minute: f64,
    /// Wall time of the whole run.
    pub total_s: f64,
    /// Scores of each category, in confusion-label order.
    pub per_class: Vec<ClassScore>,
    /// Reference against predicted category.
    pub confusion: Confusion,
}

/// How category labels are compared: trimmed, case-insensitive.
fn label_key(s: &str) -> String {
    s.trim().to_lowercase()
}

fn same_text(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if label_key(a) == label_key(b))
}

/// `count / of`, 0 when `of` is 0.
pub(crate) fn share(count: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        count as f64 / of as f64
    }
}

/// 2PR/(P+R), 0 when undefined.
fn f1_of(p: f64, r: f64) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

/// The nearest-rank percentile `p` (0..=100) of `values`: the smallest value with at least p% of
/// values at or below it; 0 for no values.
pub fn percentile_nearest_rank(values: &[u64], p: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let p = if p.is_finite() {
        p.clamp(0.0, 100.0)
    } else {
        0.0
    };
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    // Rank 0 (p = 0) means the smallest value.
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// How well secondary findings match two-stage windows (`opensoc eval --secondary` on a data
/// file with a `.secondary.json` sidecar: one earlier-stage threat type, or "", per entry).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageMetrics {
    /// Entries with a second stage in the reference.
    pub two_stage: usize,
    /// Of those, the share whose primary and secondary findings name both stages' threat
    /// types (in either order).
    pub both_stages_found: f64,
    /// Of those, the share where the earlier stage appears as the primary or the secondary.
    pub earlier_stage_found: f64,
    /// Entries with one stage in the reference that were given a secondary anyway.
    pub spurious_secondary: usize,
    /// Entries with one stage in the reference.
    pub one_stage: usize,
}

/// Scores the predictions' secondary findings against `secondary` (parallel to `golds`).
pub fn score_stages(golds: &[Gold], secondary: &[String], preds: &[Prediction]) -> StageMetrics {
    let (mut two, mut both, mut earlier, mut one, mut spurious) = (0, 0, 0, 0, 0);
    for p in preds {
        let (Some(g), Some(second)) = (golds.get(p.index), secondary.get(p.index)) else {
            continue;
        };
        let found = [p.threat_type.as_deref(), p.secondary.as_deref()];
        if second.is_empty() {
            one += 1;
            spurious += usize::from(p.secondary.is_some());
            continue;
        }
        two += 1;
        let has = |t: &str| found.contains(&Some(t));
        let later = g.threat_type.as_deref().is_some_and(has);
        earlier += usize::from(has(second));
        both += usize::from(later && has(second));
    }
    let share = |k: usize| if two == 0 { 0.0 } else { k as f64 / two as f64 };
    StageMetrics {
        two_stage: two,
        both_stages_found: share(both),
        earlier_stage_found: share(earlier),
        spurious_secondary: spurious,
        one_stage: one,
    }
}

/// Scores predictions against references. `golds[i]` is entry `i`; a prediction is matched by
/// its `index` (the first one wins if an index repeats, out-of-range ones are ignored), and an
/// entry without a prediction counts as wrong on every metric. `total_s` is the run's wall time.
///
/// Category choices:
/// - Each metric judges its own field: a prediction that lacks, say, RISK_SCORE (so is not
///   `valid`) still scores on its category. Completeness is what `valid_rate` measures; folding
///   it into the category too would count the same failure twice.
/// - A prediction without a category (or a missing prediction) is a wrong prediction of the
///   pseudo class [`INVALID`]: it costs its reference class recall and shows as a confusion
///   column, but it is not averaged as a class, since "no answer" has no precision of its own
///   to report and averaging it would reward or punish the parser rather than the model.
/// - Macro averages run over every real category in the references or the predictions, so a
///   category the model invents (support 0) averages in as 0, as does one it never predicts.
pub fn score(golds: &[Gold], preds: &[Prediction], total_s: f64) -> Metrics {
    let n = golds.len();
    let mut matched: Vec<Option<&Prediction>> = vec![None; n];
    for p in preds {
        if let Some(slot @ None) = matched.get_mut(p.index) {
            *slot = Some(p);
        }
    }
    let pairs: Vec<(&Gold, Option<&Prediction>)> = golds.iter().zip(matched).collect();

    let count = |f: &dyn Fn(&Gold, &Prediction) -> bool| {
        pairs
            .iter()
            .filter(|(g, p)| p.is_some_and(|p| f(g, p)))
            .count()
    };
    let valid = count(&|_, p| p.valid);
    let strict = count(&|g, p| g.strict.is_some() && strict_threat(&p.output) == g.strict);
    let category = count(&|g, p| same_text(g.category.as_deref(), p.category.as_deref()));
    let severity = count(&|g, p| g.severity.is_some() && g.severity == p.severity);
    let technique = count(&|g, p| {
        // Normalised again so lines written by other tools (`T1190 (…)`) compare too.
        let norm = |t: &Option<String>| t.as_deref().and_then(normalize_technique);
        let gt = norm(&g.mitre_technique);
        gt.is_some() && gt == norm(&p.mitre_technique)
    });
    let tactic = count(&|g, p| same_text(g.mitre_tactic.as_deref(), p.mitre_tactic.as_deref()));

    let risk_errors: Vec<f64> = pairs
        .iter()
        .filter_map(|(g, p)| {
            let (a, b) = (g.risk_score?, p.as_ref()?.risk_score?);
            Some(f64::from(a.abs_diff(b)))
        })
        .collect();
    let risk_mae = (!risk_errors.is_empty())
        .then(|| risk_errors.iter().sum::<f64>() / risk_errors.len() as f64);

    let benign = label_key(&taxonomy().benign().category);
    let is_benign = |c: Option<&str>| c.is_some_and(|c| label_key(c) == benign);
    let gold_benign = pairs
        .iter()
        .filter(|(g, _)| is_benign(g.category.as_deref()))
        .count();
    let gold_threat = pairs
        .iter()
        .filter(|(g, _)| g.category.is_some() && !is_benign(g.category.as_deref()))
        .count();
    let flagged_benign = pairs
        .iter()
        .filter(|(g, p)| {
            is_benign(g.category.as_deref()) && !is_benign(p.and_then(|p| p.category.as_deref()))
        })
        .count();
    let detected = pairs
        .iter()
        .filter(|(g, p)| {
            g.category.is_some()
                && !is_benign(g.category.as_deref())
                && p.and_then(|p| p.category.as_deref())
                    .is_some_and(|c| label_key(c) != benign)
        })
        .count();
    let false_positive_rate = (gold_benign > 0).then(|| share(flagged_benign, gold_benign));
    let detection_recall = (gold_threat > 0).then(|| share(detected, gold_threat));

    let latencies: Vec<u64> = pairs
        .iter()
        .filter_map(|(_, p)| p.map(|p| p.latency_ms))
        .collect();
    let total_s = if total_s.is_finite() && total_s > 0.0 {
        total_s
    } else {
        0.0
    };
    let entries_per_minute = if total_s > 0.0 {
        n as f64 / total_s * 60.0
    } else {
        0.0
    };

    let layout = Layout::of(&pairs);
    let confusion = layout.confusion(&pairs);
    let per_class = class_scores(&confusion, &layout.real);
    let classes = per_class.len();
    let mean = |f: fn(&ClassScore) -> f64| {
        if classes == 0 {
            0.0
        } else {
            per_class.iter().map(f).sum::<f64>() / classes as f64
        }
    };

    Metrics {
        n,
        valid_rate: share(valid, n),
        strict_threat_accuracy: share(strict, n),
        category_accuracy: share(category, n),
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        severity_accuracy: share(severity, n),
        technique_accuracy: share(technique, n),
        tactic_accuracy: share(tactic, n),
        risk_mae,
        false_positive_rate,
        detection_recall,
        latency_p50_ms: percentile_nearest_rank(&latencies, 50.0),
        latency_p90_ms: percentile_nearest_rank(&latencies, 90.0),
        entries_per_minute,
        total_s,
        per_class,
        confusion,
    }
}

/// Where each label sits: real categories by key, the two pseudo classes apart so that a
/// category literally named "(invalid)" cannot be mistaken for one.
struct Layout {
    labels: Vec<String>,
    column: HashMap<String, usize>,
    rows: usize,
    unlabelled: Option<usize>,
    invalid: Option<usize>,
    /// Label positions of the real categories, in label order.
    real: Vec<usize>,
}

impl Layout {
    fn of(pairs: &[(&Gold, Option<&Prediction>)]) -> Layout {
        // key -> spelling; the first spelling seen (in entry order) names the class.
        let mut gold: BTreeMap<String, String> = BTreeMap::new();
        let mut predicted: BTreeMap<String, String> = BTreeMap::new();
        let (mut any_unlabelled, mut any_invalid) = (false, false);
        for (g, p) in pairs {
            match &g.category {
                Some(c) => {
                    gold.entry(label_key(c))
                        .or_insert_with(|| c.trim().to_string());
                }
                None => any_unlabelled = true,
            }
            match p.and_then(|p| p.category.as_ref()) {
                Some(c) => {
                    predicted
                        .entry(label_key(c))
                        .or_insert_with(|| c.trim().to_string());
                }
                None => any_invalid = true,
            }
        }
        let mut layout = Layout {
            labels: Vec::new(),
            column: HashMap::new(),
            rows: 0,
            unlabelled: None,
            invalid: None,
            real: Vec::new(),
        };
        for (key, label) in &gold {
            layout.push_real(key, label);
        }
        if any_unlabelled {
            layout.unlabelled = Some(layout.labels.len());
            layout.labels.push(UNLABELLED.to_string());
        }
        layout.rows = layout.labels.len();
        for (key, label) in &predicted {
            if !gold.contains_key(key) {
                layout.push_real(key, label);
            }
        }
        if any_invalid {
            layout.invalid = Some(layout.labels.len());
            layout.labels.push(INVALID.to_string());
        }
        layout
    }

    fn push_real(&mut self, key: &str, label: &str) {
        self.column.insert(key.to_string(), self.labels.len());
        self.real.push(self.labels.len());
        self.labels.push(label.to_string());
    }

    fn row(&self, g: &Gold) -> Option<usize> {
        match &g.category {
            Some(c) => self.column.get(&label_key(c)).copied(),
            None => self.unlabelled,
        }
    }

    fn col(&self, p: Option<&Prediction>) -> Option<usize> {
        match p.and_then(|p| p.category.as_ref()) {
            Some(c) => self.column.get(&label_key(c)).copied(),
            None => self.invalid,
        }
    }

    /// The confusion matrix of the pairs the layout was built from.
    fn confusion(&self, pairs: &[(&Gold, Option<&Prediction>)]) -> Confusion {
        let mut counts = vec![vec![0usize; self.labels.len()]; self.rows];
        for (g, p) in pairs {
            // Both always resolve for the pairs the layout was built from.
            if let (Some(i), Some(j)) = (self.row(g), self.col(*p)) {
                counts[i][j] += 1;
            }
        }
        Confusion {
            labels: self.labels.clone(),
            counts,
        }
    }
}

fn class_scores(c: &Confusion, real: &[usize]) -> Vec<ClassScore> {
    real.iter()
        .map(|&j| {
            let support: usize = c.counts.get(j).map_or(0, |row| row.iter().sum());
            let predicted: usize = c.counts.iter().map(|row| row[j]).sum();
            let correct = c.counts.get(j).map_or(0, |row| row[j]);
            let precision = share(correct, predicted);
            let recall = share(correct, support);
            ClassScore {
                class: c.labels[j].clone(),
                support,
                predicted,
                precision,
                recall,
                f1: f1_of(precision, recall),
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn block(
        threat: &str,
        technique: &str,
        tactic: &str,
        severity: &str,
        risk: &str,
    ) -> String {
        let mut s = String::new();
        for (k, v) in [
            ("THREAT_TYPE", threat),
            ("MITRE_TECHNIQUE", technique),
            ("MITRE_TACTIC", tactic),
            ("SEVERITY", severity),
            ("RISK_SCORE", risk),
        ] {
            if !v.is_empty() {
                s.push_str(&format!("{k}: {v}\n"));
            }
        }
        s.push_str("EVIDENCE: e\nIMPACT: i\nRECOMMENDATION: r\n");
        s
    }

    pub(crate) fn golds() -> Vec<Gold> {
        [
            block(
                "SQL Injection — X",
                "T1190 (Exploit Public-Facing Application)",
                "Initial Access",
                "CRITICAL",
                "90",
            ),
            block(
                "SQL Injection — Y",
                "Technique 1190",
                "Initial Access",
                "HIGH",
                "80",
            ),
            block(
                "Brute Force Attack",
                "T1110.001 (Password Guessing)",
                "Credential Access",
                "HIGH",
                "70",
            ),
            block(
                "Brute Force Attack",
                "T1110",
                "Credential Access",
                "MEDIUM",
                "50",
            ),
            block("Path Traversal", "T1083", "Discovery", "CRITICAL", "88"),
        ]
        .iter()
        .map(|o| Gold::from_output(o))
        .collect()
    }

    pub(crate) fn preds() -> Vec<Prediction> {
        let outputs = [
            // Right category, different case and dash: category yes, strict no.
            block(
                "sql injection - X",
                "T1190",
                "initial access",
                "Critical",
                "80",
            ),
            // Wrong category, right technique and severity.
            block(
                "Brute Force Attack",
                "T1190",
                "Credential Access",
                "HIGH",
                "80",
            ),
            // Right category and strict; sub-technique missing; wrong severity.
            block(
                "Brute Force Attack",
                "T1110",
                "Credential Access",
                "LOW",
                "70",
            ),
            // Nothing readable.
            "I think this is bad.".to_string(),
            // A category no reference has.
            block("Denial of Service", "T1498", "Impact", "CRITICAL", "100"),
        ];
        let latencies = [100, 300, 200, 50, 400];
        outputs
            .iter()
            .zip(latencies)
            .enumerate()
            // Out of order on purpose: matching is by index.
            .rev()
            .map(|(i, (o, l))| Prediction::from_output(i, o, l))
            .collect()
    }

    pub(crate) fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn false_positives_count_benign_references_flagged_and_recall_any_threat_raised() {
        let benign = "No Threat Detected — Normal Traffic";
        let golds: Vec<Gold> = [
            block(benign, "N/A", "N/A", "LOW", "5"),
            block(benign, "N/A", "N/A", "LOW", "5"),
            block(benign, "N/A", "N/A", "LOW", "5"),
            block(benign, "N/A", "N/A", "LOW", "5"),
            block(
                "SSH Brute Force Attack",
                "T1110",
                "Credential Access",
                "HIGH",
                "70",
            ),
            block(
                "SSH Brute Force Attack",
                "T1110",
                "Credential Access",
                "HIGH",
                "70",
            ),
        ]
        .iter()
        .map(|o| Gold::from_output(o))
        .collect();
        let outputs = [
            block(benign, "N/A", "N/A", "LOW", "5"),
            block(
                "Brute Force Attack",
                "T1110",
                "Credential Access",
                "HIGH",
                "70",
            ),
            "unreadable".to_string(),
            block(benign, "N/A", "N/A", "LOW", "5"),
            // Another threat category still raises the alert.
            block(
                "Credential Stuffing Attack",
                "T1110.004",
                "Credential Access",
                "HIGH",
                "70",
            ),
            block(benign, "N/A", "N/A", "LOW", "5"),
        ];
        let preds: Vec<Prediction> = outputs
            .iter()
            .enumerate()
            .map(|(i, o)| Prediction::from_output(i, o, 10))
            .collect();
        let m = score(&golds, &preds, 1.0);
        // Two of four benign entries flagged (one a threat, one unreadable).
        assert_eq!(m.false_positive_rate, Some(0.5));
        assert_eq!(m.detection_recall, Some(0.5));
        let only_threats = score(&golds[4..], &preds[4..], 1.0);
        assert_eq!(only_threats.false_positive_rate, None);
    }

    #[test]
    fn prediction_reads_the_block() {
        let p = Prediction::from_output(3, &golds_text(), 42);
        assert_eq!(p.index, 3);
        assert_eq!(p.threat_type.as_deref(), Some("SQL Injection — X"));
        assert_eq!(p.category.as_deref(), Some("SQL Injection"));
        assert_eq!(p.mitre_technique.as_deref(), Some("T1190"));
        assert_eq!(p.severity, Some(Severity::Critical));
        assert_eq!(p.risk_score, Some(90));
        assert!(p.valid);
        assert_eq!(p.latency_ms, 42);
        let g = Gold::from_output(&golds_text());
        assert_eq!(g.strict.as_deref(), Some("SQL INJECTION — X"));
        assert_eq!(g.category.as_deref(), Some("SQL Injection"));
    }

    fn golds_text() -> String {
        block(
            "SQL Injection — X",
            "T1190 (E)",
            "Initial Access",
            "CRITICAL",
            "90",
        )
    }

    #[test]
    fn scores_every_metric_on_a_known_case() {
        let m = score(&golds(), &preds(), 30.0);
        assert_eq!(m.n, 5);
        assert!(close(m.valid_rate, 0.8), "{}", m.valid_rate);
        assert!(close(m.strict_threat_accuracy, 0.2));
        assert!(close(m.category_accuracy, 0.4));
        assert!(close(m.severity_accuracy, 0.6));
        assert!(close(m.technique_accuracy, 0.4));
        assert!(close(m.tactic_accuracy, 0.4));
        assert_eq!(m.risk_mae, Some(5.5));
        assert_eq!((m.latency_p50_ms, m.latency_p90_ms), (200, 400));
        assert!(close(m.entries_per_minute, 10.0));
        assert!(close(m.total_s, 30.0));

        assert_eq!(
            m.confusion.labels,
            [
                "Brute Force Attack",
                "Path Traversal",
                "SQL Injection",
                "Denial of Service",
                INVALID
            ]
        );
        assert_eq!(
            m.confusion.counts,
            vec![
                vec![1, 0, 0, 0, 1],
                vec![0, 0, 0, 1, 0],
                vec![1, 0, 1, 0, 0],
            ]
        );
        assert_eq!(
            m.confusion.row_labels(),
            ["Brute Force Attack", "Path Traversal", "SQL Injection"]
        );

        let by: HashMap<&str, &ClassScore> =
            m.per_class.iter().map(|c| (c.class.as_str(), c)).collect();
        assert_eq!(by.len(), 4, "the invalid pseudo class is not a class");
        let check = |name: &str, support, predicted, p: f64, r: f64, f: f64| {
            let c = by[name];
            assert_eq!((c.support, c.predicted), (support, predicted), "{name}");
            assert!(
                close(c.precision, p) && close(c.recall, r) && close(c.f1, f),
                "{name}: {c:?}"
            );
        };
        check("Brute Force Attack", 2, 2, 0.5, 0.5, 0.5);
        // Never predicted: everything 0, no NaN.
        check("Path Traversal", 1, 0, 0.0, 0.0, 0.0);
        check("SQL Injection", 2, 1, 1.0, 0.5, 2.0 / 3.0);
        // Only predicted.
        check("Denial of Service", 0, 1, 0.0, 0.0, 0.0);
        assert!(close(m.macro_precision, 0.375));
        assert!(close(m.macro_recall, 0.25));
        assert!(close(m.macro_f1, 7.0 / 24.0));
    }

    #[test]
    fn missing_duplicate_and_stray_predictions() {
        let g = golds();
        let mut p = preds();
        p.retain(|p| p.index != 0); // entry 0 gets no prediction
        let mut dup = Prediction::from_output(2, "THREAT_TYPE: Path Traversal", 1);
        dup.index = 2;
        p.push(dup); // a later duplicate of entry 2: ignored
        p.push(Prediction::from_output(99, &golds_text(), 1)); // no such entry
        let m = score(&g, &p, 0.0);
        assert_eq!(m.n, 5);
        assert!(close(m.valid_rate, 0.6));
        assert!(close(m.category_accuracy, 0.2));
        assert!(close(m.strict_threat_accuracy, 0.2));
        // Entry 0 moves to the invalid column of its row.
        assert_eq!(m.confusion.counts[2], vec![1, 0, 0, 0, 1]);
        assert_eq!(m.risk_mae, Some(4.0));
        // Latencies of matched predictions only: 300, 200, 50, 400.
        assert_eq!((m.latency_p50_ms, m.latency_p90_ms), (200, 400));
        assert_eq!(m.entries_per_minute, 0.0, "no time given");
    }

    #[test]
    fn categories_merge_case_insensitively_and_keep_the_reference_spelling() {
        let g: Vec<Gold> = ["THREAT_TYPE: Brute Force", "THREAT_TYPE: brute force  "]
            .iter()
            .map(|o| Gold::from_output(o))
            .collect();
        let p = vec![
            Prediction::from_output(0, "THREAT_TYPE: BRUTE FORCE — SSH", 1),
            Prediction::from_output(1, "THREAT_TYPE: Brute force", 1),
        ];
        let m = score(&g, &p, 1.0);
        assert_eq!(m.confusion.labels, ["Brute Force"]);
        assert_eq!(m.confusion.counts, vec![vec![2]]);
        assert_eq!(m.category_accuracy, 1.0);
        assert_eq!(
            (m.macro_precision, m.macro_recall, m.macro_f1),
            (1.0, 1.0, 1.0)
        );
        assert_eq!(m.valid_rate, 0.0);
        assert_eq!(m.risk_mae, None);
        // The paper's extraction keeps the subtype and trailing spaces: neither is a strict match.
        assert_eq!(m.strict_threat_accuracy, 0.0);
    }

    #[test]
    fn unlabelled_references_get_their_own_row() {
        let g = vec![
            Gold::from_output("no block here"),
            Gold::from_output(&golds_text()),
        ];
        let p = vec![
            Prediction::from_output(0, &golds_text(), 1),
            Prediction::from_output(1, &golds_text(), 1),
        ];
        let m = score(&g, &p, 1.0);
        assert_eq!(m.confusion.labels, ["SQL Injection", UNLABELLED]);
        assert_eq!(m.confusion.counts, vec![vec![1, 0], vec![1, 0]]);
        assert_eq!(m.per_class.len(), 1);
        assert_eq!(m.per_class[0].precision, 0.5);
        assert_eq!(m.category_accuracy, 0.5);
    }

    #[test]
    fn empty_input_gives_zeros_and_serialises_without_nan() {
        let m = score(&[], &[], 0.0);
        assert_eq!(m.n, 0);
        assert_eq!(m.macro_f1, 0.0);
        assert_eq!(m.entries_per_minute, 0.0);
        assert!(m.confusion.labels.is_empty() && m.per_class.is_empty());
        let json = serde_json::to_string(&m).expect("serialises");
        // serde_json writes NaN as null; the only nulls allowed are the absent Options (MAE,
        // false-positive rate, detection recall: nothing to measure them on).
        assert_eq!(json.matches("null").count(), 3, "{json}");
        for key in ["risk_mae", "false_positive_rate", "detection_recall"] {
            assert!(json.contains(&format!("\"{key}\":null")), "{json}");
        }
        let m = score(&golds(), &[], f64::NAN);
        assert_eq!((m.total_s, m.entries_per_minute), (0.0, 0.0));
        assert_eq!(m.valid_rate, 0.0);
        assert_eq!(m.confusion.labels.last().map(String::as_str), Some(INVALID));
        let json = serde_json::to_string(&m).expect("serialises");
        // No benign reference here: only the MAE and the false-positive rate are absent.
        assert_eq!(json.matches("null").count(), 2, "{json}");
        assert!(json.contains("\"detection_recall\":0.0"), "{json}");
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile_nearest_rank(&[], 50.0), 0);
        assert_eq!(percentile_nearest_rank(&[7], 50.0), 7);
        assert_eq!(percentile_nearest_rank(&[7], 90.0), 7);
        let v = [40, 10, 30, 20];
        assert_eq!(percentile_nearest_rank(&v, 0.0), 10);
        assert_eq!(percentile_nearest_rank(&v, 25.0), 10);
        assert_eq!(percentile_nearest_rank(&v, 26.0), 20);
        assert_eq!(percentile_nearest_rank(&v, 50.0), 20);
        assert_eq!(percentile_nearest_rank(&v, 90.0), 40);
        assert_eq!(percentile_nearest_rank(&v, 100.0), 40);
        assert_eq!(percentile_nearest_rank(&v, 250.0), 40);
        assert_eq!(percentile_nearest_rank(&v, f64::NAN), 10);
        // Ties.
        let t = [100, 100, 100, 200];
        assert_eq!(percentile_nearest_rank(&t, 50.0), 100);
        assert_eq!(percentile_nearest_rank(&t, 75.0), 100);
        assert_eq!(percentile_nearest_rank(&t, 90.0), 200);
    }

    #[test]
    fn prediction_lines_round_trip_and_accept_the_short_format() {
        let p = Prediction::from_output(0, &golds_text(), 212);
        let line = serde_json::to_string(&p).expect("serialises");
        assert!(line.starts_with(r#"{"index":0,"threat_type":"SQL Injection — X","category":"SQL Injection","mitre_technique":"T1190""#), "{line}");
        assert!(line.contains(r#""severity":"CRITICAL""#));
        assert_eq!(serde_json::from_str::<Prediction>(&line).expect("reads"), p);
        let short = r#"{"index": 0, "threat_type": "SQL Injection — Union/Boolean SQLi", "category": "SQL Injection", "mitre_technique": "T1190", "mitre_tactic": "Initial Access", "severity": "CRITICAL", "risk_score": 83, "valid": true, "latency_ms": 212}"#;
        let q: Prediction = serde_json::from_str(short).expect("reads DESIGN.md's line");
        assert_eq!(q.risk_score, Some(83));
        assert_eq!(q.output, "");
    }

    #[test]
    fn stages_count_both_threat_types_in_either_order() {
        let g = |t: &str| Gold::from_output(&block(t, "T1190", "Initial Access", "HIGH", "80"));
        let golds = vec![g("XSS"), g("XSS"), g("XSS"), g("SQL Injection — X")];
        let sec: Vec<String> = ["Recon", "Recon", "Recon", ""].map(String::from).to_vec();
        let p = |i: usize, t: &str, s: Option<&str>| {
            let mut p =
                Prediction::from_output(i, &block(t, "T1190", "Initial Access", "HIGH", "80"), 1);
            p.secondary = s.map(str::to_string);
            p
        };
        let preds = vec![
            p(0, "XSS", Some("Recon")),               // both
            p(1, "Recon", Some("XSS")),               // both, swapped
            p(2, "Recon", None),                      // the earlier stage only
            p(3, "SQL Injection — X", Some("Recon")), // one stage, spurious secondary
        ];
        let m = score_stages(&golds, &sec, &preds);
        assert_eq!((m.two_stage, m.one_stage, m.spurious_secondary), (3, 1, 1));
        assert!((m.both_stages_found - 2.0 / 3.0).abs() < 1e-9);
        assert!((m.earlier_stage_found - 1.0).abs() < 1e-9);
    }
}
