//! The wgpu backend: the device and its limits, the WGSL kernels (`wgsl/`) and the Llama
//! forward pass that dispatches them.

pub mod device;
pub mod kernels;
pub mod llama;
