//! opensoc core library: GGUF model runtime, tokenizer, Llama forward pass, constrained
//! decoding into verdicts, the taxonomy and the eval harness.

/// candle, re-exported so that the binaries name its devices with the same version.
pub use candle_core;

pub mod analyzer;
pub mod atomic_file;
pub mod attention;
pub mod bench;
pub mod cpu_ops;
pub mod dataset;
pub mod decode;
pub mod device_backprop;
pub mod eval;
pub mod eval_run;
pub mod export;
pub mod facts;
pub mod fetch;
pub mod floors;
pub mod gemm_f32;
pub mod gguf;
pub mod gguf_write;
pub mod llama;
pub mod llama_device;
pub mod llama_train;
#[cfg(feature = "wgpu")]
pub mod llama_wgpu;
pub mod lora;
pub mod model_file;
pub mod model_info;
pub mod parameter_requests;
pub mod peft;
pub mod prompt;
pub mod qmatmul;
pub mod quant;
pub mod report;
pub mod shipped;
pub mod signals;
pub mod stages;
pub mod taxonomy;
pub mod thousands;
pub mod tokenizer;
pub mod verdict;
#[cfg(feature = "wgpu")]
pub mod wgpu_device;
#[cfg(feature = "wgpu")]
pub mod wgpu_kernels;
