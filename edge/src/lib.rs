//! The edge agent's library: reading log files through rotation, parsing and windowing their
//! lines, the template cache and the SQLite store. The `opensoc` binary is a thin layer over it.
//!
//! The data flow, one module a step: [`discover`] (which files) → [`identity`] (which file is
//! which across rotation) → [`line_reader`] (lines from an offset) → [`record`] (multi-line
//! entries) → [`logline`] (format, entity, time) → [`window`] (lines of one entity) →
//! [`template`] (masked signature for the cache) → the analyzer → [`store`]; [`ingest`] drives
//! it, exactly once.

pub mod csv_text;
pub mod discover;
pub mod identity;
pub mod ingest;
pub mod line_reader;
pub mod logline;
pub mod record;
pub mod run_lock;
pub mod store;
pub mod suite;
pub mod template;
pub mod window;
