//! The edge agent's library: reading log files through rotation, the SQLite store, and the
//! pipeline that joins them to the analyzer. The `opensoc` binary (`main.rs` and
//! `commands/`) is a thin layer over it; parsing and windowing log lines is the `opensoc-logs`
//! crate, shared with the trainer.
//!
//! The data flow, one module a step: [`tail::discover`] (which files) → [`tail::identity`]
//! (which file is which across rotation) → [`tail::line_reader`] (lines from an offset;
//! [`tail::journal`] makes the systemd journal's entries such lines) →
//! `opensoc_logs::record` (multi-line entries) → `opensoc_logs::logline` (format, entity,
//! time) → `opensoc_logs::window` (lines of one entity) → `opensoc_logs::template` (masked
//! signature for the cache) → the analyzer → [`store::sqlite`]; [`ingest`] drives it, exactly
//! once. [`suite`] runs the scan-level eval suites through the same pipeline, and [`serve`]
//! puts a web page and a JSON API over it and over the store.

pub mod forward;
pub mod ingest;
pub mod serve;
pub mod store;
pub mod suite;
pub mod tail;
