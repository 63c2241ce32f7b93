//! One file per subcommand of the `opensoc` binary, plus what several of them share: the agent
//! arguments of `scan` and `watch` ([`agent`]), the model every command loads
//! ([`loaded_model`]) and the ways stored verdicts are shown ([`verdict_format`]). The
//! configuration file ([`config`]) fills in flags before any command runs; [`forward`] holds
//! the forwarding flags of `scan` and `watch` and the `forward` command.

pub mod agent;
pub mod analyze;
pub mod bench;
pub mod config;
pub mod database;
pub mod eval;
pub mod forward;
pub mod generate;
pub mod loaded_model;
pub mod model;
pub mod parity;
pub mod scan;
pub mod serve;
pub mod verdict_format;
pub mod verdicts;
pub mod watch;
