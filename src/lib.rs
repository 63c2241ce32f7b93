//! opensoc core library: GGUF model runtime, tokenizer and the Llama forward pass.

pub mod fetch;
pub mod gguf;
pub mod model_file;
pub mod model_info;
pub mod tokenizer;
