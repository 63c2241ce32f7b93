//! opensoc's core library: a small language model that reads log windows and writes verdicts.
//!
//! The library is built in layers, each a folder, listed here from the bottom up. A layer uses
//! the layers below it and never one above (`tests/layers.rs` checks this on every test run):
//!
//! 1. [`util`]: helpers every layer may use (opensoc's home directory, files written whole,
//!    percent-decoding, digit grouping).
//! 2. [`signals`]: what one log line says, read by patterns alone: failures, denials, ports,
//!    known exploits, scanners, and text addressed to the analyzer.
//! 3. [`gguf`]: the GGUF file format, read and written; it knows no model.
//! 4. [`cpu`]: f32 maths on the CPU: element-wise ops, matrix products, attention.
//! 5. [`quant`]: ggml's quantized blocks and their products with activations, one file per ISA.
//! 6. [`model`]: what every backend shares: the Llama config and errors, the
//!    [`model::language_model::LanguageModel`] trait, the reference CPU forward pass, LoRA and
//!    PEFT adapters, the tokenizer, the default model's download and the shipped adapter.
//! 7. [`backend`]: other ways to run the same model: candle (CPU or CUDA) and wgpu.
//! 8. [`task`]: the seed's contract with the model: prompt, verdict, taxonomy, data sets.
//! 9. [`analyze`]: a window in, a verdict out, on any `LanguageModel`: constrained decoding,
//!    facts read from the lines, the floors they set, multi-stage findings.
//! 10. [`eval`]: measuring: metrics, backend parity, eval runs, reports, throughput.
//! 11. `train` (behind the `train` feature, which only `opensoc-train` turns on): backprop
//!     through the forward pass on the CPU or a candle device, and merged GGUF export.
//!
//! The `opensoc` binary (crate `opensoc-edge`) adds log reading, windowing and the verdict
//! store on top; `opensoc-train` adds the training-set builder and the training loop.

/// candle, re-exported so that the binaries name its devices with the same version.
pub use candle_core;

pub mod util;

pub mod signals;

pub mod gguf;

pub mod cpu;

pub mod quant;

pub mod model;

pub mod backend;

pub mod task;

pub mod analyze;

pub mod eval;

#[cfg(feature = "train")]
pub mod train;
