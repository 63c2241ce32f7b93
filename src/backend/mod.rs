//! Backends other than the reference CPU pass, each a [`crate::model::language_model::LanguageModel`]:
//! candle's tensors (the CPU or CUDA) and wgpu with our own WGSL kernels.

pub mod candle;
#[cfg(feature = "wgpu")]
pub mod wgpu;
