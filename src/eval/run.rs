//! Runs the analyzer over a data set: one prediction per example, in order, with its latency;
//! and the parity probe, the last-position logits of fixed prompts on a backend.

use std::time::Instant;

use crate::analyze::analyzer::{AnalyzeError, Analyzer};
use crate::analyze::stages;
use crate::eval::metrics::{Prediction, TokenIds};
use crate::model::language_model::LanguageModel;
use crate::task::dataset::Example;
use crate::task::prompt;

/// Examples of the data file whose prompts form the parity probe set.
pub const PROBE_PROMPTS: usize = 8;

/// What one backend produced over a data set.
#[derive(Debug, Clone)]
pub struct EvalRun {
    /// The backend's name.
    pub backend: String,
    /// One per example, in the data file's order.
    pub predictions: Vec<Prediction>,
    /// Wall time of the whole run in seconds.
    pub total_s: f64,
}

/// What a run records besides each verdict.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Keep each prediction's prompt and output token ids.
    pub token_ids: bool,
    /// Look for a secondary threat in each window's halves ([`crate::analyze::stages`]).
    pub secondary: bool,
}

/// Analyses every example with its own instruction; `progress` sees each prediction as it
/// is made.
pub fn run<M: LanguageModel>(
    analyzer: &mut Analyzer<'_, M>,
    backend: &str,
    examples: &[Example],
    opts: RunOptions,
    progress: &mut dyn FnMut(&Prediction),
) -> Result<EvalRun, AnalyzeError> {
    let start = Instant::now();
    let mut predictions = Vec::with_capacity(examples.len());
    for (index, ex) in examples.iter().enumerate() {
        let a = analyzer.analyze_with(&ex.instruction, ex.input.as_bytes())?;
        let mut p = Prediction::from_output(index, &a.output, a.elapsed.as_millis() as u64);
        p.closest_margin = a.stats.closest_margin;
        if opts.secondary {
            if let Some(v) = &a.verdict {
                let records = prompt::records_of(&ex.input);
                p.secondary = stages::secondary(analyzer, &ex.instruction, &records, v)?;
            }
        }
        if opts.token_ids {
            p.token_ids = Some(TokenIds {
                prompt: a.prompt_ids,
                output: a.generated_ids,
            });
        }
        progress(&p);
        predictions.push(p);
    }
    Ok(EvalRun {
        backend: backend.to_string(),
        predictions,
        total_s: start.elapsed().as_secs_f64(),
    })
}

/// Last-position logits of the first [`PROBE_PROMPTS`] examples' prompts, each from an empty
/// cache: the same numbers every backend must reproduce.
pub fn probe_logits<M: LanguageModel>(
    model: &M,
    analyzer: &Analyzer<'_, M>,
    examples: &[Example],
) -> Result<Vec<Vec<f32>>, AnalyzeError> {
    let mut out = Vec::new();
    for ex in examples.iter().take(PROBE_PROMPTS) {
        let prompt = analyzer.prompt_for(&ex.instruction, ex.input.as_bytes())?;
        let mut cache = model.new_cache();
        out.push(model.forward(&prompt.all(), &mut cache)?);
    }
    Ok(out)
}

/// The largest absolute difference between two backends' probe logits.
pub fn max_logit_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_logit_diff_takes_the_largest_gap() {
        let a = vec![vec![1.0, 2.0], vec![0.0, -1.0]];
        let b = vec![vec![1.5, 2.0], vec![0.0, 1.0]];
        assert_eq!(max_logit_diff(&a, &b), 2.0);
        assert_eq!(max_logit_diff(&a, &a), 0.0);
    }
}
