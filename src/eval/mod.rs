//! Measuring: metrics of predictions against labels, backend parity, runs of the analyzer over
//! a data set, the scan-level suites' format and scoring, the reports they leave and the
//! model's throughput.

pub mod bench;
pub mod metrics;
pub mod parity;
pub mod report;
pub mod run;
pub mod suite;
