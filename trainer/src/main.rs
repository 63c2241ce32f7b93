//! `opensoc-train`: LoRA fine-tuning (`train`), data-set token counts (`stats`) and merged GGUF
//! export.

mod train_cmd;

mod export_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use opensoc::model_file::ModelFile;
use opensoc::prompt;
use opensoc::tokenizer::Tokenizer;

/// opensoc-train: fine-tunes and exports the model behind opensoc.
#[derive(Debug, Parser)]
#[command(name = "opensoc-train", version)]
struct Cli {
    /// GGUF base model to train, measure or export [default: the fetched SmolLM2-135M-Instruct].
    #[arg(long, global = true, env = "OPENSOC_MODEL", value_name = "PATH")]
    model: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

// The training graph allocates many large, short-lived tensors; mimalloc reuses them where the
// system allocator returns them to the kernel and faults them in again.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Subcommand)]
enum Command {
    /// LoRA fine-tuning with the paper's recipe (Table IV) on a seed-format data set.
    Train(train_cmd::TrainArgs),
    /// Token counts of a data set in the seed's format (instruction, input, output): prompt and
    /// response lengths, and how many examples exceed the training length cap.
    Stats {
        /// JSON file: a list of {"instruction", "input", "output"}.
        #[arg(long)]
        data: PathBuf,
        /// Training length cap in tokens (prompt + response).
        #[arg(long, default_value_t = 512)]
        max_len: usize,
    },
    /// Merges a PEFT adapter into the model and writes it as one GGUF file (f16, q8_0, q4_0,
    /// q4_1 or q4_k) with all metadata and the tokenizer kept.
    Export(export_cmd::ExportArgs),
}

/// mimalloc's `purge_delay` option (its position in `mi_option_e`; libmimalloc-sys names only
/// the options it deems stable).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory mapped: training frees and reallocates megabytes per step, and memory
/// purged in between comes back as page faults that zero fresh pages.
fn keep_freed_memory() {
    // SAFETY: plain calls into the allocator's option table. The position is checked by the
    // option's value: a delay in milliseconds (mimalloc's defaults are 10 or 1000), which the
    // `MIMALLOC_PURGE_DELAY` variable may already have set otherwise.
    unsafe {
        let v = libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY);
        if v == 10 || v == 1000 {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let (data, max_len) = match cli.command {
        Command::Train(args) => return train_cmd::run(args, cli.model),
        Command::Export(args) => return export_cmd::run(cli.model.as_deref(), args),
        Command::Stats { data, max_len } => (data, max_len),
    };
    let path = opensoc::fetch::resolve_model(cli.model.as_deref(), true)?;
    let file = ModelFile::open(&path)?;
    let tok = Tokenizer::from_gguf(&file.gguf)
        .with_context(|| format!("reading the tokenizer of {}", path.display()))?;
    let examples = opensoc::dataset::load_examples(&data)?;
    anyhow::ensure!(!examples.is_empty(), "{} holds no examples", data.display());
    let mut prompts = Vec::with_capacity(examples.len());
    let mut responses = Vec::with_capacity(examples.len());
    for e in &examples {
        // Tokenized exactly as the analyzer builds its prompts (the log text uncut here).
        prompts.push(prompt::prompt_tokens(&tok, &e.instruction, &e.input)?.len());
        responses.push(prompt::encode_after_newline(&tok, &e.output)?.len());
    }
    let over = prompts
        .iter()
        .zip(&responses)
        .filter(|(p, r)| *p + *r > max_len)
        .count();
    // Plain truncation at the cap (what the paper's trainer did) cuts the response of every
    // example over the cap, and drops it entirely where the prompt alone fills the cap.
    let response_lost = prompts.iter().filter(|&&p| p >= max_len).count();
    println!("examples            {}", examples.len());
    println!("prompt tokens       {}", summary(&mut prompts));
    println!("response tokens     {}", summary(&mut responses));
    println!("over {max_len} tokens      {over}");
    println!("  plain truncation cuts the response of {over}, loses it whole in {response_lost}");
    Ok(())
}

/// "median M / mean A / max X" of a non-empty list.
fn summary(xs: &mut [usize]) -> String {
    xs.sort_unstable();
    let mean = xs.iter().sum::<usize>() as f64 / xs.len() as f64;
    format!(
        "median {} / mean {mean:.0} / max {}",
        xs[xs.len() / 2],
        xs[xs.len() - 1]
    )
}
