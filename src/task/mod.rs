//! The seed's contract with the model: the prompt it reads, the verdict it writes, the taxonomy
//! of threat types and the data sets of examples.

pub mod dataset;
pub mod prompt;
pub mod taxonomy;
pub mod verdict;
