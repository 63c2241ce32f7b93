//! The model every command runs: resolved (fetched on first use), mapped, loaded, with its
//! tokenizer.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use opensoc::backend::candle::{cuda_device, DeviceLlama};
use opensoc::backend::wgpu::device::Gpu;
use opensoc::backend::wgpu::llama::WgpuLlama;
use opensoc::candle_core::Device;
use opensoc::gguf::file::ModelFile;
use opensoc::model::fetch::resolve_model;
use opensoc::model::llama::Llama;
use opensoc::model::peft::load_peft;
use opensoc::model::shipped::shipped_adapter;
use opensoc::model::tokenizer::Tokenizer;

use crate::{AdapterChoice, Global};

/// What `--backend` accepts: `cpu` (the hand-written forward), `candle` (the device code path
/// run on the CPU: what `cuda` runs, checkable on any machine), `cuda` (an NVIDIA GPU; a
/// build with `--features cuda`) and `wgpu` (any GPU with Vulkan or Metal, our WGSL kernels).
pub const BACKENDS: [&str; 4] = ["cpu", "candle", "cuda", "wgpu"];

/// A loaded model and its tokenizer.
pub struct LoadedModel {
    /// Which adapter is applied, in words (`shipped`, a directory, `none`).
    pub adapter: String,
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
    /// Loads `--model`, `$OPENSOC_MODEL` or the default model (fetching it if needed), with
    /// the adapter `--adapter` / `--no-adapter` ask for (the shipped one by default).
    pub fn load(global: &Global) -> anyhow::Result<LoadedModel> {
        let path = resolve_model(global.model.as_deref(), true)?;
        let start = Instant::now();
        let file = ModelFile::open(&path)?;
        let mut model = Llama::load(&file)?;
        let tokenizer = Tokenizer::from_gguf(&file.gguf)
            .with_context(|| format!("reading the tokenizer of {}", path.display()))?;
        let adapter = match &global.adapter {
            AdapterChoice::None => "none".to_string(),
            AdapterChoice::Dir(dir) => {
                let a = load_peft(dir, model.config())
                    .with_context(|| format!("loading the adapter in {}", dir.display()))?;
                model.set_adapter(Some(a))?;
                dir.display().to_string()
            }
            AdapterChoice::Shipped => match shipped_adapter(model.config()) {
                Ok(a) => {
                    model.set_adapter(Some(a))?;
                    "shipped".to_string()
                }
                Err(e) => {
                    // Another model (TinyLlama, say): the shipped adapter has other shapes.
                    eprintln!(
                        "note: the shipped adapter does not fit {} ({e}); running it without \
                         an adapter (--adapter DIR gives one)",
                        path.display()
                    );
                    "none".to_string()
                }
            },
        };
        Ok(LoadedModel {
            adapter,
            path,
            model,
            tokenizer,
            load_s: start.elapsed().as_secs_f64(),
        })
    }
}

impl LoadedModel {
    /// The same model and adapter on a candle device, for `--backend candle|cuda`.
    pub fn on_device(&self, backend: &str) -> anyhow::Result<DeviceLlama> {
        let device = match backend {
            "candle" => Device::Cpu,
            "cuda" => cuda_device(0)?,
            other => bail!("backend {other:?} does not run on a candle device"),
        };
        let file = ModelFile::open(&self.path)?;
        let mut model = DeviceLlama::load(&file, &device, backend)
            .with_context(|| format!("loading {} on {backend}", self.path.display()))?;
        model.set_adapter(self.model.adapter())?;
        Ok(model)
    }

    /// The same model and adapter on a GPU through wgpu, for `--backend wgpu`.
    pub fn on_wgpu(&self, global: &Global) -> anyhow::Result<WgpuLlama> {
        let gpu = Gpu::open(global.wgpu_adapter.as_deref())?;
        let what = opensoc::backend::wgpu::device::describe(&gpu.info);
        let model = WgpuLlama::new(&self.model, gpu)
            .with_context(|| format!("loading {} on {what}", self.path.display()))?;
        eprintln!("wgpu: {what}");
        Ok(model)
    }
}
