//! Log lines as opensoc reads them, shared by the `opensoc` agent and the trainer's set
//! builder so that training windows are rendered exactly as the agent renders them at run
//! time. No file I/O and no store: text in, windows out.
//!
//! The flow: [`record`] (lines joined into multi-line entries) → [`logline`] (each entry's
//! format, entity, time and event) → [`window`] (entries of one entity, with the summary
//! line) → [`template`] (the masked signature that keys the verdict cache). [`csv`] reads the
//! labelled CSV files that the checks and the builder use.

pub mod csv;
pub mod logline;
pub mod record;
pub mod template;
pub mod window;
