//! Training sequences from seed-format examples: the analyzer's own prompt (same cleaning,
//! same head-and-tail cut of the log), the canonical verdict block as the response, and the
//! length cap applied to the log input, never to the response.

use opensoc::model::tokenizer::{Tokenizer, TokenizerError};
use opensoc::task::dataset::Example;
use opensoc::task::prompt;
use opensoc::task::taxonomy::taxonomy;
use opensoc::task::verdict::{ParsedVerdict, Verdict};
use opensoc::train::backprop::Sequence;

/// Which predictions count in the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LossOn {
    /// Only the response tokens (and the end-of-sequence token).
    Response,
    /// Every token after the first (what the paper's SFT trainer did).
    All,
}

/// How examples are turned into sequences.
#[derive(Debug, Clone)]
pub struct DataConfig {
    /// Longest sequence in tokens (prompt + response).
    pub max_len: usize,
    /// Which predictions count.
    pub loss: LossOn,
}

/// What the length policies do to a data set.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CutReport {
    /// Examples read.
    pub examples: usize,
    /// Examples whose log input this policy shortened (head and tail kept, cut marked).
    pub input_cut: usize,
    /// Examples left out because the response alone does not fit the cap.
    pub skipped: usize,
    /// Examples over the cap, whose response the paper's plain truncation would cut.
    pub plain_truncation_cut: usize,
    /// Of those, examples whose response plain truncation would lose whole.
    pub plain_truncation_lost: usize,
    /// Tokens in all kept sequences.
    pub tokens: usize,
    /// Predictions that count in the loss.
    pub loss_tokens: usize,
}

/// Training sequences and the report of how they were cut.
#[derive(Debug, Clone)]
pub struct BuiltSet {
    /// One per kept example, in the data set's order.
    pub seqs: Vec<Sequence>,
    /// What the cap did.
    pub report: CutReport,
}

/// The response the model learns: the seed's block with its structured lines written as the
/// analyzer's schema writes them (taxonomy technique names), so that the tokens the decoder
/// forces are the tokens the model was tuned on; the text fields stay the seed's.
pub fn canonical_response(output: &str) -> String {
    let p = ParsedVerdict::parse(output);
    let tax = taxonomy();
    let (Some(tt), Some(tech), Some(tactic), Some(sev), Some(risk)) = (
        p.threat_type.as_deref().and_then(|l| tax.threat_type(l)),
        p.mitre_technique.as_deref().and_then(|t| tax.technique(t)),
        p.mitre_tactic.clone(),
        p.severity,
        p.risk_score,
    ) else {
        return output.trim_end().to_string() + "\n";
    };
    let structured_only = p.evidence.is_none() && p.impact.is_none() && p.recommendation.is_none();
    let block = Verdict {
        threat_type: tt.label.clone(),
        mitre_technique: tech.id.clone(),
        technique_name: tech.name.clone(),
        mitre_tactic: tactic,
        severity: sev,
        risk_score: risk,
        evidence: p.evidence.unwrap_or_default(),
        impact: p.impact.unwrap_or_default(),
        recommendation: p.recommendation.unwrap_or_default(),
    }
    .to_block();
    if structured_only {
        // An example that teaches the structured fields only (what fast mode decodes): no
        // empty text lines to learn.
        return block.lines().take(5).map(|l| format!("{l}\n")).collect();
    }
    block
}

/// Builds the training sequences of `examples`.
pub fn build(
    tok: &Tokenizer,
    examples: &[Example],
    cfg: &DataConfig,
) -> Result<BuiltSet, TokenizerError> {
    let mut report = CutReport {
        examples: examples.len(),
        ..CutReport::default()
    };
    let mut seqs = Vec::with_capacity(examples.len());
    for ex in examples {
        let mut response = prompt::encode_after_newline(tok, &canonical_response(&ex.output))?;
        if let Some(eos) = tok.eos_id() {
            response.push(eos);
        }
        // The paper's policy for comparison: the raw prompt and output, cut at the cap.
        let raw_prompt = prompt::prompt_tokens(tok, &ex.instruction, &ex.input)?.len();
        let raw_response = prompt::encode_after_newline(tok, &ex.output)?.len();
        if raw_prompt + raw_response > cfg.max_len {
            report.plain_truncation_cut += 1;
            if raw_prompt >= cfg.max_len {
                report.plain_truncation_lost += 1;
            }
        }
        let clean = prompt::clean_log(ex.input.as_bytes());
        let header = prompt::header_tokens(tok, &ex.instruction)?;
        // The analyzer never shows more than its default budget of log tokens, so training
        // does not either; the cap may lower it further.
        let room = cfg
            .max_len
            .saturating_sub(header.len() + response.len() + 8);
        let mut budget = room.min(prompt::DEFAULT_INPUT_TOKENS);
        let mut built = None;
        // The budget is an estimate (lines are counted apart); shrink it until the sequence fits.
        for _ in 0..4 {
            if budget < 24 {
                break;
            }
            let fitted = prompt::fit_lines(tok, &clean.lines, budget)?;
            let p = prompt::prompt_tokens(tok, &ex.instruction, &fitted.text)?;
            let len = p.len() + response.len();
            if len <= cfg.max_len {
                built = Some((p, fitted.omitted_lines > 0));
                break;
            }
            budget = budget.saturating_sub(len - cfg.max_len + 4);
        }
        let Some((p, cut)) = built else {
            report.skipped += 1;
            continue;
        };
        report.input_cut += usize::from(cut);
        let prompt_len = p.len();
        let tokens = [p.all(), response].concat();
        let targets: Vec<bool> = (0..tokens.len() - 1)
            .map(|i| match cfg.loss {
                LossOn::All => true,
                // Position i predicts token i + 1: a response token when i + 1 ≥ prompt_len.
                LossOn::Response => i + 1 >= prompt_len,
            })
            .collect();
        let seq = Sequence { tokens, targets };
        report.tokens += seq.tokens.len();
        report.loss_tokens += seq.loss_tokens();
        seqs.push(seq);
    }
    Ok(BuiltSet { seqs, report })
}

/// Per-example token lengths of a data set, as `opensoc-train stats` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Prompt tokens of each example (instruction and log uncut).
    pub prompts: Vec<usize>,
    /// Response tokens of each example.
    pub responses: Vec<usize>,
}

impl TokenCounts {
    /// The `stats` report: examples, prompt and response lengths, and what a cap of `max_len`
    /// does to plain truncation.
    pub fn summary(&self, max_len: usize) -> String {
        let over = self
            .prompts
            .iter()
            .zip(&self.responses)
            .filter(|(p, r)| *p + *r > max_len)
            .count();
        // Plain truncation at the cap (what the paper's trainer did) cuts the response of every
        // example over the cap, and drops it entirely where the prompt alone fills the cap.
        let response_lost = self.prompts.iter().filter(|&&p| p >= max_len).count();
        format!(
            "examples            {}\nprompt tokens       {}\nresponse tokens     {}\n\
             over {max_len} tokens      {over}\n  plain truncation cuts the response of {over}, \
             loses it whole in {response_lost}",
            self.prompts.len(),
            length_summary(&self.prompts),
            length_summary(&self.responses),
        )
    }
}

/// Token lengths of `examples`, tokenized exactly as the analyzer builds its prompts.
pub fn token_counts(tok: &Tokenizer, examples: &[Example]) -> Result<TokenCounts, TokenizerError> {
    let mut counts = TokenCounts::default();
    for e in examples {
        counts
            .prompts
            .push(prompt::prompt_tokens(tok, &e.instruction, &e.input)?.len());
        counts
            .responses
            .push(prompt::encode_after_newline(tok, &e.output)?.len());
    }
    Ok(counts)
}

/// "median M / mean A / max X" of a list ("none" when empty).
fn length_summary(xs: &[usize]) -> String {
    if xs.is_empty() {
        return "none".into();
    }
    let mut xs = xs.to_vec();
    xs.sort_unstable();
    let mean = xs.iter().sum::<usize>() as f64 / xs.len() as f64;
    format!(
        "median {} / mean {mean:.0} / max {}",
        xs[xs.len() / 2],
        xs[xs.len() - 1]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_response_uses_taxonomy_names_and_keeps_texts() {
        let seed =
            "THREAT_TYPE: Windows Threat: Failed Login\nMITRE_TECHNIQUE: T1110 (Failed Login)\n\
                    MITRE_TACTIC: Credential Access\nSEVERITY: HIGH\nRISK_SCORE: 72\n\
                    EVIDENCE: Multiple failed logons.\nIMPACT: Lockout.\nRECOMMENDATION: 1) Check";
        let r = canonical_response(seed);
        assert!(r.contains("MITRE_TECHNIQUE: T1110 (Brute Force)\n"), "{r}");
        assert!(
            r.starts_with("THREAT_TYPE: Windows Threat: Failed Login\n"),
            "{r}"
        );
        assert!(r.ends_with("RECOMMENDATION: 1) Check\n"), "{r}");
        // Unparseable outputs are kept as they are.
        assert_eq!(canonical_response("free text"), "free text\n");
    }
}
