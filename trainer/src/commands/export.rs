//! `opensoc-train export`: the base model with a PEFT adapter merged in, as one GGUF file that
//! llama.cpp runs.

use std::path::{Path, PathBuf};

use anyhow::Context;
use opensoc::gguf::file::ModelFile;
use opensoc::model::config::LlamaConfig;
use opensoc::train::export::{export_merged, ExportProgress, ExportQuant};

/// Arguments of `opensoc-train export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// PEFT adapter directory to merge (default: the adapter shipped inside opensoc).
    #[arg(long, value_name = "DIR", conflicts_with = "no_adapter")]
    adapter: Option<PathBuf>,
    /// Merge nothing: the base model, re-quantized.
    #[arg(long)]
    no_adapter: bool,
    /// Output GGUF file; written whole or not at all.
    #[arg(long, value_name = "FILE.gguf")]
    out: PathBuf,
    /// Weight type: f16, q8_0, q4_0, q4_1 or q4_k (rows that are not multiples of 256 fall
    /// back to q8_0 under q4_k).
    #[arg(long, default_value = "q8_0", value_parser = clap::builder::ValueParser::new(parse_quant))]
    quant: ExportQuant,
}

fn parse_quant(s: &str) -> Result<ExportQuant, String> {
    s.parse()
}

/// Runs the export of `args` on the model at `model` (default: the fetched default model).
pub fn run(model: Option<&Path>, args: ExportArgs) -> anyhow::Result<()> {
    let path = opensoc::model::fetch::resolve_model(model, true)?;
    let cfg = || -> anyhow::Result<LlamaConfig> {
        let file = ModelFile::open(&path)?;
        LlamaConfig::from_gguf(&file.gguf)
            .with_context(|| format!("reading the configuration of {}", path.display()))
    };
    let adapter = match (&args.adapter, args.no_adapter) {
        (_, true) => None,
        (Some(dir), false) => Some(opensoc::model::peft::load_peft(dir, &cfg()?)?),
        (None, false) => Some(
            opensoc::model::shipped::shipped_adapter(&cfg()?)
                .context("the shipped adapter does not fit this model; give --adapter DIR")?,
        ),
    };
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tensors, {msg}")
            .expect("a valid template"),
    );
    let mut progress = |p: ExportProgress<'_>| {
        bar.set_length(p.total as u64);
        bar.set_position(p.index as u64);
        bar.set_message(p.tensor.to_string());
    };
    let report = export_merged(
        &path,
        adapter.as_ref(),
        &args.out,
        args.quant,
        &mut progress,
    );
    bar.finish_and_clear();
    print!("{}", report?);
    Ok(())
}
