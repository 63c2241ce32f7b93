//! `opensoc-train data`: builds the training set and the held-out files from the shared data
//! folder (see `opensoc_trainer::corpus`), prints the class balance and the token counts.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use opensoc::gguf::file::ModelFile;
use opensoc::model::tokenizer::Tokenizer;
use opensoc_trainer::corpus::{self, BuildConfig, Recipe};
use opensoc_trainer::data::{self, DataConfig, LossOn};

/// Arguments of `opensoc-train data`.
#[derive(Debug, Args)]
#[command(
    after_help = "Writes into --out: train.json, heldout_payloads.json, heldout_benign_<System>.json, \
                  heldout_ssh.json, heldout_windows_events.json, heldout_mixed.json with \
                  heldout_mixed.secondary.json, and stats.json."
)]
pub struct DataArgs {
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The shared data folder [default: $OPENSOC_DATA, else ../shared/data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Seed of every random choice (same seed, same files).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Multiplies the generated counts (0.2 gives a small set).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Skip the token counts (they need the base model's tokenizer).
    #[arg(long)]
    no_tokens: bool,
    /// Write only the five structured lines in the generated training examples' outputs
    /// (the seed's examples and the held-out files stay complete).
    #[arg(long)]
    structured_only: bool,
    /// Which shipped step's training set to write: step2 (real payloads only, 5,049
    /// examples), step4 (plus the project-written payloads and the benign web windows that
    /// balance them, 6,009), step5 (plus network, transfer, mail and VPN logs and scanners
    /// after secret files, 6,635), step6 (plus the windows of the real services the suite
    /// does not hold out, and prompt-injection carriers with the training phrasings: the
    /// shipped adapter's last step; build the suite with the same --seed), step7 (the same
    /// with twice as many attacking windows per real service: trained and not shipped, see
    /// data/adapter/README.md), step8 (step 6's parts with twice as many Core Rule Set
    /// windows and bursts of the real services' ordinary lines as benign). The held-out files
    /// are the same for all.
    #[arg(long, value_enum, default_value = "step6")]
    recipe: Recipe,
    /// Training length cap used for the token counts.
    #[arg(long, default_value_t = 512)]
    max_len: usize,
}

/// Runs the command; `model` is the global `--model`.
pub fn run(args: DataArgs, model: Option<&Path>) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.scale > 0.0 && args.scale.is_finite(),
        "--scale must be a positive number"
    );
    let cfg = BuildConfig {
        data_dir: args
            .data
            .unwrap_or_else(opensoc::task::dataset::default_data_dir),
        seed: args.seed,
        scale: args.scale,
        structured_only: args.structured_only,
        recipe: args.recipe,
    };
    let built =
        corpus::build(&cfg).with_context(|| format!("building from {}", cfg.data_dir.display()))?;
    let stats = corpus::write(&cfg, &built, &args.out)?;
    println!("{}", corpus::stats_table(&stats));
    println!(
        "dropped: {} equal to a soc_eval.json input, {} repeated inputs",
        stats.dropped_eval, stats.dropped_duplicates
    );
    if args.no_tokens {
        return Ok(());
    }
    let path = opensoc::model::fetch::resolve_model(model, true)?;
    let file = ModelFile::open(&path)?;
    let tok = Tokenizer::from_gguf(&file.gguf)
        .with_context(|| format!("reading the tokenizer of {}", path.display()))?;
    let train = args.out.join("train.json");
    let examples = opensoc::task::dataset::load_examples(&train)?;
    let counts = data::token_counts(&tok, &examples)?;
    let raw: usize = counts.prompts.iter().chain(&counts.responses).sum();
    let set = data::build(
        &tok,
        &examples,
        &DataConfig {
            max_len: args.max_len,
            loss: LossOn::Response,
        },
    )?;
    println!("train.json          {} examples", examples.len());
    println!("tokens as written   {raw}");
    println!(
        "tokens trained      {} (cap {}: {} inputs cut, {} skipped)",
        set.report.tokens, args.max_len, set.report.input_cut, set.report.skipped
    );
    println!("{}", counts.summary(args.max_len));
    Ok(())
}
