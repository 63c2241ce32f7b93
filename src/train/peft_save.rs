//! Writing PEFT adapter files (`opensoc-train`'s output): the tensors under PEFT's names in
//! Hugging Face's row order and PEFT's `LoraConfig`, each file whole or not at all. Reading
//! them is [`crate::model::peft`]'s job, which every binary needs.

use std::path::Path;

use half::f16;
use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;

use crate::model::config::LlamaConfig;
use crate::model::lora::{LoraAdapter, LoraConfig, Target};
use crate::model::peft::{hf_row, is_rope_permuted, PeftError, ADAPTER_FILE, CONFIG_FILE};
use crate::util::atomic_file::write_atomically;

/// Element type of the saved tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeftDtype {
    /// 32-bit floats: exact.
    #[default]
    F32,
    /// 16-bit floats: half the size (what the shipped adapter uses).
    F16,
}

/// Writes `adapter` (for `model`) into `dir` in PEFT's format, with F32 tensors.
///
/// `base_model_name` becomes `base_model_name_or_path` (a Hugging Face id such as
/// `HuggingFaceTB/SmolLM2-135M-Instruct`, which PEFT loads the base model from).
pub fn save_peft(
    adapter: &LoraAdapter,
    model: &LlamaConfig,
    dir: &Path,
    base_model_name: &str,
) -> Result<(), PeftError> {
    save_peft_as(adapter, model, dir, base_model_name, PeftDtype::F32)
}

/// Writes `adapter` (for `model`) into `dir` in PEFT's format with tensors of `dtype`; each
/// file appears whole or not at all, and `dir` is created if need be.
pub fn save_peft_as(
    adapter: &LoraAdapter,
    model: &LlamaConfig,
    dir: &Path,
    base_model_name: &str,
    dtype: PeftDtype,
) -> Result<(), PeftError> {
    let cfg = &adapter.config;
    check_for_save(adapter, model)?;
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let encode = |v: &[f32]| -> Vec<u8> {
        match dtype {
            PeftDtype::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            PeftDtype::F16 => v
                .iter()
                .flat_map(|&x| f16::from_f32(x).to_le_bytes())
                .collect(),
        }
    };
    for layer in 0..model.n_layer {
        for &t in &cfg.targets {
            let p = adapter
                .pair(layer, t)
                .expect("check_for_save found every pair");
            let b = if is_rope_permuted(t) {
                to_hf_rows(&p.b, cfg.r, model.head_dim())
            } else {
                p.b.clone()
            };
            tensors.push((
                LoraAdapter::peft_name(layer, t, 'A'),
                vec![cfg.r, p.in_dim],
                encode(&p.a),
            ));
            tensors.push((
                LoraAdapter::peft_name(layer, t, 'B'),
                vec![p.out_dim, cfg.r],
                encode(&b),
            ));
        }
    }
    let st_dtype = match dtype {
        PeftDtype::F32 => Dtype::F32,
        PeftDtype::F16 => Dtype::F16,
    };
    let views = tensors
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(st_dtype, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| PeftError::Inconsistent(format!("tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // transformers and PEFT tag their files as PyTorch tensors; some loaders insist.
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    let weights_path = dir.join(ADAPTER_FILE);
    let bytes =
        safetensors::serialize(views, Some(meta)).map_err(|source| PeftError::Safetensors {
            path: weights_path.clone(),
            source,
        })?;
    std::fs::create_dir_all(dir).map_err(|source| PeftError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    write_file(&weights_path, &bytes)?;
    let config = config_json(cfg, base_model_name);
    let mut text = serde_json::to_string_pretty(&config).expect("a JSON value always serialises");
    text.push('\n');
    write_file(&dir.join(CONFIG_FILE), text.as_bytes())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), PeftError> {
    let io = |source| PeftError::Io {
        path: path.to_path_buf(),
        source,
    };
    write_atomically(path, io, |w| {
        std::io::Write::write_all(w, bytes).map_err(io)
    })
}

/// Every configured target of every layer has a pair whose sizes fit the model and the rank.
fn check_for_save(adapter: &LoraAdapter, model: &LlamaConfig) -> Result<(), PeftError> {
    let cfg = &adapter.config;
    let bad = |m: String| Err(PeftError::Inconsistent(m));
    if cfg.r == 0 {
        return bad("rank r is 0".into());
    }
    if adapter.blocks.len() != model.n_layer {
        return bad(format!(
            "it has {} blocks, the model {}",
            adapter.blocks.len(),
            model.n_layer
        ));
    }
    for layer in 0..model.n_layer {
        for &t in &cfg.targets {
            let Some(p) = adapter.pair(layer, t) else {
                return bad(format!(
                    "block {layer} has no {} pair, though the configuration targets it",
                    t.name()
                ));
            };
            let (i, o) = t.dims(model);
            if (p.in_dim, p.out_dim) != (i, o) || p.a.len() != cfg.r * i || p.b.len() != o * cfg.r {
                return bad(format!(
                    "block {layer} {}: A has {} values and B {} for {}x{} at r {}; the model \
                     needs in {i}, out {o}",
                    t.name(),
                    p.a.len(),
                    p.b.len(),
                    p.in_dim,
                    p.out_dim,
                    cfg.r
                ));
            }
        }
    }
    Ok(())
}

/// PEFT's `LoraConfig` as its `save_pretrained` writes it (keys sorted, as Python's json does).
fn config_json(cfg: &LoraConfig, base_model_name: &str) -> serde_json::Value {
    let targets: Vec<&str> = Target::ALL
        .iter()
        .filter(|t| cfg.targets.contains(t))
        .map(|t| t.name())
        .collect();
    json!({
        "alpha_pattern": {},
        "auto_mapping": null,
        "base_model_name_or_path": base_model_name,
        "bias": "none",
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "layers_pattern": null,
        "layers_to_transform": null,
        "lora_alpha": short_number(cfg.alpha),
        "lora_dropout": short_number(cfg.dropout),
        "modules_to_save": null,
        "peft_type": "LORA",
        "r": cfg.r,
        "rank_pattern": {},
        "revision": null,
        "target_modules": targets,
        "task_type": "CAUSAL_LM",
        "use_dora": false,
        "use_rslora": false,
    })
}

/// An f32 as the number a person wrote: 32 rather than 32.0, 0.05 rather than
/// 0.05000000074505806.
fn short_number(v: f32) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        json!(v as i64)
    } else {
        json!(v.to_string().parse::<f64>().unwrap_or(f64::from(v)))
    }
}

/// `b` (`out × r`, GGUF row order) in Hugging Face's row order.
fn to_hf_rows(b: &[f32], r: usize, head_dim: usize) -> Vec<f32> {
    let mut out = vec![0f32; b.len()];
    for (g, row) in b.chunks_exact(r).enumerate() {
        let h = hf_row(g, head_dim);
        out[h * r..(h + 1) * r].copy_from_slice(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lora::SplitMix64;
    use crate::model::peft::tests::model;
    use crate::model::peft::{load_peft, to_gguf_rows};
    use safetensors::SafeTensors;

    /// An adapter with random A and B (B non-zero, so the q/k permutation is exercised).
    fn adapter(r: usize) -> LoraAdapter {
        let cfg = LoraConfig {
            r,
            ..LoraConfig::default()
        };
        let mut a = LoraAdapter::init(&model(), cfg, 3);
        let mut rng = SplitMix64::new(9);
        for p in a.blocks.iter_mut().flatten().flatten() {
            p.b.iter_mut().for_each(|v| *v = rng.next_f32() - 0.5);
        }
        a
    }

    #[test]
    fn round_trip_f32_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter(4);
        save_peft(
            &a,
            &model(),
            dir.path(),
            "HuggingFaceTB/SmolLM2-135M-Instruct",
        )
        .unwrap();
        let b = load_peft(dir.path(), &model()).unwrap();
        assert_eq!(a, b);
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(cfg["peft_type"], "LORA");
        assert_eq!(cfg["r"], 4);
        assert_eq!(cfg["lora_alpha"], 32);
        assert_eq!(cfg["lora_dropout"], 0.05);
        assert_eq!(cfg["task_type"], "CAUSAL_LM");
        assert_eq!(cfg["bias"], "none");
        assert_eq!(cfg["fan_in_fan_out"], false);
        assert_eq!(cfg["inference_mode"], true);
        assert_eq!(
            cfg["base_model_name_or_path"],
            "HuggingFaceTB/SmolLM2-135M-Instruct"
        );
        assert_eq!(
            cfg["target_modules"],
            json!([
                "q_proj",
                "k_proj",
                "v_proj",
                "o_proj",
                "gate_proj",
                "up_proj",
                "down_proj"
            ])
        );
        // Only the two files, no temporary left over.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn saved_tensors_have_peft_names_shapes_and_hf_row_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter(4);
        save_peft(&a, &model(), dir.path(), "m").unwrap();
        let bytes = std::fs::read(dir.path().join(ADAPTER_FILE)).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.len(), 2 * 7 * 2);
        let q_a = st
            .tensor("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight")
            .unwrap();
        assert_eq!((q_a.dtype(), q_a.shape()), (Dtype::F32, &[4usize, 16][..]));
        let k_b = st
            .tensor("base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight")
            .unwrap();
        assert_eq!(k_b.shape(), &[8, 4]);
        let down_b = st
            .tensor("base_model.model.model.layers.0.mlp.down_proj.lora_B.weight")
            .unwrap();
        assert_eq!(down_b.shape(), &[16, 4]);
        // Head size 4: GGUF rows (0, 1, 2, 3) of a head are Hugging Face rows (0, 2, 1, 3).
        let row = |bytes: &[u8], i: usize| -> Vec<f32> {
            bytes[i * 16..(i + 1) * 16]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        };
        let ours = &a.pair(0, Target::KProj).unwrap().b;
        assert_eq!(row(k_b.data(), 2), ours[4..8].to_vec());
        assert_eq!(row(k_b.data(), 1), ours[8..12].to_vec());
        assert_eq!(row(k_b.data(), 7), ours[28..32].to_vec());
        let down = &a.pair(0, Target::DownProj).unwrap().b;
        assert_eq!(row(down_b.data(), 1), down[4..8].to_vec());
    }

    #[test]
    fn hf_permutation_is_llama_cpp_s() {
        // llama.cpp: w.reshape(n_head, 2, head_dim/2, ...).swapaxes(1, 2) maps Hugging Face
        // row (h, j, i) to GGUF row (h, i, j).
        let hd = 8;
        for h in 0..3 {
            for j in 0..2 {
                for i in 0..hd / 2 {
                    let hf = h * hd + j * hd / 2 + i;
                    let gguf = h * hd + i * 2 + j;
                    assert_eq!(hf_row(gguf, hd), hf);
                }
            }
        }
        let b: Vec<f32> = (0..48).map(|v| v as f32).collect();
        assert_eq!(to_gguf_rows(&to_hf_rows(&b, 2, hd), 2, hd), b);
    }

    #[test]
    fn round_trip_f16_within_half_precision() {
        let dir = tempfile::tempdir().unwrap();
        let a = adapter(8);
        save_peft_as(&a, &model(), dir.path(), "m", PeftDtype::F16).unwrap();
        let bytes = std::fs::read(dir.path().join(ADAPTER_FILE)).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert!(st.iter().all(|(_, v)| v.dtype() == Dtype::F16));
        let b = load_peft(dir.path(), &model()).unwrap();
        assert_eq!(a.config, b.config);
        for (p, q) in a
            .blocks
            .iter()
            .flatten()
            .flatten()
            .zip(b.blocks.iter().flatten().flatten())
        {
            for (x, y) in p.a.iter().chain(&p.b).zip(q.a.iter().chain(&q.b)) {
                assert!(
                    (x - y).abs() <= x.abs() * 2f32.powi(-11) + 2f32.powi(-25),
                    "{x} {y}"
                );
            }
        }
    }

    #[test]
    fn saving_an_adapter_that_does_not_fit_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = adapter(4);
        a.blocks[1][Target::UpProj.index()] = None;
        let err = save_peft(&a, &model(), dir.path(), "m")
            .unwrap_err()
            .to_string();
        assert!(err.contains("block 1 has no up_proj"), "{err}");
        let mut a = adapter(4);
        a.blocks.pop();
        assert!(save_peft(&a, &model(), dir.path(), "m").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
