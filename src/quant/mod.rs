//! ggml's quantized formats: the blocks (dequantize, quantize) and quantized matrix products
//! with f32 activations.

pub mod blocks;
pub mod matmul;
