//! The verdict store: one SQLite database of verdicts, file positions and the template cache
//! ([`sqlite`]), the lock that lets one agent at a time write it ([`lock`]), and what every
//! front end reads out of it: verdicts as JSON and CSV ([`export`]) and their aggregates
//! ([`report`]). The fleet database ([`fleet`]) is PostgreSQL: every agent's forwarded
//! verdicts in one table, read by the same front ends; [`agent`] is who wrote a store.

pub mod agent;
pub mod export;
pub mod fleet;
pub mod lock;
pub mod report;
pub mod sqlite;
