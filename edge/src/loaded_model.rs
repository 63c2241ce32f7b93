//! The model every command runs: resolved (fetched on first use), mapped, loaded, with its
//! tokenizer.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use opensoc::fetch::resolve_model;
use opensoc::llama::Llama;
use opensoc::model_file::ModelFile;
use opensoc::tokenizer::Tokenizer;

use crate::Global;

/// A loaded model and its tokenizer.
pub struct LoadedModel {
    /// Where the GGUF file is.
    pub path: PathBuf,
    /// The forward pass.
    pub model: Llama,
    /// The tokenizer from the GGUF metadata.
    pub tokenizer: Tokenizer,
    /// Seconds the load took (mapping, packing, tokenizer).
    pub load_s: f64,
}

impl LoadedModel {
    /// Loads `--model`, `$OPENSOC_MODEL` or the default model (fetching it if needed).
    pub fn load(global: &Global) -> anyhow::Result<LoadedModel> {
        let path = resolve_model(global.model.as_deref(), true)?;
        let start = Instant::now();
        let file = ModelFile::open(&path)?;
        let model = Llama::load(&file)?;
        let tokenizer = Tokenizer::from_gguf(&file.gguf)
            .with_context(|| format!("reading the tokenizer of {}", path.display()))?;
        Ok(LoadedModel {
            path,
            model,
            tokenizer,
            load_s: start.elapsed().as_secs_f64(),
        })
    }
}
