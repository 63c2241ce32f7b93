//! The edge agent's library: reading log files through rotation, parsing and windowing their
//! lines, the template cache and the SQLite store. The `opensoc` binary is a thin layer over it.

pub mod logline;
pub mod record;
pub mod template;
pub mod window;
