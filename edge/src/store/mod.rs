//! The verdict store: one SQLite database of verdicts, file positions and the template cache
//! ([`sqlite`]), the lock that lets one agent at a time write it ([`lock`]), and what every
//! front end reads out of it: verdicts as JSON and CSV ([`export`]) and their aggregates
//! ([`report`]).

pub mod export;
pub mod lock;
pub mod report;
pub mod sqlite;
