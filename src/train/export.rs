//! Merged GGUF export: the base model's weights with a LoRA adapter folded in
//! (`W + (alpha/r)·B·A`), re-quantized to one ggml type, metadata and tokenizer kept, so that
//! llama.cpp (or opensoc without an adapter) runs the fine-tuned model from one file.
//!
//! Per tensor: the seven projections of each block are dequantized to f32, get the adapter's
//! delta, and are quantized to the chosen type; other matrices (token embedding, output head)
//! are converted to the chosen type; vectors (norms) are F32. A tensor that would come out
//! unchanged (no delta, already of the target type) is copied byte for byte, so re-exporting
//! never degrades it twice. Two exceptions, both as llama.cpp's quantizer makes them, and both
//! in the report: rows that are not whole blocks of the chosen type fall back to a type whose
//! blocks fit (Q4_K's 256 → Q8_0), and the output head (`output.weight`, or the token
//! embedding that doubles as it in tied models such as SmolLM2) is never written below 8 bits,
//! since 4-bit logits cost a small model visibly more than 4-bit projections do.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use crate::cpu::ops::{for_each_task, SharedMut};
use crate::gguf::file::{ModelFile, ModelFileError};
use crate::gguf::read::{GgmlType, Gguf, GgufError, TensorInfo, Value};
use crate::gguf::write::{GgufWriteError, GgufWriter};
use crate::model::config::LlamaConfig;
use crate::model::lora::{LoraAdapter, LoraPair, Target};
use crate::quant::blocks::{self, QuantizeError};
use crate::quant::matmul::row_bytes;

/// The weight type of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum ExportQuant {
    /// 16-bit floats: the adapter's delta kept to f16 precision.
    F16,
    /// 8-bit blocks of 32: near-lossless, half the size of F16.
    Q8_0,
    /// 4-bit blocks of 32 with a scale.
    Q4_0,
    /// 4-bit blocks of 32 with a scale and a minimum (the default model's type).
    Q4_1,
    /// 4-bit k-quant super-blocks of 256 (rows of other lengths fall back to Q8_0).
    Q4_K,
}

impl ExportQuant {
    /// Every export type, in the order the help lists them.
    pub const ALL: [ExportQuant; 5] = [
        ExportQuant::F16,
        ExportQuant::Q8_0,
        ExportQuant::Q4_0,
        ExportQuant::Q4_1,
        ExportQuant::Q4_K,
    ];

    /// The ggml tensor type the matrices get.
    pub fn ggml_type(self) -> GgmlType {
        match self {
            ExportQuant::F16 => GgmlType::F16,
            ExportQuant::Q8_0 => GgmlType::Q8_0,
            ExportQuant::Q4_0 => GgmlType::Q4_0,
            ExportQuant::Q4_1 => GgmlType::Q4_1,
            ExportQuant::Q4_K => GgmlType::Q4_K,
        }
    }

    /// llama.cpp's `general.file_type` number (`LLAMA_FTYPE_MOSTLY_*`); Q4_K is Q4_K_S, the
    /// file type of a model that is mostly Q4_K.
    pub fn file_type(self) -> u32 {
        match self {
            ExportQuant::F16 => 1,
            ExportQuant::Q4_0 => 2,
            ExportQuant::Q4_1 => 3,
            ExportQuant::Q8_0 => 7,
            ExportQuant::Q4_K => 14,
        }
    }

    /// The command-line name (`q8_0`).
    pub fn name(self) -> &'static str {
        match self {
            ExportQuant::F16 => "f16",
            ExportQuant::Q8_0 => "q8_0",
            ExportQuant::Q4_0 => "q4_0",
            ExportQuant::Q4_1 => "q4_1",
            ExportQuant::Q4_K => "q4_k",
        }
    }
}

impl fmt::Display for ExportQuant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExportQuant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        ExportQuant::ALL
            .into_iter()
            .find(|q| q.name() == lower)
            .ok_or_else(|| {
                let names: Vec<_> = ExportQuant::ALL.iter().map(|q| q.name()).collect();
                format!("unknown export type {s:?} (one of {})", names.join(", "))
            })
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The base model could not be opened.
    #[error(transparent)]
    Model(#[from] ModelFileError),
    /// The base model's metadata is not a usable Llama configuration.
    #[error("base model {path}: {source}")]
    Config {
        /// The base model.
        path: PathBuf,
        /// What the metadata lacks.
        #[source]
        source: GgufError,
    },
    /// The output would replace the base model it is read from.
    #[error("the output {0} is the base model itself; write to another file")]
    SameFile(PathBuf),
    /// The adapter was made for another model.
    #[error("the adapter does not fit the base model {path}: {problem}")]
    Adapter {
        /// The base model.
        path: PathBuf,
        /// What does not fit.
        problem: String,
    },
    /// A tensor of the base model cannot be converted.
    #[error("base model {path}: tensor {tensor}: {problem}")]
    Tensor {
        /// The base model.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// What is wrong.
        problem: String,
    },
    /// Writing the output failed (nothing is left at the output path).
    #[error(transparent)]
    Write(#[from] GgufWriteError),
}

/// Where an export is: tensor `index` of `total` is being written.
#[derive(Debug, Clone, Copy)]
pub struct ExportProgress<'a> {
    /// 0-based position of the tensor.
    pub index: usize,
    /// Tensors in the file.
    pub total: usize,
    /// Its name.
    pub tensor: &'a str,
}

/// A tensor written in another type than the one asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The tensor.
    pub tensor: String,
    /// The type asked for.
    pub wanted: GgmlType,
    /// The type written.
    pub used: GgmlType,
    /// Why, e.g. `rows of 576 are not whole Q4_K blocks of 256`.
    pub reason: String,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// The output file.
    pub out: PathBuf,
    /// The type asked for.
    pub quant: ExportQuant,
    /// Tensors written.
    pub tensors: usize,
    /// Projections that received the adapter's delta.
    pub merged: usize,
    /// Tensors dequantized and quantized again.
    pub converted: usize,
    /// Tensors copied byte for byte (unchanged and already of their target type).
    pub copied: usize,
    /// Tensors written in a fallback type.
    pub fallbacks: Vec<Fallback>,
    /// Size of the output file.
    pub bytes: u64,
    /// What `opensoc.adapter` says in the file.
    pub adapter: String,
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "wrote {} ({} bytes, {})",
            self.out.display(),
            self.bytes,
            self.quant
        )?;
        writeln!(f, "adapter             {}", self.adapter)?;
        writeln!(
            f,
            "tensors             {} ({} merged, {} converted, {} copied unchanged)",
            self.tensors, self.merged, self.converted, self.copied
        )?;
        // One line per kind of fallback, not per tensor: a model has hundreds of them.
        let mut kinds: Vec<(&Fallback, usize)> = Vec::new();
        for fb in &self.fallbacks {
            let same = |k: &&mut (&Fallback, usize)| {
                (k.0.wanted, k.0.used, &k.0.reason) == (fb.wanted, fb.used, &fb.reason)
            };
            match kinds.iter_mut().find(same) {
                Some(k) => k.1 += 1,
                None => kinds.push((fb, 1)),
            }
        }
        for (fb, n) in kinds {
            let what = if n == 1 {
                fb.tensor.clone()
            } else {
                format!("{n} tensors")
            };
            writeln!(
                f,
                "fallback            {what} written as {} instead of {}: {}",
                fb.used, fb.wanted, fb.reason
            )?;
        }
        Ok(())
    }
}

/// How one tensor is produced.
enum Plan<'a> {
    /// The base bytes, unchanged.
    Copy,
    /// Dequantize, add `scale·B·A` if given, quantize to `to`.
    Convert {
        to: GgmlType,
        delta: Option<(&'a LoraPair, f32)>,
    },
}

/// Reads the GGUF at `model_path`, merges `adapter` (if any) into its projections and writes
/// the result to `out` in `quant`, whole or not at all; `progress` hears of each tensor.
pub fn export_merged(
    model_path: &Path,
    adapter: Option<&LoraAdapter>,
    out: &Path,
    quant: ExportQuant,
    progress: &mut dyn FnMut(ExportProgress<'_>),
) -> Result<ExportReport, ExportError> {
    if same_file(model_path, out) {
        return Err(ExportError::SameFile(out.to_path_buf()));
    }
    let file = ModelFile::open(model_path)?;
    let g = &file.gguf;
    let path = model_path.to_path_buf();
    let cfg = LlamaConfig::from_gguf(g).map_err(|source| ExportError::Config {
        path: path.clone(),
        source,
    })?;
    if let Some(a) = adapter {
        check_adapter(a, &cfg).map_err(|problem| ExportError::Adapter {
            path: path.clone(),
            problem,
        })?;
    }
    let adapter_note = match adapter {
        None => "none".to_string(),
        Some(a) => {
            let targets: Vec<&str> = a.config.targets.iter().map(|t| t.name()).collect();
            format!(
                "merged LoRA r{} alpha{} on {}",
                a.config.r,
                a.config.alpha,
                targets.join(",")
            )
        }
    };

    let mut w = metadata(g, quant, &adapter_note);

    let mut plans = Vec::with_capacity(g.tensors.len());
    let mut fallbacks = Vec::new();
    let (mut merged, mut converted, mut copied) = (0, 0, 0);
    for t in &g.tensors {
        let delta = match (adapter, projection(&t.name)) {
            (Some(a), Some((layer, target))) => {
                a.pair(layer, target).map(|p| (p, a.config.scale()))
            }
            _ => None,
        };
        if let Some((p, _)) = delta {
            if t.dims != [p.in_dim as u64, p.out_dim as u64] {
                return Err(ExportError::Tensor {
                    path,
                    tensor: t.name.clone(),
                    problem: format!(
                        "shape {:?} does not fit the adapter's {}x{} pair",
                        t.dims, p.in_dim, p.out_dim
                    ),
                });
            }
        }
        let head = t.name == "output.weight"
            || (t.name == "token_embd.weight" && g.tensor("output.weight").is_none());
        let to = target_type(t, quant, head, &mut fallbacks);
        let plan = if delta.is_none() && t.ty == to {
            copied += 1;
            Plan::Copy
        } else {
            if !blocks::is_supported(t.ty) {
                return Err(ExportError::Tensor {
                    path,
                    tensor: t.name.clone(),
                    problem: format!(
                        "type {} cannot be dequantized by opensoc, so it cannot become {to}",
                        t.ty
                    ),
                });
            }
            merged += usize::from(delta.is_some());
            converted += 1;
            Plan::Convert { to, delta }
        };
        w.declare_tensor(t.name.clone(), &t.dims, to)?;
        plans.push(plan);
    }

    let bytes = file.bytes();
    let total = g.tensors.len();
    w.write_streamed(out, |i, _| {
        let t = &g.tensors[i];
        progress(ExportProgress {
            index: i,
            total,
            tensor: &t.name,
        });
        let src = g.tensor_data(bytes, t);
        match &plans[i] {
            Plan::Copy => Ok(src.to_vec()),
            Plan::Convert { to, delta } => {
                convert(src, t, *to, *delta).map_err(|e| ExportError::Tensor {
                    path: path.clone(),
                    tensor: t.name.clone(),
                    problem: e.to_string(),
                })
            }
        }
    })?;
    let size = std::fs::metadata(out)
        .map(|m| m.len())
        .map_err(|source| GgufWriteError::Io {
            path: out.to_path_buf(),
            source,
        })?;
    Ok(ExportReport {
        out: out.to_path_buf(),
        quant,
        tensors: total,
        merged,
        converted,
        copied,
        fallbacks,
        bytes: size,
        adapter: adapter_note,
    })
}

/// The base model's metadata, with the export's file type and provenance.
fn metadata(g: &Gguf, quant: ExportQuant, adapter_note: &str) -> GgufWriter {
    let mut w = GgufWriter::new();
    // general.architecture first, as every converter writes it; the rest in key order.
    if let Some(arch) = g.get("general.architecture") {
        w.set("general.architecture", arch.clone());
    }
    for (k, v) in &g.metadata {
        w.set(k.clone(), v.clone());
    }
    w.set("general.file_type", Value::U32(quant.file_type()));
    // ggml's quantization format version, which llama.cpp's own quantizer writes.
    w.set("general.quantization_version", Value::U32(2));
    w.set("opensoc.adapter", Value::String(adapter_note.to_string()));
    let export = format!(
        "opensoc {} merged export, {quant}",
        env!("CARGO_PKG_VERSION")
    );
    w.set("opensoc.export", Value::String(export));
    w
}

/// Whether `a` and `b` name one existing file (an output that does not exist yet is new).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The block and projection a GGUF tensor name denotes (`blk.3.attn_q.weight`).
fn projection(name: &str) -> Option<(usize, Target)> {
    let rest = name.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let target = match rest {
        "attn_q.weight" => Target::QProj,
        "attn_k.weight" => Target::KProj,
        "attn_v.weight" => Target::VProj,
        "attn_output.weight" => Target::OProj,
        "ffn_gate.weight" => Target::GateProj,
        "ffn_up.weight" => Target::UpProj,
        "ffn_down.weight" => Target::DownProj,
        _ => return None,
    };
    Some((layer.parse().ok()?, target))
}

/// The type tensor `t` is written in: F32 for vectors; for the output `head` at least Q8_0;
/// else `quant`'s type, or the first fallback whose blocks divide the rows. Departures from
/// `quant` are recorded in `fallbacks`.
fn target_type(
    t: &TensorInfo,
    quant: ExportQuant,
    head: bool,
    fallbacks: &mut Vec<Fallback>,
) -> GgmlType {
    if t.dims.len() < 2 {
        return GgmlType::F32;
    }
    let wanted = quant.ggml_type();
    let row = t.dims[0];
    let four_bit = matches!(wanted, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q4_K);
    let (used, reason) = if head && four_bit && row.is_multiple_of(32) {
        // llama.cpp gives the head Q6_K (Q8_0 where rows are not whole 256-blocks); opensoc
        // has no Q6_K quantizer, and Q8_0 is the finer of the two.
        let why = "the output head is kept at 8 bits, as llama.cpp keeps it at 6 or more";
        (GgmlType::Q8_0, why.to_string())
    } else {
        let used = [wanted, GgmlType::Q8_0, GgmlType::F16]
            .into_iter()
            .find(|ty| row.is_multiple_of(ty.block_elements()))
            .unwrap_or(GgmlType::F16);
        let why = format!(
            "rows of {row} are not whole {wanted} blocks of {}",
            wanted.block_elements()
        );
        (used, why)
    };
    if used != wanted {
        fallbacks.push(Fallback {
            tensor: t.name.clone(),
            wanted,
            used,
            reason,
        });
    }
    used
}

/// The adapter has one entry per block, and its pairs have the model's projection sizes.
fn check_adapter(a: &LoraAdapter, cfg: &LlamaConfig) -> Result<(), String> {
    if a.blocks.len() != cfg.n_layer {
        return Err(format!(
            "the adapter has {} blocks, the model {}",
            a.blocks.len(),
            cfg.n_layer
        ));
    }
    if a.config.r == 0 {
        return Err("the adapter's rank r is 0".into());
    }
    for (layer, block) in a.blocks.iter().enumerate() {
        for (t, p) in Target::ALL.iter().zip(block) {
            let Some(p) = p else { continue };
            let (i, o) = t.dims(cfg);
            let r = a.config.r;
            if (p.in_dim, p.out_dim) != (i, o) || p.a.len() != r * i || p.b.len() != o * r {
                return Err(format!(
                    "block {layer} {}: a {}x{} pair with {} + {} values at r {r}; the model \
                     needs in {i}, out {o}",
                    t.name(),
                    p.in_dim,
                    p.out_dim,
                    p.a.len(),
                    p.b.len()
                ));
            }
        }
    }
    Ok(())
}

/// Rows per parallel task when converting a tensor.
const CONVERT_ROWS: usize = 32;

/// Dequantizes every row of `t` (bytes `src`), adds `scale·B·A` to it if given, and quantizes
/// it to `to`.
fn convert(
    src: &[u8],
    t: &TensorInfo,
    to: GgmlType,
    delta: Option<(&LoraPair, f32)>,
) -> Result<Vec<u8>, QuantizeError> {
    let k = t.dims[0] as usize;
    let rows = (t.elements() / t.dims[0]) as usize;
    let (in_rb, out_rb) = (row_bytes(t.ty, k), row_bytes(to, k));
    let mut out = vec![0u8; rows * out_rb];
    let shared = SharedMut::new(&mut out);
    let failure: Mutex<Option<QuantizeError>> = Mutex::new(None);
    for_each_task(rows.div_ceil(CONVERT_ROWS), |task| {
        let mut row = vec![0f32; k];
        let mut buf = Vec::with_capacity(out_rb);
        for r in task * CONVERT_ROWS..((task + 1) * CONVERT_ROWS).min(rows) {
            blocks::dequantize_row(t.ty, &src[r * in_rb..(r + 1) * in_rb], &mut row);
            if let Some((p, scale)) = delta {
                add_delta_row(&mut row, p, r, scale);
            }
            buf.clear();
            if let Err(e) = blocks::quantize_row_into(to, &row, &mut buf) {
                failure
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(e);
                return;
            }
            // SAFETY: row r's output bytes belong to this task alone.
            unsafe { shared.slice(r * out_rb, out_rb) }.copy_from_slice(&buf);
        }
    });
    match failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Adds row `o` of `scale·B·A` to `w_row`: `Σ_k scale·B[o,k] · A[k,·]`.
fn add_delta_row(w_row: &mut [f32], p: &LoraPair, o: usize, scale: f32) {
    let r = p.a.len() / p.in_dim;
    for (k, &b) in p.b[o * r..(o + 1) * r].iter().enumerate() {
        let c = scale * b;
        if c == 0.0 {
            continue;
        }
        for (w, &a) in w_row.iter_mut().zip(&p.a[k * p.in_dim..(k + 1) * p.in_dim]) {
            *w += c * a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lora::{LoraConfig, SplitMix64};

    /// A one-block Llama of width `d` (4 heads, 2 key/value heads, MLP `2d`) with random
    /// weights of type `ty` and F32 norms; no tokenizer beyond its token list.
    fn tiny(dir: &Path, d: u64, ty: GgmlType) -> PathBuf {
        let mut w = GgufWriter::new();
        let vocab = 8u64;
        w.set("general.architecture", Value::String("llama".into()))
            .set("general.alignment", Value::U32(64))
            .set("llama.context_length", Value::U32(64))
            .set("llama.embedding_length", Value::U32(d as u32))
            .set("llama.block_count", Value::U32(1))
            .set("llama.feed_forward_length", Value::U32(2 * d as u32))
            .set("llama.attention.head_count", Value::U32(4))
            .set("llama.attention.head_count_kv", Value::U32(2))
            .set(
                "tokenizer.ggml.tokens",
                Value::Array((0..vocab).map(|i| Value::String(format!("t{i}"))).collect()),
            );
        let mut rng = SplitMix64::new(5);
        let mut add = |name: &str, dims: &[u64], ty: GgmlType| {
            let n: u64 = dims.iter().product();
            let x: Vec<f32> = (0..n).map(|_| rng.next_f32() - 0.5).collect();
            let mut bytes = Vec::new();
            blocks::quantize_row_into(ty, &x, &mut bytes).unwrap();
            w.add_tensor(name, dims, ty, bytes).unwrap();
        };
        let kv = d / 2;
        add("token_embd.weight", &[d, vocab], ty);
        add("blk.0.attn_norm.weight", &[d], GgmlType::F32);
        add("blk.0.attn_q.weight", &[d, d], ty);
        add("blk.0.attn_k.weight", &[d, kv], ty);
        add("blk.0.attn_v.weight", &[d, kv], ty);
        add("blk.0.attn_output.weight", &[d, d], ty);
        add("blk.0.ffn_norm.weight", &[d], GgmlType::F32);
        add("blk.0.ffn_gate.weight", &[d, 2 * d], ty);
        add("blk.0.ffn_up.weight", &[d, 2 * d], ty);
        add("blk.0.ffn_down.weight", &[2 * d, d], ty);
        add("output_norm.weight", &[d], GgmlType::F32);
        let p = dir.join(format!("tiny-{d}-{ty}.gguf"));
        w.write(&p).unwrap();
        p
    }

    fn random_adapter(path: &Path, r: usize) -> LoraAdapter {
        let f = ModelFile::open(path).unwrap();
        let cfg = LlamaConfig::from_gguf(&f.gguf).unwrap();
        let lc = LoraConfig {
            r,
            ..LoraConfig::default()
        };
        let mut a = LoraAdapter::init(&cfg, lc, 1);
        let mut rng = SplitMix64::new(2);
        for p in a.blocks.iter_mut().flatten().flatten() {
            p.b.iter_mut()
                .for_each(|v| *v = (rng.next_f32() - 0.5) * 0.1);
        }
        a
    }

    /// Tensor `name` of the GGUF at `path`, dequantized, with its type.
    fn read_tensor(path: &Path, name: &str) -> (Vec<f32>, GgmlType) {
        let f = ModelFile::open(path).unwrap();
        let t = f.gguf.tensor(name).unwrap();
        let k = t.dims[0] as usize;
        let data = f.gguf.tensor_data(f.bytes(), t);
        let rb = row_bytes(t.ty, k);
        let mut out = vec![0f32; t.elements() as usize];
        for (o, src) in out.chunks_exact_mut(k).zip(data.chunks_exact(rb)) {
            blocks::dequantize_row(t.ty, src, o);
        }
        (out, t.ty)
    }

    fn no_progress() -> impl FnMut(ExportProgress<'_>) {
        |_| {}
    }

    #[test]
    fn merge_adds_scale_b_a_to_every_projection() {
        let dir = tempfile::tempdir().unwrap();
        let base = tiny(dir.path(), 32, GgmlType::F32);
        let a = random_adapter(&base, 4);
        let out = dir.path().join("merged.gguf");
        let mut seen = Vec::new();
        let report = export_merged(&base, Some(&a), &out, ExportQuant::F16, &mut |p| {
            seen.push(p.tensor.to_string())
        })
        .unwrap();
        assert_eq!((report.tensors, report.merged), (11, 7));
        assert_eq!(seen.len(), 11);
        for (name, t) in [
            ("blk.0.attn_k.weight", Target::KProj),
            ("blk.0.ffn_down.weight", Target::DownProj),
        ] {
            let (w0, _) = read_tensor(&base, name);
            let (w1, ty) = read_tensor(&out, name);
            assert_eq!(ty, GgmlType::F16);
            let p = a.pair(0, t).unwrap();
            let r = a.config.r;
            for o in 0..p.out_dim {
                for i in 0..p.in_dim {
                    let delta: f32 = (0..r).map(|k| p.b[o * r + k] * p.a[k * p.in_dim + i]).sum();
                    let want = w0[o * p.in_dim + i] + a.config.scale() * delta;
                    let got = w1[o * p.in_dim + i];
                    assert!(
                        (want - got).abs() <= want.abs() * 2f32.powi(-11) + 1e-6,
                        "{name} {o},{i}: {want} vs {got}"
                    );
                }
            }
        }
        // Norms stay F32 and unchanged; the metadata is kept, with the export's own keys.
        assert_eq!(
            read_tensor(&out, "output_norm.weight"),
            read_tensor(&base, "output_norm.weight")
        );
        let f = ModelFile::open(&out).unwrap();
        assert_eq!(f.gguf.get_u64("general.file_type").unwrap(), 1);
        assert_eq!(f.gguf.alignment, 64);
        assert_eq!(
            f.gguf.get_strings("tokenizer.ggml.tokens").unwrap().len(),
            8
        );
        assert_eq!(f.gguf.get_str("opensoc.adapter").unwrap(), report.adapter);
        assert!(
            report
                .adapter
                .starts_with("merged LoRA r4 alpha32 on q_proj,k_proj"),
            "{}",
            report.adapter
        );
    }

    #[test]
    fn a_zero_adapter_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let base = tiny(dir.path(), 32, GgmlType::Q8_0);
        let f = ModelFile::open(&base).unwrap();
        let cfg = LlamaConfig::from_gguf(&f.gguf).unwrap();
        let zero = LoraAdapter::init(&cfg, LoraConfig::default(), 1);
        let (a, b) = (dir.path().join("a.gguf"), dir.path().join("b.gguf"));
        export_merged(&base, Some(&zero), &a, ExportQuant::F16, &mut no_progress()).unwrap();
        export_merged(&base, None, &b, ExportQuant::F16, &mut no_progress()).unwrap();
        for t in &f.gguf.tensors {
            assert_eq!(
                read_tensor(&a, &t.name),
                read_tensor(&b, &t.name),
                "{}",
                t.name
            );
        }
        // Without an adapter and in the base's own type, every tensor is copied as it is.
        let c = dir.path().join("c.gguf");
        let report = export_merged(&base, None, &c, ExportQuant::Q8_0, &mut no_progress()).unwrap();
        assert_eq!((report.copied, report.converted), (11, 0));
        let fc = ModelFile::open(&c).unwrap();
        for t in &f.gguf.tensors {
            let u = fc.gguf.tensor(&t.name).unwrap();
            assert_eq!(
                f.gguf.tensor_data(f.bytes(), t),
                fc.gguf.tensor_data(fc.bytes(), u)
            );
        }
        assert_eq!(fc.gguf.get_str("opensoc.adapter").unwrap(), "none");
    }

    #[test]
    fn q4_k_where_rows_allow_and_q8_0_where_not() {
        let dir = tempfile::tempdir().unwrap();
        let base = tiny(dir.path(), 256, GgmlType::F16);
        let out = dir.path().join("k.gguf");
        let report =
            export_merged(&base, None, &out, ExportQuant::Q4_K, &mut no_progress()).unwrap();
        // Only the tied output head (no output.weight here) departs from Q4_K.
        assert_eq!(report.fallbacks.len(), 1, "{report}");
        assert_eq!(report.fallbacks[0].tensor, "token_embd.weight");
        assert_eq!(report.fallbacks[0].used, GgmlType::Q8_0);
        let f = ModelFile::open(&out).unwrap();
        assert_eq!(
            f.gguf.tensor("blk.0.ffn_down.weight").unwrap().ty,
            GgmlType::Q4_K
        );
        assert_eq!(
            f.gguf.tensor("blk.0.attn_norm.weight").unwrap().ty,
            GgmlType::F32
        );
        assert_eq!(f.gguf.get_u64("general.file_type").unwrap(), 14);

        let base = tiny(dir.path(), 32, GgmlType::F16);
        let report =
            export_merged(&base, None, &out, ExportQuant::Q4_K, &mut no_progress()).unwrap();
        // Every matrix has rows of 32 (ffn_down: 64), so all eight fall back.
        assert_eq!(report.fallbacks.len(), 8);
        assert!(report.fallbacks.iter().all(|f| f.used == GgmlType::Q8_0));
        let text = report.to_string();
        for line in [
            "6 tensors written as Q8_0 instead of Q4_K: rows of 32 are not whole Q4_K blocks of 256",
            "blk.0.ffn_down.weight written as Q8_0 instead of Q4_K: rows of 64 are not whole",
            "token_embd.weight written as Q8_0 instead of Q4_K: the output head is kept at 8 bits",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        let f = ModelFile::open(&out).unwrap();
        assert_eq!(
            f.gguf.tensor("blk.0.attn_q.weight").unwrap().ty,
            GgmlType::Q8_0
        );
    }

    #[test]
    fn errors() {
        let dir = tempfile::tempdir().unwrap();
        let base = tiny(dir.path(), 32, GgmlType::F32);
        let out = dir.path().join("o.gguf");
        let err =
            export_merged(&base, None, &base, ExportQuant::F16, &mut no_progress()).unwrap_err();
        assert!(matches!(err, ExportError::SameFile(_)), "{err}");
        let mut a = random_adapter(&base, 2);
        a.blocks.push(a.blocks[0].clone());
        let err =
            export_merged(&base, Some(&a), &out, ExportQuant::F16, &mut no_progress()).unwrap_err();
        assert!(err.to_string().contains("2 blocks, the model 1"), "{err}");
        let mut a = random_adapter(&base, 2);
        a.blocks[0][Target::VProj.index()].as_mut().unwrap().b.pop();
        let err =
            export_merged(&base, Some(&a), &out, ExportQuant::F16, &mut no_progress()).unwrap_err();
        assert!(err.to_string().contains("block 0 v_proj"), "{err}");
        let err = export_merged(
            &dir.path().join("none.gguf"),
            None,
            &out,
            ExportQuant::F16,
            &mut no_progress(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("none.gguf"), "{err}");
        assert!(!out.exists());
        // A source type opensoc cannot dequantize is an error unless it is copied as it is.
        let mut w = GgufWriter::new();
        let g = Gguf::parse(&std::fs::read(&base).unwrap()).unwrap();
        for (k, v) in &g.metadata {
            w.set(k.clone(), v.clone());
        }
        let bytes = std::fs::read(&base).unwrap();
        for t in &g.tensors {
            if t.name == "blk.0.attn_q.weight" {
                w.add_tensor(t.name.clone(), &t.dims, GgmlType::Q5_0, vec![0; 32 * 22])
                    .unwrap();
            } else {
                w.add_tensor(
                    t.name.clone(),
                    &t.dims,
                    t.ty,
                    g.tensor_data(&bytes, t).to_vec(),
                )
                .unwrap();
            }
        }
        let q5 = dir.path().join("q5.gguf");
        w.write(&q5).unwrap();
        let err = export_merged(&q5, None, &out, ExportQuant::F16, &mut no_progress()).unwrap_err();
        assert!(
            err.to_string().contains("blk.0.attn_q.weight") && err.to_string().contains("Q5_0"),
            "{err}"
        );
        assert!(!out.exists());
    }

    #[test]
    fn quant_names() {
        for q in ExportQuant::ALL {
            assert_eq!(q.name().parse::<ExportQuant>(), Ok(q));
        }
        assert_eq!("Q4_K".parse::<ExportQuant>(), Ok(ExportQuant::Q4_K));
        assert!("q5_0"
            .parse::<ExportQuant>()
            .unwrap_err()
            .contains("f16, q8_0"));
        assert_eq!(
            projection("blk.12.ffn_down.weight"),
            Some((12, Target::DownProj))
        );
        assert_eq!(projection("blk.1.attn_norm.weight"), None);
        assert_eq!(projection("token_embd.weight"), None);
    }
}
