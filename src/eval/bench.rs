//! Prefill and decode throughput of a loaded model on a fixed prompt.
//!
//! The prompt is real-looking log text shipped in `data/bench_prompt.txt`, tokenized and cut
//! (or repeated) to the requested length, so that opensoc and a peer (llama.cpp, see
//! `scripts/bench-vs-llamacpp.sh`) process the very same tokens.

use std::time::Instant;

use serde::Serialize;

use crate::model::config::ModelError;
use crate::model::language_model::{argmax, LanguageModel};
use crate::model::tokenizer::{Tokenizer, TokenizerError};

/// The benchmark prompt text.
pub const PROMPT_TEXT: &str = include_str!("../../data/bench_prompt.txt");

/// One benchmark's figures (medians over the runs).
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Backend that ran the model.
    pub backend: String,
    /// Prompt length in tokens.
    pub prompt_tokens: usize,
    /// Tokens generated after the prompt.
    pub gen_tokens: usize,
    /// Prompt tokens processed per second (median).
    pub prefill_tok_s: f64,
    /// Generated tokens per second (median).
    pub decode_tok_s: f64,
    /// Runs the medians are taken over.
    pub runs: usize,
    /// Threads the CPU kernels use.
    pub threads: usize,
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error("{0}")]
    Invalid(String),
}

/// The first `n` tokens of the benchmark text (repeated as needed).
pub fn prompt_tokens(tok: &Tokenizer, n: usize) -> Result<Vec<u32>, BenchError> {
    let once = tok.encode(PROMPT_TEXT, false, false)?;
    if once.is_empty() {
        return Err(BenchError::Invalid(
            "the benchmark prompt encodes to no tokens".into(),
        ));
    }
    Ok(once.iter().copied().cycle().take(n).collect())
}

/// Median of a non-empty list.
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Runs prefill of `prompt` then `gen` greedy decode steps, `runs` times after one warm-up
/// prefill; returns medians.
pub fn run<M: LanguageModel>(
    model: &M,
    prompt: &[u32],
    gen: usize,
    runs: usize,
) -> Result<BenchResult, BenchError> {
    if prompt.is_empty() || gen == 0 || runs == 0 {
        return Err(BenchError::Invalid(
            "prompt tokens, generated tokens and runs must all be at least 1".into(),
        ));
    }
    let max = model.context_len();
    if prompt.len() + gen > max {
        return Err(BenchError::Invalid(format!(
            "{} prompt + {gen} generated tokens exceed the model's context of {max}",
            prompt.len()
        )));
    }
    // One unmeasured pass first: the first forward pass faults in the weights and the
    // allocator's arenas, which no later entry pays again.
    let mut cache = model.new_cache();
    model.forward(prompt, &mut cache)?;
    let (mut prefill, mut decode) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let mut cache = model.new_cache();
        let start = Instant::now();
        let mut logits = model.forward(prompt, &mut cache)?;
        prefill.push(prompt.len() as f64 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        for _ in 0..gen {
            let next = argmax(&logits);
            logits = model.forward(&[next], &mut cache)?;
        }
        decode.push(gen as f64 / start.elapsed().as_secs_f64());
    }
    Ok(BenchResult {
        backend: model.backend_name().into(),
        prompt_tokens: prompt.len(),
        gen_tokens: gen,
        prefill_tok_s: median(&mut prefill),
        decode_tok_s: median(&mut decode),
        runs,
        threads: candle_core::utils::get_num_threads(),
    })
}

/// The process's peak resident set (VmHWM) in MB, where /proc tells it.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
