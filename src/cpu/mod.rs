//! f32 maths of the forward pass on the CPU: element-wise and per-row ops, matrix products and
//! causal attention over a KV cache.

pub mod attention;
pub mod gemm;
pub mod ops;
