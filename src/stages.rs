//! Multi-stage windows: a secondary finding when one window holds two threats in sequence
//! (probing then an injection, failed logins then a success, a guessed login then an export).
//!
//! The model gives one verdict per window. To find a second stage, the window's first and
//! second halves (by record, in arrival order) are analysed on their own; a half whose threat
//! type differs from the whole window's, and is a threat, is the secondary finding. A window
//! with one kind of activity gives the same answer on both halves, so it gets none.

use crate::analyzer::{AnalyzeError, Analyzer};
use crate::decode::LanguageModel;
use crate::taxonomy::BENIGN_CATEGORY;
use crate::verdict::Verdict;

/// Fewest records a window needs before its halves are analysed: two records a half.
pub const MIN_RECORDS: usize = 4;

/// The records of a seed-format input: its lines, without the bracketed summary line that
/// windows end with (`[12 failed logins for 1 user from … in 33 s]`).
pub fn records_of(input: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = input.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines
        .last()
        .is_some_and(|l| l.starts_with('[') && l.trim_end().ends_with(']'))
    {
        lines.pop();
    }
    lines
}

/// The secondary threat type of a window of `records` whose whole verdict is `primary`, if
/// a half of it shows another threat; `None` for benign windows and short ones.
pub fn secondary<M: LanguageModel>(
    analyzer: &mut Analyzer<'_, M>,
    instruction: &str,
    records: &[&str],
    primary: &Verdict,
) -> Result<Option<String>, AnalyzeError> {
    if records.len() < MIN_RECORDS || primary.category() == BENIGN_CATEGORY {
        return Ok(None);
    }
    let mid = records.len() / 2;
    for half in [&records[..mid], &records[mid..]] {
        let a = analyzer.analyze_with(instruction, half.join("\n").as_bytes())?;
        if let Some(v) = a.verdict {
            if v.threat_type != primary.threat_type && v.category() != BENIGN_CATEGORY {
                return Ok(Some(v.threat_type));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_is_not_a_record() {
        let input = "a 1\nb 2\n\nc 3\n[3 requests in 2 s from 10.0.0.1 — 200 ×3]";
        assert_eq!(records_of(input), vec!["a 1", "b 2", "c 3"]);
        // A bracket that is not the last line is a record like any other.
        assert_eq!(records_of("[x]\ny"), vec!["[x]", "y"]);
        assert!(records_of("").is_empty());
    }
}
