//! One file per subcommand of `opensoc-train`.

pub mod data;
pub mod export;
pub mod suites;
pub mod train;
