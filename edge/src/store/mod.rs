//! The verdict store: one SQLite database of verdicts, file positions and the template cache
//! ([`sqlite`]), and the lock that lets one agent at a time write it ([`lock`]).

pub mod lock;
pub mod sqlite;
