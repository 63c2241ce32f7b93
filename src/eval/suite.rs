//! Scan-level evaluation suites: log files with the findings a scan of them should produce.
//!
//! A suite is a directory with `suite.json` and the log files it names (`opensoc-train suites`
//! writes them from fail2ban's, Wazuh's and the Core Rule Set's labelled samples):
//!
//! ```json
//! {"cases": [
//!   {"name": "fail2ban/postfix", "source": "fail2ban", "service": "postfix", "split": "heldout",
//!    "log": "fail2ban/postfix.log",
//!    "attackers": [{"source": "192.0.43.10", "classes": ["Mail Abuse"]}],
//!    "benign_only": false}
//! ]}
//! ```
//!
//! `log` is relative to the directory. Each attacker is a source address as the log writes it,
//! with the threat categories (a threat type's text before ` — `) that count as naming it
//! right. An attacker with `"source": "*"` and `"any_finding": true` stands for attack lines
//! that carry no address: any window the other attackers do not account for may answer it.
//!
//! The agent runs a case (`opensoc_edge::suite::run_case` scans its log into a fresh store
//! through the agent's own pipeline); here are the format, [`score_case`], the scoring, a pure
//! function of the case and the stored verdicts, and [`SuiteReport`], which sums cases into
//! per-source totals and a confusion table.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::task::verdict::Severity;
use serde::{Deserialize, Serialize};

/// The index file of a suite directory.
pub const SUITE_FILE: &str = "suite.json";

/// The `source` of an attacker that stands for address-less attack lines.
pub const ANY_SOURCE: &str = "*";

/// Expected category of a benign window in the confusion table.
pub const BENIGN_ROW: &str = "(benign)";

/// What an attacker that no verdict at or above the threshold names is counted as.
pub const NOT_FLAGGED: &str = "(not flagged)";

/// Why a suite could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// `suite.json` is not a suite.
    #[error("{path} is not a suite file: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// A case names a log outside the suite or one that is missing.
    #[error("case {case}: {message}")]
    Case {
        /// The case's name.
        case: String,
        /// What is wrong.
        message: String,
    },
}

/// A suite: its cases in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suite {
    /// The cases.
    pub cases: Vec<Case>,
}

/// One log file and what a scan of it should find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Unique name, `source/service` by convention.
    pub name: String,
    /// The data set it comes from (`fail2ban`, `wazuh`, `crs`).
    pub source: String,
    /// The service (fail2ban jail, Wazuh test file, CRS rule file).
    pub service: String,
    /// `train` or `heldout`: whether the service may appear in training data.
    pub split: String,
    /// The log file, relative to the suite directory.
    pub log: String,
    /// The attacking sources; none for a benign-only case.
    #[serde(default)]
    pub attackers: Vec<Attacker>,
    /// True when the case has no attackers (every window is benign).
    #[serde(default)]
    pub benign_only: bool,
}

/// An attacking source and the categories that name it right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attacker {
    /// The address as the log writes it, or `*` (see [`Attacker::any_finding`]).
    pub source: String,
    /// Acceptable threat categories, the first the most fitting.
    pub classes: Vec<String>,
    /// Stands for attack lines without an address: answered by any window that no other
    /// attacker accounts for.
    #[serde(default, skip_serializing_if = "is_false")]
    pub any_finding: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Attacker {
    /// Whether this entry stands for address-less attack lines.
    pub fn is_any(&self) -> bool {
        self.any_finding || self.source == ANY_SOURCE
    }
}

/// Which cases to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitFilter {
    /// Only `heldout` cases.
    Heldout,
    /// Only `train` cases.
    Train,
    /// Every case.
    All,
}

impl SplitFilter {
    /// `heldout`, `train` or `all`.
    pub fn parse(s: &str) -> Option<SplitFilter> {
        match s {
            "heldout" => Some(SplitFilter::Heldout),
            "train" => Some(SplitFilter::Train),
            "all" => Some(SplitFilter::All),
            _ => None,
        }
    }

    /// Whether a case of `split` passes.
    pub fn admits(self, split: &str) -> bool {
        match self {
            SplitFilter::Heldout => split == "heldout",
            SplitFilter::Train => split == "train",
            SplitFilter::All => true,
        }
    }
}

impl Suite {
    /// Reads `DIR/suite.json` and checks that every case's log lies inside DIR and exists.
    pub fn load(dir: &Path) -> Result<Suite, SuiteError> {
        let path = dir.join(SUITE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| SuiteError::Io {
            path: path.clone(),
            source,
        })?;
        let suite: Suite =
            serde_json::from_str(&text).map_err(|source| SuiteError::Json { path, source })?;
        for case in &suite.cases {
            case.log_path(dir)?;
        }
        Ok(suite)
    }

    /// Writes `DIR/suite.json` (pretty-printed, one case a few lines).
    pub fn save(&self, dir: &Path) -> Result<(), SuiteError> {
        let path = dir.join(SUITE_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|source| SuiteError::Json {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, text + "\n").map_err(|source| SuiteError::Io { path, source })
    }

    /// The cases of `split`, at most `limit`.
    pub fn select(&self, split: SplitFilter, limit: Option<usize>) -> Vec<&Case> {
        self.cases
            .iter()
            .filter(|c| split.admits(&c.split))
            .take(limit.unwrap_or(usize::MAX))
            .collect()
    }
}

impl Case {
    /// The log file under `dir`; a path that is absolute or climbs out of `dir` is refused.
    pub fn log_path(&self, dir: &Path) -> Result<PathBuf, SuiteError> {
        let rel = Path::new(&self.log);
        let climbs = rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)));
        if self.log.is_empty() || climbs {
            return Err(SuiteError::Case {
                case: self.name.clone(),
                message: format!("log {:?} is not a path inside the suite", self.log),
            });
        }
        let path = dir.join(rel);
        if !path.is_file() {
            return Err(SuiteError::Case {
                case: self.name.clone(),
                message: format!("log {} is missing", path.display()),
            });
        }
        Ok(path)
    }
}

// ---------------------------------------------------------------- scoring

/// What the scoring reads of a stored verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictRow {
    /// The window's entity as stored (`ip 1.2.3.4`, `user root`, `host web1`), if any.
    pub entity: Option<String>,
    /// The verdict's severity.
    pub severity: Severity,
    /// The verdict's risk score (breaks ties between equally severe verdicts).
    pub risk_score: u8,
    /// The threat type without its subtype.
    pub category: String,
    /// The window's text.
    pub input: String,
    /// The verdict names a log or prompt injection (its class, or the evidence's "Also …"
    /// when a higher floor took the class).
    pub names_injection: bool,
}

/// How one attacker fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttackerResult {
    /// The attacker's source (`*` for address-less lines).
    pub source: String,
    /// Its acceptable categories.
    pub classes: Vec<String>,
    /// Windows attributed to it.
    pub windows: usize,
    /// Of those, windows the agent keyed by another address found in the attacker's lines
    /// (attributed by their text; the agent would show the wrong entity).
    pub misattributed: usize,
    /// Some attributed verdict is at or above the threshold.
    pub flagged: bool,
    /// Flagged, and its most severe verdict's category is one of `classes`.
    pub right_class: bool,
    /// The most severe attributed verdict's category and severity, if any window was seen.
    pub got: Option<String>,
    /// That verdict's severity.
    pub severity: Option<Severity>,
    /// Some attributed verdict names a log or prompt injection (the adversarial suite's
    /// carriers).
    pub injection_named: bool,
}

/// How one case fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Its data set.
    pub source: String,
    /// Its service.
    pub service: String,
    /// `train` or `heldout`.
    pub split: String,
    /// Windows stored in all.
    pub windows: usize,
    /// Per attacker.
    pub attackers: Vec<AttackerResult>,
    /// Windows of entities that are no attacker.
    pub benign_windows: usize,
    /// Of those, at or above the threshold: false positives.
    pub benign_flagged: usize,
    /// The false positives' categories.
    pub false_positive_categories: BTreeMap<String, usize>,
}

impl CaseResult {
    /// Attackers flagged.
    pub fn flagged(&self) -> usize {
        self.attackers.iter().filter(|a| a.flagged).count()
    }

    /// Attackers flagged with an acceptable category.
    pub fn right_class(&self) -> usize {
        self.attackers.iter().filter(|a| a.right_class).count()
    }

    /// Attackers no window was attributed to (a suite or parser problem, not the model's).
    pub fn unseen(&self) -> usize {
        self.attackers.iter().filter(|a| a.windows == 0).count()
    }
}

/// An address in canonical form (IPv4-mapped IPv6 unmapped), or the text lower-cased.
fn canonical(addr: &str) -> String {
    let t = addr.trim().trim_start_matches('[').trim_end_matches(']');
    match t.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        Ok(ip) => ip.to_string(),
        Err(_) => t.to_ascii_lowercase(),
    }
}

/// The address of an `ip …` entity, canonical.
fn entity_ip(entity: Option<&str>) -> Option<String> {
    let value = entity?.strip_prefix("ip ")?;
    Some(canonical(value))
}

/// Whether `text` holds `addr` as a whole token (not inside a longer number or address).
pub fn contains_address(text: &str, addr: &str) -> bool {
    if addr.is_empty() {
        return false;
    }
    let part = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
    let mut from = 0;
    while let Some(i) = text[from..].find(addr) {
        let start = from + i;
        let end = start + addr.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        // A trailing dot ends a sentence; a dot followed by a digit continues an address.
        let after_ok = match after {
            None => true,
            Some('.') => !text[end + 1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit()),
            Some(':') if !addr.contains(':') => true,
            Some(c) => !part(c),
        };
        let before_ok = match before {
            None => true,
            Some(':') if !addr.contains(':') => {
                // `::ffff:1.2.3.4` holds 1.2.3.4; `10:1.2.3.4` does too (a port-like prefix).
                true
            }
            Some(c) => !part(c),
        };
        if before_ok && after_ok {
            return true;
        }
        from = start + addr.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Which attackers (by index) a verdict row belongs to, and whether by its text alone while
/// its entity is another address: the attacker whose address is its IP entity; else every
/// attacker whose address the window's text holds (for entities that are not addresses, and
/// for lines the parser keyed by another address in them: an injected user name, a HELO
/// name in brackets, the server's own address).
fn attribute(row: &VerdictRow, attackers: &[(usize, String, String)]) -> (Vec<usize>, bool) {
    let ip = entity_ip(row.entity.as_deref());
    if let Some(ip) = &ip {
        let direct: Vec<usize> = attackers
            .iter()
            .filter(|(_, canon, _)| canon == ip)
            .map(|(i, _, _)| *i)
            .collect();
        if !direct.is_empty() {
            return (direct, false);
        }
    }
    let by_text: Vec<usize> = attackers
        .iter()
        .filter(|(_, canon, written)| {
            contains_address(&row.input, written)
                || (canon != written && contains_address(&row.input, canon))
        })
        .map(|(i, _, _)| *i)
        .collect();
    let misattributed = ip.is_some() && !by_text.is_empty();
    (by_text, misattributed)
}

/// The attackers of `attackers` a window answers for: those whose address keys it (`entity`,
/// as stored: `ip 1.2.3.4`) or appears in its text, else the address-less ones; empty for a
/// benign window. The scorer's rule, for builders that label windows as the scorer counts them.
pub fn owners(attackers: &[Attacker], entity: Option<&str>, input: &str) -> Vec<usize> {
    let row = VerdictRow {
        entity: entity.map(str::to_string),
        severity: Severity::Low,
        risk_score: 0,
        category: String::new(),
        input: input.to_string(),
        names_injection: false,
    };
    let (owners, _) = attribute(&row, &addressed(attackers));
    if owners.is_empty() {
        return address_less(attackers);
    }
    owners
}

/// The attackers with an address: (index, canonical address, address as written).
fn addressed(attackers: &[Attacker]) -> Vec<(usize, String, String)> {
    attackers
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.is_any())
        .map(|(i, a)| (i, canonical(&a.source), a.source.trim().to_string()))
        .collect()
}

/// The indices of the address-less attackers.
fn address_less(attackers: &[Attacker]) -> Vec<usize> {
    attackers
        .iter()
        .enumerate()
        .filter(|(_, a)| a.is_any())
        .map(|(i, _)| i)
        .collect()
}

/// The more severe of two rows (then the higher risk score, then the earlier).
fn worse<'a>(a: Option<&'a VerdictRow>, b: &'a VerdictRow) -> &'a VerdictRow {
    match a {
        Some(a) if (a.severity, a.risk_score) >= (b.severity, b.risk_score) => a,
        _ => b,
    }
}

/// Scores one case from its stored verdicts: which attackers were flagged at or above
/// `min`, with which category, and how many benign windows were flagged.
pub fn score_case(case: &Case, rows: &[VerdictRow], min: Severity) -> CaseResult {
    let addressed = addressed(&case.attackers);
    let any = address_less(&case.attackers);

    let mut per_attacker: Vec<Vec<&VerdictRow>> = vec![Vec::new(); case.attackers.len()];
    let mut misattributed = vec![0usize; case.attackers.len()];
    let mut benign_windows = 0;
    let mut benign_flagged = 0;
    let mut fp_categories: BTreeMap<String, usize> = BTreeMap::new();
    for row in rows {
        let (mut owners, by_text) = attribute(row, &addressed);
        if by_text {
            for &i in &owners {
                misattributed[i] += 1;
            }
        }
        if owners.is_empty() {
            owners.clone_from(&any);
        }
        if owners.is_empty() {
            benign_windows += 1;
            if row.severity >= min {
                benign_flagged += 1;
                *fp_categories.entry(row.category.clone()).or_default() += 1;
            }
        }
        for i in owners {
            per_attacker[i].push(row);
        }
    }

    let attackers = case
        .attackers
        .iter()
        .zip(&per_attacker)
        .zip(misattributed)
        .map(|((a, rows), misattributed)| {
            let best = rows.iter().fold(None, |acc, r| Some(worse(acc, r)));
            let flagged = rows.iter().any(|r| r.severity >= min);
            let right_class = flagged
                && best.is_some_and(|b| {
                    a.classes
                        .iter()
                        .any(|c| c.trim().eq_ignore_ascii_case(b.category.trim()))
                });
            AttackerResult {
                source: a.source.clone(),
                classes: a.classes.clone(),
                windows: rows.len(),
                misattributed,
                flagged,
                right_class,
                got: best.map(|b| b.category.clone()),
                severity: best.map(|b| b.severity),
                injection_named: rows.iter().any(|r| r.names_injection),
            }
        })
        .collect();

    CaseResult {
        name: case.name.clone(),
        source: case.source.clone(),
        service: case.service.clone(),
        split: case.split.clone(),
        windows: rows.len(),
        attackers,
        benign_windows,
        benign_flagged,
        false_positive_categories: fp_categories,
    }
}

// ---------------------------------------------------------------- the report

/// Sums over the cases of one source and split.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// The data set.
    pub source: String,
    /// `train` or `heldout`.
    pub split: String,
    /// Cases.
    pub cases: usize,
    /// Attackers.
    pub attackers: usize,
    /// Attackers flagged at or above the threshold.
    pub flagged: usize,
    /// Attackers flagged with an acceptable category.
    pub right_class: usize,
    /// Attackers no window was attributed to.
    pub unseen: usize,
    /// Windows of non-attacker entities.
    pub benign_windows: usize,
    /// Of those, flagged.
    pub benign_flagged: usize,
    /// Cases without attackers.
    pub benign_cases: usize,
    /// Benign-only cases with at least one flagged window.
    pub benign_cases_flagged: usize,
}

impl Totals {
    /// Flagged attackers over all attackers (None without attackers).
    pub fn recall(&self) -> Option<f64> {
        ratio(self.flagged, self.attackers)
    }

    /// Right-class attackers over all attackers.
    pub fn class_recall(&self) -> Option<f64> {
        ratio(self.right_class, self.attackers)
    }

    /// Flagged benign windows over benign windows.
    pub fn false_positive_rate(&self) -> Option<f64> {
        ratio(self.benign_flagged, self.benign_windows)
    }

    fn add(&mut self, c: &CaseResult) {
        self.cases += 1;
        self.attackers += c.attackers.len();
        self.flagged += c.flagged();
        self.right_class += c.right_class();
        self.unseen += c.unseen();
        self.benign_windows += c.benign_windows;
        self.benign_flagged += c.benign_flagged;
        if c.attackers.is_empty() {
            self.benign_cases += 1;
            if c.benign_flagged > 0 {
                self.benign_cases_flagged += 1;
            }
        }
    }
}

fn ratio(n: usize, d: usize) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// One cell of the confusion table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfusionCell {
    /// The attacker's first class, or [`BENIGN_ROW`].
    pub expected: String,
    /// The most severe verdict's category, or [`NOT_FLAGGED`].
    pub got: String,
    /// How many attackers (or benign windows).
    pub count: usize,
}

/// A suite run: cases, totals per source and split, the confusion of classes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteReport {
    /// The threshold a finding needs.
    pub min_severity: Severity,
    /// Per case, in run order.
    pub cases: Vec<CaseResult>,
    /// Per source and split, then `all`/`all`.
    pub totals: Vec<Totals>,
    /// Expected first class → got category, most frequent first.
    pub confusion: Vec<ConfusionCell>,
}

impl SuiteReport {
    /// Sums `cases`.
    pub fn new(min_severity: Severity, cases: Vec<CaseResult>) -> SuiteReport {
        let mut by_key: BTreeMap<(String, String), Totals> = BTreeMap::new();
        let mut all = Totals {
            source: "all".into(),
            split: "all".into(),
            ..Totals::default()
        };
        let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
        for c in &cases {
            by_key
                .entry((c.source.clone(), c.split.clone()))
                .or_insert_with(|| Totals {
                    source: c.source.clone(),
                    split: c.split.clone(),
                    ..Totals::default()
                })
                .add(c);
            all.add(c);
            for a in &c.attackers {
                let expected = a
                    .classes
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "(any)".to_string());
                let got = if a.flagged {
                    a.got.clone().unwrap_or_default()
                } else {
                    NOT_FLAGGED.to_string()
                };
                *confusion.entry((expected, got)).or_default() += 1;
            }
            for (cat, n) in &c.false_positive_categories {
                *confusion
                    .entry((BENIGN_ROW.to_string(), cat.clone()))
                    .or_default() += n;
            }
        }
        let mut totals: Vec<Totals> = by_key.into_values().collect();
        totals.push(all);
        let mut confusion: Vec<ConfusionCell> = confusion
            .into_iter()
            .map(|((expected, got), count)| ConfusionCell {
                expected,
                got,
                count,
            })
            .collect();
        confusion.sort_by(|a, b| {
            a.expected
                .cmp(&b.expected)
                .then(b.count.cmp(&a.count))
                .then(a.got.cmp(&b.got))
        });
        SuiteReport {
            min_severity,
            cases,
            totals,
            confusion,
        }
    }

    /// The report as one JSON object (recall and rates added to each total).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(list) = v.get_mut("totals").and_then(|t| t.as_array_mut()) {
            for (t, row) in self.totals.iter().zip(list) {
                row["recall"] = serde_json::json!(t.recall());
                row["class_recall"] = serde_json::json!(t.class_recall());
                row["false_positive_rate"] = serde_json::json!(t.false_positive_rate());
            }
        }
        v
    }

    /// The report as text tables: cases, totals, confusion.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let name_w = self
            .cases
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            out,
            "{:<name_w$}  {:<7}  {:>9}  {:>6}  {:>8}  classes got",
            "case", "split", "attackers", "class", "benign"
        );
        for c in &self.cases {
            let got: BTreeSet<&str> = c
                .attackers
                .iter()
                .filter(|a| a.flagged)
                .filter_map(|a| a.got.as_deref())
                .collect();
            let mut note = got.into_iter().collect::<Vec<_>>().join("; ");
            if c.unseen() > 0 {
                note = format!("{note} [{} attacker(s) without a window]", c.unseen());
            }
            let mis = c.attackers.iter().filter(|a| a.misattributed > 0).count();
            if mis > 0 {
                note = format!("{note} [{mis} attacker(s) keyed by another address]");
            }
            let _ = writeln!(
                out,
                "{:<name_w$}  {:<7}  {:>9}  {:>6}  {:>8}  {}",
                c.name,
                c.split,
                format!("{}/{}", c.flagged(), c.attackers.len()),
                format!("{}/{}", c.right_class(), c.attackers.len()),
                format!("{}/{}", c.benign_flagged, c.benign_windows),
                note.trim()
            );
        }
        let pct =
            |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{:.1}%", x * 100.0));
        let _ = writeln!(
            out,
            "\ntotals (findings at or above {}):",
            self.min_severity
        );
        let _ = writeln!(
            out,
            "{:<9} {:<7} {:>5} {:>9} {:>8} {:>8} {:>14} {:>7} {:>13}",
            "source",
            "split",
            "cases",
            "attackers",
            "recall",
            "class",
            "benign flagged",
            "FP",
            "benign cases"
        );
        for t in &self.totals {
            let _ = writeln!(
                out,
                "{:<9} {:<7} {:>5} {:>9} {:>8} {:>8} {:>14} {:>7} {:>13}",
                t.source,
                t.split,
                t.cases,
                t.attackers,
                pct(t.recall()),
                pct(t.class_recall()),
                format!("{}/{}", t.benign_flagged, t.benign_windows),
                pct(t.false_positive_rate()),
                format!("{}/{}", t.benign_cases_flagged, t.benign_cases),
            );
        }
        if !self.confusion.is_empty() {
            let _ = writeln!(out, "\nconfusion (expected first class -> got):");
            for c in &self.confusion {
                let _ = writeln!(out, "{:>5}  {} -> {}", c.count, c.expected, c.got);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(entity: Option<&str>, sev: Severity, cat: &str, input: &str) -> VerdictRow {
        VerdictRow {
            entity: entity.map(str::to_string),
            severity: sev,
            risk_score: 50,
            category: cat.to_string(),
            input: input.to_string(),
            names_injection: false,
        }
    }

    fn case(attackers: Vec<Attacker>) -> Case {
        Case {
            name: "fail2ban/sshd".into(),
            source: "fail2ban".into(),
            service: "sshd".into(),
            split: "heldout".into(),
            log: "fail2ban/sshd.log".into(),
            benign_only: attackers.is_empty(),
            attackers,
        }
    }

    fn attacker(source: &str, classes: &[&str]) -> Attacker {
        Attacker {
            source: source.into(),
            classes: classes.iter().map(|s| s.to_string()).collect(),
            any_finding: source == "*",
        }
    }

    #[test]
    fn parses_the_agreed_format() {
        let text = r#"{"cases": [
          {"name": "fail2ban/postfix", "source": "fail2ban", "service": "postfix", "split": "heldout",
           "log": "fail2ban/postfix.log",
           "attackers": [{"source": "192.0.43.10", "classes": ["Mail Abuse"]}],
           "benign_only": false},
          {"name": "wazuh/x", "source": "wazuh", "service": "x", "split": "train", "log": "wazuh/x.log",
           "attackers": [{"source": "*", "classes": ["Brute Force Attack"], "any_finding": true}]}
        ]}"#;
        let s: Suite = serde_json::from_str(text).unwrap();
        assert_eq!(s.cases.len(), 2);
        assert_eq!(s.cases[0].attackers[0].classes, vec!["Mail Abuse"]);
        assert!(!s.cases[0].attackers[0].is_any());
        assert!(s.cases[1].attackers[0].is_any());
        assert_eq!(s.select(SplitFilter::Heldout, None).len(), 1);
        assert_eq!(s.select(SplitFilter::All, Some(1)).len(), 1);
        // Round trip keeps the format (no any_finding on ordinary attackers).
        let back = serde_json::to_string(&s).unwrap();
        assert!(!back.contains(r#""source":"192.0.43.10","classes":["Mail Abuse"],"any_finding""#));
        assert_eq!(serde_json::from_str::<Suite>(&back).unwrap(), s);
    }

    #[test]
    fn log_paths_stay_inside_the_suite() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = case(vec![]);
        c.log = "../etc/passwd".into();
        assert!(c.log_path(dir.path()).is_err());
        c.log = "/etc/passwd".into();
        assert!(c.log_path(dir.path()).is_err());
        c.log = "a.log".into();
        assert!(c.log_path(dir.path()).is_err(), "missing file");
        std::fs::write(dir.path().join("a.log"), "x\n").unwrap();
        assert!(c.log_path(dir.path()).is_ok());
    }

    #[test]
    fn address_tokens_are_whole() {
        assert!(contains_address("from 1.2.3.4 port 22", "1.2.3.4"));
        assert!(contains_address("rhost=1.2.3.4", "1.2.3.4"));
        assert!(contains_address("[1.2.3.4]:5555", "1.2.3.4"));
        assert!(contains_address("rip=::ffff:1.2.3.4,", "1.2.3.4"));
        assert!(contains_address("ends with 1.2.3.4.", "1.2.3.4"));
        assert!(!contains_address("from 11.2.3.4", "1.2.3.4"));
        assert!(!contains_address("from 1.2.3.45", "1.2.3.4"));
        assert!(!contains_address("from 1.2.3.4.5", "1.2.3.4"));
        assert!(contains_address("from 2001:db8::1 port", "2001:db8::1"));
        assert!(!contains_address("from 2001:db8::10", "2001:db8::1"));
    }

    #[test]
    fn scores_attackers_classes_and_false_positives() {
        let c = case(vec![
            attacker(
                "192.0.2.1",
                &["SSH Brute Force Attack", "Brute Force Attack"],
            ),
            attacker("192.0.2.2", &["SSH Brute Force Attack"]),
            attacker("::ffff:192.0.2.3", &["SSH Brute Force Attack"]),
            attacker("192.0.2.4", &["SSH Brute Force Attack"]),
        ]);
        let rows = vec![
            // Attacker 1: flagged twice; the most severe verdict decides the class.
            row(
                Some("ip 192.0.2.1"),
                Severity::Medium,
                "Network Port Scan",
                "",
            ),
            row(
                Some("ip 192.0.2.1"),
                Severity::High,
                "Brute Force Attack",
                "",
            ),
            // Attacker 2: its window is keyed by user, the text holds the address.
            row(
                Some("user root"),
                Severity::High,
                "Network Port Scan",
                "Failed password for root from 192.0.2.2 port 22",
            ),
            // Attacker 3: mapped address in the suite, plain in the entity; below threshold.
            row(
                Some("ip 192.0.2.3"),
                Severity::Low,
                "No Threat Detected",
                "",
            ),
            // Benign windows: one flagged.
            row(
                Some("ip 198.51.100.7"),
                Severity::Low,
                "No Threat Detected",
                "",
            ),
            row(
                Some("ip 198.51.100.8"),
                Severity::Medium,
                "SQL Injection",
                "",
            ),
            row(
                Some("user alice"),
                Severity::Low,
                "No Threat Detected",
                "from 192.0.2.44",
            ),
            // Attacker 4's line keyed by an address injected in the user name.
            row(
                Some("ip 127.0.0.1"),
                Severity::Low,
                "No Threat Detected",
                "Connection closed by authenticating user test 127.0.0.1 192.0.2.4 port 46039",
            ),
        ];
        let r = score_case(&c, &rows, Severity::Medium);
        assert_eq!(r.windows, 8);
        let a = &r.attackers;
        assert!(a[0].flagged && a[0].right_class);
        assert_eq!(a[0].got.as_deref(), Some("Brute Force Attack"));
        assert_eq!(a[0].windows, 2);
        assert!(a[1].flagged && !a[1].right_class);
        assert!(!a[2].flagged && !a[2].right_class);
        assert_eq!(a[2].windows, 1);
        assert_eq!((a[3].windows, a[3].misattributed), (1, 1));
        assert_eq!((r.flagged(), r.right_class(), r.unseen()), (2, 1, 0));
        assert_eq!((r.benign_windows, r.benign_flagged), (3, 1));
        assert_eq!(r.false_positive_categories.get("SQL Injection"), Some(&1));

        // A higher threshold: attacker 1 still flagged (HIGH), the benign MEDIUM no longer.
        let r = score_case(&c, &rows, Severity::High);
        assert!(r.attackers[0].flagged);
        assert_eq!(r.benign_flagged, 0);
    }

    #[test]
    fn any_finding_takes_the_unattributed_windows() {
        let c = case(vec![
            attacker("10.0.0.5", &["SQL Injection"]),
            attacker("*", &["Brute Force Attack"]),
        ]);
        let rows = vec![
            row(Some("ip 10.0.0.5"), Severity::Critical, "SQL Injection", ""),
            row(
                Some("user jones"),
                Severity::Medium,
                "Brute Force Attack",
                "auth failed",
            ),
            row(None, Severity::Low, "No Threat Detected", "oscap: started"),
        ];
        let r = score_case(&c, &rows, Severity::Medium);
        assert!(r.attackers[0].right_class);
        assert!(r.attackers[1].flagged && r.attackers[1].right_class);
        assert_eq!(r.attackers[1].windows, 2);
        assert_eq!(r.benign_windows, 0);
    }

    #[test]
    fn benign_only_cases_count_false_positives_and_the_report_sums() {
        let benign = case(vec![]);
        let rows = vec![
            row(
                Some("ip 203.0.113.9"),
                Severity::Low,
                "No Threat Detected",
                "",
            ),
            row(
                Some("ip 203.0.113.10"),
                Severity::High,
                "Network Port Scan",
                "",
            ),
        ];
        let r1 = score_case(&benign, &rows, Severity::Medium);
        assert_eq!((r1.benign_windows, r1.benign_flagged), (2, 1));
        let mut attacked = case(vec![attacker("192.0.2.1", &["Mail Abuse"])]);
        attacked.split = "train".into();
        let r2 = score_case(&attacked, &[], Severity::Medium);
        assert_eq!(r2.unseen(), 1);
        let report = SuiteReport::new(Severity::Medium, vec![r1, r2]);
        assert_eq!(report.totals.len(), 3);
        let all = report.totals.last().unwrap();
        assert_eq!(
            (all.cases, all.attackers, all.flagged, all.unseen),
            (2, 1, 0, 1)
        );
        assert_eq!((all.benign_cases, all.benign_cases_flagged), (1, 1));
        assert_eq!(all.false_positive_rate(), Some(0.5));
        assert!(report
            .confusion
            .iter()
            .any(|c| c.expected == "Mail Abuse" && c.got == NOT_FLAGGED && c.count == 1));
        assert!(report
            .confusion
            .iter()
            .any(|c| c.expected == BENIGN_ROW && c.got == "Network Port Scan"));
        let json = report.to_json();
        assert_eq!(
            json["totals"][2]["false_positive_rate"],
            serde_json::json!(0.5)
        );
        let text = report.render();
        assert!(text.contains("fail2ban/sshd"));
        assert!(text.contains("confusion"));
    }
}
