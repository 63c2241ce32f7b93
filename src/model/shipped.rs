//! The LoRA adapter shipped inside the binary (`data/adapter/`), trained on the seed's
//! `soc_train.json` for the default model; `data/adapter/README.md` gives the command.

use std::path::Path;

use crate::model::config::LlamaConfig;
use crate::model::lora::LoraAdapter;
use crate::model::peft::{load_peft_bytes, PeftError};

const CONFIG: &[u8] = include_bytes!("../../data/adapter/adapter_config.json");
const WEIGHTS: &[u8] = include_bytes!("../../data/adapter/adapter_model.safetensors");

/// The shipped adapter for `model`; an error when the model's shapes are not the ones it was
/// trained for (any model but the default).
pub fn shipped_adapter(model: &LlamaConfig) -> Result<LoraAdapter, PeftError> {
    load_peft_bytes(
        CONFIG,
        Path::new("(shipped) data/adapter/adapter_config.json"),
        WEIGHTS,
        Path::new("(shipped) data/adapter/adapter_model.safetensors"),
        model,
    )
}
