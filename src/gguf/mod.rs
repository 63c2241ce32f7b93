//! The GGUF file format, knowing no model: the reader (header, metadata, tensor directory), the
//! writer, a file on disk memory-mapped once, and a file's vital statistics.

pub mod file;
pub mod info;
pub mod read;
pub mod write;
