//! The edge agent's library: reading log files through rotation, parsing and windowing their
//! lines, the template cache and the SQLite store. The `opensoc` binary is a thin layer over it.

pub mod discover;
pub mod identity;
pub mod ingest;
pub mod line_reader;
pub mod run_lock;
pub mod store;
