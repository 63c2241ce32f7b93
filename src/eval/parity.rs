//! Backend parity: two backends' predictions on the same entries compared field by field,
//! with the entries where they differ and how close each choice was (a near-tie can flip on
//! rounding alone; a wrong kernel flips clear choices).

use std::collections::HashMap;

use serde::Serialize;

use crate::eval::metrics::{share, Prediction};

/// The fields [`parity`] compares, in order.
pub const PARITY_FIELDS: [&str; 6] = [
    "threat_type",
    "mitre_technique",
    "mitre_tactic",
    "severity",
    "risk_score",
    "valid",
];

/// Agreement between two backends' predictions on the same entries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parity {
    /// First backend's name.
    pub a: String,
    /// Second backend's name.
    pub b: String,
    /// Entries both backends predicted (matched by index).
    pub entries: usize,
    /// Entries identical on every compared field.
    pub identical_all_fields: usize,
    /// Field name (see [`PARITY_FIELDS`]) -> entries identical on it.
    pub per_field: Vec<(String, usize)>,
    /// Largest logit difference on the probe set, filled in by whoever runs the probe.
    pub max_logit_diff: Option<f32>,
    /// The entries compared that differ on some field, in `a`'s order.
    pub differences: Vec<Difference>,
}

/// An entry on which two backends' predictions differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// The entry's index.
    pub index: usize,
    /// The larger of the two predictions' closest margins (`None` when either lacks one). A
    /// choice flips between backends whose logits differ by at most `d` only where both
    /// margins are below `2 d`, so a large value here points at a wrong kernel, a small one at
    /// a near-tie.
    pub closest_margin: Option<f32>,
}

impl Parity {
    /// Share of compared entries identical on every field (0 when none were compared).
    pub fn identical_share(&self) -> f64 {
        share(self.identical_all_fields, self.entries)
    }

    /// Differences where both predictions' closest margins are below `near_tie` logits.
    pub fn near_ties(&self, near_tie: f32) -> usize {
        self.differences
            .iter()
            .filter(|d| d.closest_margin.is_some_and(|m| m < near_tie))
            .count()
    }
}

/// Compares two backends' predictions entry by entry (matched by `index`, first one wins) on
/// threat type, technique, tactic, severity, risk score and validity.
pub fn parity(a_name: &str, a: &[Prediction], b_name: &str, b: &[Prediction]) -> Parity {
    let mut by_index: HashMap<usize, &Prediction> = HashMap::new();
    for p in b {
        by_index.entry(p.index).or_insert(p);
    }
    let mut seen = std::collections::HashSet::new();
    let mut same = [0usize; PARITY_FIELDS.len()];
    let (mut entries, mut identical) = (0, 0);
    let mut differences = Vec::new();
    for pa in a {
        if !seen.insert(pa.index) {
            continue;
        }
        let Some(pb) = by_index.get(&pa.index) else {
            continue;
        };
        entries += 1;
        let eq = [
            pa.threat_type == pb.threat_type,
            pa.mitre_technique == pb.mitre_technique,
            pa.mitre_tactic == pb.mitre_tactic,
            pa.severity == pb.severity,
            pa.risk_score == pb.risk_score,
            pa.valid == pb.valid,
        ];
        for (s, e) in same.iter_mut().zip(eq) {
            *s += usize::from(e);
        }
        if eq.iter().all(|&e| e) {
            identical += 1;
        } else {
            differences.push(Difference {
                index: pa.index,
                closest_margin: pa
                    .closest_margin
                    .zip(pb.closest_margin)
                    .map(|(x, y)| x.max(y)),
            });
        }
    }
    Parity {
        a: a_name.to_string(),
        b: b_name.to_string(),
        entries,
        identical_all_fields: identical,
        per_field: PARITY_FIELDS
            .iter()
            .zip(same)
            .map(|(f, s)| (f.to_string(), s))
            .collect(),
        max_logit_diff: None,
        differences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::metrics::tests::{close, preds};
    use crate::task::verdict::Severity;

    #[test]
    fn parity_counts_identical_fields() {
        let a = preds();
        let mut b = preds();
        // Entry 0: differs in severity only; entry 4: in risk score and validity;
        // entry 3 is missing from b; a stray index 9 in b is ignored.
        for p in &mut b {
            match p.index {
                0 => p.severity = Some(Severity::Low),
                4 => {
                    p.risk_score = None;
                    p.valid = false;
                }
                _ => {}
            }
        }
        b.retain(|p| p.index != 3);
        b.push(Prediction::from_output(9, "x", 1));
        let r = parity("cpu", &a, "cuda", &b);
        assert_eq!((r.a.as_str(), r.b.as_str()), ("cpu", "cuda"));
        assert_eq!(r.entries, 4);
        assert_eq!(r.identical_all_fields, 2);
        assert!(close(r.identical_share(), 0.5));
        let per: Vec<(&str, usize)> = r.per_field.iter().map(|(f, n)| (f.as_str(), *n)).collect();
        assert_eq!(
            per,
            [
                ("threat_type", 4),
                ("mitre_technique", 4),
                ("mitre_tactic", 4),
                ("severity", 3),
                ("risk_score", 3),
                ("valid", 3),
            ]
        );
        assert_eq!(r.max_logit_diff, None);
        // Without margins no difference is a near-tie.
        // In `a`'s order, which runs backwards.
        let at: Vec<usize> = r.differences.iter().map(|d| d.index).collect();
        assert_eq!(at, [4, 0]);
        assert_eq!(r.near_ties(f32::INFINITY), 0);
        // Entry 0 near a tie on both sides; entry 4 decided by a wide margin on one side.
        fn set(preds: &mut [Prediction], index: usize, margin: f32) {
            let p = preds.iter_mut().find(|p| p.index == index).expect("entry");
            p.closest_margin = Some(margin);
        }
        let (mut a, mut b) = (a, b);
        set(&mut a, 0, 0.2);
        set(&mut b, 0, 0.4);
        set(&mut a, 4, 0.1);
        set(&mut b, 4, 6.0);
        let r = parity("cpu", &a, "cuda", &b);
        assert_eq!(r.differences[0].closest_margin, Some(6.0));
        assert_eq!(r.differences[1].closest_margin, Some(0.4));
        assert_eq!(
            (r.near_ties(0.3), r.near_ties(0.5), r.near_ties(7.0)),
            (0, 1, 2)
        );
        let none = parity("a", &[], "b", &b);
        assert_eq!((none.entries, none.identical_share()), (0, 0.0));
    }
}
