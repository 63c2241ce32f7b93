//! PEFT adapter files: `adapter_model.safetensors` with PEFT's tensor names and
//! `adapter_config.json` with PEFT's `LoraConfig` keys, so that an adapter trained by opensoc
//! loads in Hugging Face PEFT and a PEFT adapter loads in opensoc.
//!
//! Row order. llama.cpp's converter permutes the output rows of `q_proj` and `k_proj` when it
//! writes a GGUF (within each head it interleaves the two halves, for ggml's adjacent-pair RoPE).
//! A [`LoraAdapter`] lives in the GGUF's order, since it is applied to the GGUF's weights; PEFT
//! files are in Hugging Face's. So the `B` matrices of q and k, whose rows are those outputs,
//! are permuted on save (`crate::train::peft_save`) and permuted back on load; `A` matrices (input side) are untouched.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::model::config::LlamaConfig;
use crate::model::lora::{LoraAdapter, LoraConfig, LoraPair, Target};

/// The weights file of a PEFT adapter directory.
pub const ADAPTER_FILE: &str = "adapter_model.safetensors";
/// The configuration file of a PEFT adapter directory.
pub const CONFIG_FILE: &str = "adapter_config.json";

/// Why a PEFT adapter could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum PeftError {
    /// A file of the adapter directory does not exist.
    #[error(
        "{path} is missing: a PEFT adapter directory holds {CONFIG_FILE} and {ADAPTER_FILE}{hint}"
    )]
    MissingFile {
        /// The file looked for.
        path: PathBuf,
        /// More help where the directory holds something else.
        hint: String,
    },
    /// Reading or writing a file failed.
    #[error("PEFT adapter file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// `adapter_config.json` is not valid JSON.
    #[error("{path} is not valid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and what.
        #[source]
        source: serde_json::Error,
    },
    /// `adapter_config.json` holds a value opensoc cannot use.
    #[error("{path}: {problem}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// `target_modules` names a module that no Llama projection is.
    #[error("{path}: target module {module:?} is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")]
    UnknownTarget {
        /// The file.
        path: PathBuf,
        /// The module name.
        module: String,
    },
    /// The safetensors file is malformed.
    #[error("{path} is not a valid safetensors file: {source}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What the safetensors reader found.
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// A tensor has the wrong shape for the model.
    #[error("{path}: tensor {tensor} has shape {got:?}, expected {expected:?} for this model")]
    Shape {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// Its shape.
        got: Vec<usize>,
        /// The shape the model and rank call for.
        expected: Vec<usize>,
    },
    /// A tensor's rank differs from the configuration's `r`.
    #[error(
        "{path}: tensor {tensor} has rank {tensor_r}, but the configuration says r = {config_r}"
    )]
    RankMismatch {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// `r` of the configuration.
        config_r: usize,
        /// The rank the tensor's shape implies.
        tensor_r: usize,
    },
    /// A tensor's element type is not F32, F16 or BF16, or a value is not finite.
    #[error("{path}: tensor {tensor}: {problem}")]
    Tensor {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        problem: String,
    },
    /// A tensor the configuration calls for is absent.
    #[error("{path}: tensor {tensor} is missing")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The name looked for.
        tensor: String,
    },
    /// A tensor that is not a LoRA matrix of a configured target.
    #[error("{path}: unexpected tensor {tensor} (not a lora_A/lora_B of a configured target)")]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// Tensor name.
        tensor: String,
    },
    /// The adapter to save does not fit the model it claims to adapt.
    #[error("cannot save the adapter: {0}")]
    Inconsistent(String),
}

/// Whether GGUF stores this projection's output rows permuted for RoPE.
pub(crate) fn is_rope_permuted(t: Target) -> bool {
    matches!(t, Target::QProj | Target::KProj)
}

/// The Hugging Face row that GGUF row `g` holds: within a head of `head_dim` rows, GGUF row
/// `2i + j` is Hugging Face row `j·head_dim/2 + i`.
pub(crate) fn hf_row(g: usize, head_dim: usize) -> usize {
    let (head, within) = (g / head_dim, g % head_dim);
    head * head_dim + (within % 2) * (head_dim / 2) + within / 2
}

/// `b` (`out × r`, Hugging Face row order) in GGUF's row order.
pub(crate) fn to_gguf_rows(b: &[f32], r: usize, head_dim: usize) -> Vec<f32> {
    let mut out = vec![0f32; b.len()];
    for (g, row) in out.chunks_exact_mut(r).enumerate() {
        let h = hf_row(g, head_dim);
        row.copy_from_slice(&b[h * r..(h + 1) * r]);
    }
    out
}

/// What opensoc takes from `adapter_config.json`.
struct ParsedConfig {
    lora: LoraConfig,
    /// Blocks that carry adapters (PEFT's `layers_to_transform`; all when absent).
    layers: Vec<usize>,
}

/// Reads the PEFT adapter in `dir` for `model`: every tensor is checked against the model's
/// projection sizes and the configured rank; F32, F16 and BF16 tensors are read, with or
/// without the `.default` adapter-name infix PEFT's in-memory names carry.
pub fn load_peft(dir: &Path, model: &LlamaConfig) -> Result<LoraAdapter, PeftError> {
    let config_path = dir.join(CONFIG_FILE);
    let weights_path = dir.join(ADAPTER_FILE);
    let config = read(&config_path)?;
    // A broken configuration is reported before a missing weights file.
    parse_config(&config, &config_path, model)?;
    let weights = read(&weights_path)?;
    load_peft_bytes(&config, &config_path, &weights, &weights_path, model)
}

/// [`load_peft`] over the two files' contents (an adapter compiled into the binary); the
/// paths only name the files in errors.
pub fn load_peft_bytes(
    config: &[u8],
    config_path: &Path,
    weights: &[u8],
    weights_path: &Path,
    model: &LlamaConfig,
) -> Result<LoraAdapter, PeftError> {
    let weights_path = weights_path.to_path_buf();
    let parsed = parse_config(config, config_path, model)?;
    let st = SafeTensors::deserialize(weights).map_err(|source| PeftError::Safetensors {
        path: weights_path.clone(),
        source,
    })?;
    let cfg = parsed.lora;
    let r = cfg.r;
    let mut used = BTreeSet::new();
    let mut blocks: Vec<[Option<LoraPair>; 7]> = (0..model.n_layer)
        .map(|_| std::array::from_fn(|_| None))
        .collect();
    for &layer in &parsed.layers {
        for &t in &cfg.targets {
            let (in_dim, out_dim) = t.dims(model);
            let mut get = |which: char, expected: [usize; 2]| {
                let name = LoraAdapter::peft_name(layer, t, which);
                let (found, view) = find(&st, &name).ok_or_else(|| PeftError::MissingTensor {
                    path: weights_path.clone(),
                    tensor: name.clone(),
                })?;
                used.insert(found.clone());
                read_matrix(&weights_path, &found, &view, expected, which, r)
            };
            let a = get('A', [r, in_dim])?;
            let b = get('B', [out_dim, r])?;
            let b = if is_rope_permuted(t) {
                to_gguf_rows(&b, r, model.head_dim())
            } else {
                b
            };
            blocks[layer][t.index()] = Some(LoraPair {
                a,
                b,
                in_dim,
                out_dim,
            });
        }
    }
    if let Some(extra) = st.names().into_iter().find(|n| !used.contains(*n)) {
        return Err(PeftError::UnexpectedTensor {
            path: weights_path,
            tensor: extra.to_string(),
        });
    }
    Ok(LoraAdapter {
        config: cfg,
        blocks,
    })
}

/// The tensor `name`, or its `.default` form (`…lora_A.default.weight`), with the name found.
fn find<'a>(st: &SafeTensors<'a>, name: &str) -> Option<(String, TensorView<'a>)> {
    let alt = name
        .strip_suffix(".weight")
        .map(|stem| format!("{stem}.default.weight"))?;
    [name.to_string(), alt]
        .into_iter()
        .find_map(|n| st.tensor(&n).ok().map(|v| (n, v)))
}

/// A 2-D tensor of shape `expected` as f32, with the rank (`A`'s rows, `B`'s columns) checked
/// against `r` first so that a rank mismatch says so.
fn read_matrix(
    path: &Path,
    name: &str,
    view: &TensorView<'_>,
    expected: [usize; 2],
    which: char,
    r: usize,
) -> Result<Vec<f32>, PeftError> {
    let shape = view.shape();
    if shape.len() == 2 {
        let (tensor_r, other, want_other) = if which == 'A' {
            (shape[0], shape[1], expected[1])
        } else {
            (shape[1], shape[0], expected[0])
        };
        if tensor_r != r && other == want_other {
            return Err(PeftError::RankMismatch {
                path: path.to_path_buf(),
                tensor: name.to_string(),
                config_r: r,
                tensor_r,
            });
        }
    }
    if shape != expected {
        return Err(PeftError::Shape {
            path: path.to_path_buf(),
            tensor: name.to_string(),
            got: shape.to_vec(),
            expected: expected.to_vec(),
        });
    }
    let data = view.data();
    let values: Vec<f32> = match view.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => {
            return Err(PeftError::Tensor {
                path: path.to_path_buf(),
                tensor: name.to_string(),
                problem: format!("element type {other:?} is not supported (F32, F16 or BF16)"),
            })
        }
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(PeftError::Tensor {
            path: path.to_path_buf(),
            tensor: name.to_string(),
            problem: format!("value {i} is {}", values[i]),
        });
    }
    Ok(values)
}

fn read(path: &Path) -> Result<Vec<u8>, PeftError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => PeftError::MissingFile {
            path: path.to_path_buf(),
            hint: missing_hint(path),
        },
        _ => PeftError::Io {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// Help for a directory that holds an older or different kind of adapter.
fn missing_hint(path: &Path) -> String {
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return format!(" (the directory {} does not exist)", dir.display());
    }
    if dir.join("adapter_model.bin").exists() {
        return " (this one holds adapter_model.bin, a pickle; save it with \
                safe_serialization=True)"
            .into();
    }
    String::new()
}

fn parse_config(bytes: &[u8], path: &Path, model: &LlamaConfig) -> Result<ParsedConfig, PeftError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|source| PeftError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |problem: String| PeftError::Config {
        path: path.to_path_buf(),
        problem,
    };
    let obj = v
        .as_object()
        .ok_or_else(|| bad("the configuration is not a JSON object".into()))?;
    let field = |k: &str| obj.get(k).filter(|v| !v.is_null());
    match field("peft_type").and_then(|v| v.as_str()) {
        Some("LORA") => {}
        Some(other) => {
            return Err(bad(format!(
                "peft_type is {other:?}; only LORA is supported"
            )))
        }
        None => return Err(bad("peft_type is missing (expected \"LORA\")".into())),
    }
    let r = field("r")
        .and_then(|v| v.as_u64())
        .filter(|&r| r > 0)
        .ok_or_else(|| bad("r must be a positive integer".into()))? as usize;
    let alpha = field("lora_alpha")
        .and_then(|v| v.as_f64())
        .ok_or_else(|| bad("lora_alpha must be a number".into()))? as f32;
    let dropout = match field("lora_dropout") {
        None => 0.0,
        Some(v) => v
            .as_f64()
            .ok_or_else(|| bad("lora_dropout must be a number".into()))? as f32,
    };
    // Options that change what the tensors mean; ignoring them would silently give a different
    // model.
    for flag in ["use_dora", "use_rslora", "fan_in_fan_out"] {
        if field(flag).and_then(|v| v.as_bool()) == Some(true) {
            return Err(bad(format!("{flag} = true is not supported")));
        }
    }
    if let Some(b) = field("bias").and_then(|v| v.as_str()) {
        if b != "none" {
            return Err(bad(format!(
                "bias = {b:?} is not supported (only \"none\")"
            )));
        }
    }
    for key in ["rank_pattern", "alpha_pattern"] {
        if field(key)
            .and_then(|v| v.as_object())
            .is_some_and(|o| !o.is_empty())
        {
            return Err(bad(format!(
                "{key} (per-module ranks or alphas) is not supported"
            )));
        }
    }
    if field("modules_to_save")
        .and_then(|v| v.as_array())
        .is_some_and(|a| !a.is_empty())
    {
        return Err(bad(
            "modules_to_save (fully trained extra modules) is not supported".into(),
        ));
    }
    let targets = match field("target_modules") {
        Some(serde_json::Value::Array(items)) => {
            let mut ts = Vec::new();
            for item in items {
                let name = item
                    .as_str()
                    .ok_or_else(|| bad("target_modules must be a list of names".into()))?;
                let t = Target::from_name(name).ok_or_else(|| PeftError::UnknownTarget {
                    path: path.to_path_buf(),
                    module: name.to_string(),
                })?;
                if !ts.contains(&t) {
                    ts.push(t);
                }
            }
            ts.sort_by_key(|t| t.index());
            ts
        }
        Some(serde_json::Value::String(s)) => {
            return Err(bad(format!(
                "target_modules is the pattern {s:?}; only a list of module names is supported"
            )))
        }
        _ => {
            return Err(bad(
                "target_modules (a list of module names) is missing".into()
            ))
        }
    };
    if targets.is_empty() {
        return Err(bad("target_modules is empty".into()));
    }
    let layers: Vec<usize> = match field("layers_to_transform") {
        None => (0..model.n_layer).collect(),
        Some(v) => {
            let list: Vec<u64> = match v {
                serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_u64()).collect(),
                other => other.as_u64().into_iter().collect(),
            };
            let wanted: BTreeSet<u64> = list.into_iter().collect();
            if wanted.is_empty() || wanted.iter().any(|&l| l as usize >= model.n_layer) {
                return Err(bad(format!(
                    "layers_to_transform {v} does not name blocks of this {}-block model",
                    model.n_layer
                )));
            }
            wanted.into_iter().map(|l| l as usize).collect()
        }
    };
    Ok(ParsedConfig {
        lora: LoraConfig {
            r,
            alpha,
            dropout,
            targets,
        },
        layers,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A tensor to write by hand: name, element type, shape, bytes.
    type Raw = (String, Dtype, Vec<usize>, Vec<u8>);

    pub(crate) fn model() -> LlamaConfig {
        LlamaConfig {
            n_layer: 2,
            n_embd: 16,
            n_head: 4,
            n_head_kv: 2,
            n_ff: 24,
            vocab: 10,
            ctx_len: 32,
            rope_base: 10000.0,
            rms_eps: 1e-5,
        }
    }

    /// A hand-written PEFT directory: `tensors` (name, dtype, shape, bytes) and `config`.
    fn write_dir(dir: &Path, config: &serde_json::Value, tensors: &[Raw]) {
        let views: Vec<(String, TensorView)> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        std::fs::write(
            dir.join(ADAPTER_FILE),
            safetensors::serialize(views, None).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join(CONFIG_FILE), config.to_string()).unwrap();
    }

    /// PEFT-style q_proj/v_proj adapter of rank 2, BF16 A and F32 B, `.default` names.
    fn hand_written() -> (serde_json::Value, Vec<Raw>) {
        let config = json!({
            "peft_type": "LORA", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0,
            "target_modules": ["v_proj", "q_proj"], "bias": "none", "task_type": "CAUSAL_LM",
            "use_dora": false, "rank_pattern": {}, "modules_to_save": null
        });
        let mut tensors = Vec::new();
        for layer in 0..2 {
            for (module, out) in [("q_proj", 16), ("v_proj", 8)] {
                let stem = format!("base_model.model.model.layers.{layer}.self_attn.{module}");
                let a: Vec<u8> = (0..2 * 16)
                    .flat_map(|i| bf16::from_f32(i as f32 / 8.0).to_le_bytes())
                    .collect();
                let b: Vec<u8> = (0..out * 2)
                    .flat_map(|i| (i as f32).to_le_bytes())
                    .collect();
                tensors.push((
                    format!("{stem}.lora_A.default.weight"),
                    Dtype::BF16,
                    vec![2, 16],
                    a,
                ));
                tensors.push((
                    format!("{stem}.lora_B.default.weight"),
                    Dtype::F32,
                    vec![out, 2],
                    b,
                ));
            }
        }
        (config, tensors)
    }

    #[test]
    fn loads_a_hand_written_peft_adapter_with_default_names() {
        let dir = tempfile::tempdir().unwrap();
        let (config, tensors) = hand_written();
        write_dir(dir.path(), &config, &tensors);
        let a = load_peft(dir.path(), &model()).unwrap();
        assert_eq!(a.config.r, 2);
        assert_eq!(a.config.scale(), 2.0);
        assert_eq!(a.config.targets, vec![Target::QProj, Target::VProj]);
        assert!(a.pair(0, Target::KProj).is_none());
        let q = a.pair(1, Target::QProj).unwrap();
        assert_eq!(q.a[5], 5.0 / 8.0);
        // v is not permuted; q is (GGUF row 1 is Hugging Face row 2 at head size 4).
        let v = a.pair(0, Target::VProj).unwrap();
        assert_eq!(&v.b[2..4], &[2.0, 3.0]);
        assert_eq!(&q.b[2..4], &[4.0, 5.0]);
    }

    fn load_err(config: &serde_json::Value, tensors: &[Raw]) -> String {
        let dir = tempfile::tempdir().unwrap();
        write_dir(dir.path(), config, tensors);
        let err = load_peft(dir.path(), &model()).unwrap_err().to_string();
        assert!(
            err.contains(&dir.path().display().to_string()),
            "no path in: {err}"
        );
        err
    }

    #[test]
    fn missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_peft(dir.path(), &model()).unwrap_err().to_string();
        assert!(err.contains("adapter_config.json is missing"), "{err}");
        let (config, _) = hand_written();
        std::fs::write(dir.path().join(CONFIG_FILE), config.to_string()).unwrap();
        std::fs::write(dir.path().join("adapter_model.bin"), b"pickle").unwrap();
        let err = load_peft(dir.path(), &model()).unwrap_err().to_string();
        assert!(
            err.contains("adapter_model.safetensors is missing"),
            "{err}"
        );
        assert!(err.contains("adapter_model.bin"), "{err}");
        let err = load_peft(&dir.path().join("nope"), &model())
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn bad_json_and_bad_safetensors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "{\"r\": 2,").unwrap();
        let err = load_peft(dir.path(), &model()).unwrap_err().to_string();
        assert!(
            err.contains("not valid JSON") && err.contains(CONFIG_FILE),
            "{err}"
        );
        let (config, _) = hand_written();
        std::fs::write(dir.path().join(CONFIG_FILE), config.to_string()).unwrap();
        std::fs::write(dir.path().join(ADAPTER_FILE), b"\x05\0\0\0\0\0\0\0{}").unwrap();
        let err = load_peft(dir.path(), &model()).unwrap_err().to_string();
        assert!(err.contains("not a valid safetensors file"), "{err}");
    }

    #[test]
    fn wrong_shape_names_the_tensor() {
        let (config, mut tensors) = hand_written();
        // v_proj's B of layer 1 with 9 output rows instead of 8.
        let t = tensors
            .iter_mut()
            .find(|t| t.0.contains("layers.1.self_attn.v_proj.lora_B"))
            .unwrap();
        t.2 = vec![9, 2];
        t.3 = vec![0; 9 * 2 * 4];
        let err = load_err(&config, &tensors);
        assert!(
            err.contains("layers.1.self_attn.v_proj.lora_B.default.weight")
                && err.contains("[9, 2]")
                && err.contains("expected [8, 2]"),
            "{err}"
        );
    }

    #[test]
    fn rank_mismatch() {
        let (mut config, tensors) = hand_written();
        config["r"] = json!(4);
        let err = load_err(&config, &tensors);
        assert!(err.contains("rank 2") && err.contains("r = 4"), "{err}");
    }

    #[test]
    fn unknown_target_module() {
        let (mut config, tensors) = hand_written();
        config["target_modules"] = json!(["q_proj", "lm_head"]);
        let err = load_err(&config, &tensors);
        assert!(err.contains("\"lm_head\""), "{err}");
    }

    #[test]
    fn missing_and_unexpected_tensors() {
        let (config, tensors) = hand_written();
        let fewer: Vec<_> = tensors
            .iter()
            .filter(|t| !t.0.contains("layers.1.self_attn.q_proj.lora_A"))
            .cloned()
            .collect();
        let err = load_err(&config, &fewer);
        assert!(
            err.contains("layers.1.self_attn.q_proj.lora_A.weight is missing"),
            "{err}"
        );
        let mut more = tensors.clone();
        more.push((
            "base_model.model.lm_head.weight".into(),
            Dtype::F32,
            vec![1],
            vec![0; 4],
        ));
        let err = load_err(&config, &more);
        assert!(
            err.contains("unexpected tensor base_model.model.lm_head.weight"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_configurations_and_values() {
        let (config, tensors) = hand_written();
        for (key, value, needle) in [
            ("peft_type", json!("IA3"), "only LORA"),
            ("use_dora", json!(true), "use_dora"),
            ("bias", json!("all"), "bias"),
            ("target_modules", json!(".*proj"), "pattern"),
            ("r", json!(0), "positive integer"),
            ("layers_to_transform", json!([5]), "layers_to_transform"),
        ] {
            let mut c = config.clone();
            c[key] = value;
            let err = load_err(&c, &tensors);
            assert!(err.contains(needle), "{key}: {err}");
        }
        let mut bad = tensors.clone();
        bad[0].1 = Dtype::I16;
        let err = load_err(&config, &bad);
        assert!(err.contains("I16"), "{err}");
        let mut bad = tensors;
        bad[1].3[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
        let err = load_err(&config, &bad);
        assert!(err.contains("NaN"), "{err}");
    }

    #[test]
    fn layers_to_transform_limits_the_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let (mut config, tensors) = hand_written();
        config["layers_to_transform"] = json!([1]);
        let only_1: Vec<_> = tensors
            .into_iter()
            .filter(|t| t.0.contains("layers.1."))
            .collect();
        write_dir(dir.path(), &config, &only_1);
        let a = load_peft(dir.path(), &model()).unwrap();
        assert!(a.pair(0, Target::QProj).is_none());
        assert!(a.pair(1, Target::QProj).is_some());
    }
}
