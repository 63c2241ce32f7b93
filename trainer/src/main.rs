//! `opensoc-train`: LoRA fine-tuning (`train`), the training-data builder (`data`), the
//! scan-level evaluation suites (`suites`), data-set token counts (`stats`) and merged GGUF
//! export.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use opensoc::gguf::file::ModelFile;
use opensoc::model::tokenizer::Tokenizer;

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
    Train(commands::train::TrainArgs),
    /// Builds the training set and the held-out files from the shared data folder.
    Data(commands::data::DataArgs),
    /// Writes scan-level evaluation suites (logs with expected findings) from fail2ban, Wazuh
    /// and the Core Rule Set, holding out whole services; `opensoc eval --suite` runs them.
    Suites(commands::suites::SuitesArgs),
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
    Export(commands::export::ExportArgs),
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
        Command::Train(args) => return commands::train::run(args, cli.model),
        Command::Export(args) => return commands::export::run(cli.model.as_deref(), args),
        Command::Data(args) => return commands::data::run(args, cli.model.as_deref()),
        Command::Suites(args) => return commands::suites::run(args),
        Command::Stats { data, max_len } => (data, max_len),
    };
    let path = opensoc::model::fetch::resolve_model(cli.model.as_deref(), true)?;
    let file = ModelFile::open(&path)?;
    let tok = Tokenizer::from_gguf(&file.gguf)
        .with_context(|| format!("reading the tokenizer of {}", path.display()))?;
    let examples = opensoc::task::dataset::load_examples(&data)?;
    anyhow::ensure!(!examples.is_empty(), "{} holds no examples", data.display());
    let counts = opensoc_trainer::data::token_counts(&tok, &examples)?;
    println!("{}", counts.summary(max_len));
    Ok(())
}
