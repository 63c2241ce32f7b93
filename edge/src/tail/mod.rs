//! Reading log files through rotation, as pure I/O: which files to read ([`discover`]), which
//! file is which across renames and truncation ([`identity`]), and whole lines from an offset
//! ([`line_reader`]), decompressed ([`compression`]) or decoded from a Windows event log
//! ([`evtx`]), and the systemd journal's entries as syslog lines ([`journal`]). Nothing here
//! parses a text log format.

pub mod compression;
pub mod discover;
pub mod evtx;
pub mod identity;
pub mod journal;
pub mod line_reader;
