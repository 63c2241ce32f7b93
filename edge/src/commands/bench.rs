//! `opensoc bench`: prefill and decode tokens per second on the loaded model.

use clap::Args;
use std::process::ExitCode;

use crate::commands::loaded_model::{LoadedModel, BACKENDS};
use crate::Global;

/// Arguments of `opensoc bench`.
#[derive(Debug, Args)]
#[command(
    after_help = "Threads: RAYON_NUM_THREADS or CANDLE_NUM_THREADS (default: every core). \
                        One unmeasured pass precedes the measured runs."
)]
pub struct BenchArgs {
    /// Backend to measure: cpu, candle (the CUDA code path on the CPU), cuda or wgpu (a GPU through Vulkan or Metal; --wgpu-adapter picks one).
    #[arg(long, default_value = "cpu", value_parser = BACKENDS)]
    backend: String,
    /// Prompt length in tokens (log text from data/bench_prompt.txt, repeated as needed).
    #[arg(long, default_value_t = 300)]
    prompt_tokens: usize,
    /// Tokens to generate greedily after the prompt.
    #[arg(long, default_value_t = 64)]
    gen_tokens: usize,
    /// Runs to take the medians over.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark and prints its figures.
pub fn run(args: BenchArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let lm = LoadedModel::load(global)?;
    let (path, load_s) = (&lm.path, lm.load_s);
    let prompt = opensoc::eval::bench::prompt_tokens(&lm.tokenizer, args.prompt_tokens)?;
    let r = match args.backend.as_str() {
        "cpu" => opensoc::eval::bench::run(&lm.model, &prompt, args.gen_tokens, args.runs)?,
        "wgpu" => {
            opensoc::eval::bench::run(&lm.on_wgpu(global)?, &prompt, args.gen_tokens, args.runs)?
        }
        b => opensoc::eval::bench::run(&lm.on_device(b)?, &prompt, args.gen_tokens, args.runs)?,
    };
    let rss_mb = opensoc::eval::bench::peak_rss_mb();
    if args.json {
        let mut v = serde_json::to_value(&r)?;
        v["load_s"] = serde_json::json!(load_s);
        v["peak_rss_mb"] = serde_json::json!(rss_mb);
        println!("{v}");
    } else {
        println!("model      {}", path.display());
        println!("backend    {} ({} threads)", r.backend, r.threads);
        println!("load       {load_s:.3} s");
        println!(
            "prefill    {:.1} tok/s ({} tokens, median of {})",
            r.prefill_tok_s, r.prompt_tokens, r.runs
        );
        println!(
            "decode     {:.1} tok/s ({} tokens)",
            r.decode_tok_s, r.gen_tokens
        );
        if let Some(mb) = rss_mb {
            println!("peak RSS   {mb:.0} MB");
        }
    }
    Ok(ExitCode::SUCCESS)
}
