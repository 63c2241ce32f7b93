//! Reading log files through rotation, as pure I/O: which files to read ([`discover`]), which
//! file is which across renames and truncation ([`identity`]), and whole lines from an offset
//! ([`line_reader`]). Nothing here parses a log format.

pub mod discover;
pub mod identity;
pub mod line_reader;
