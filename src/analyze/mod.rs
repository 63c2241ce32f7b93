//! A window in, a verdict out, on any [`crate::model::language_model::LanguageModel`]: the
//! analyzer and its constrained decoder, the facts and signals read from the lines, the floors
//! they set under the model's verdict, and multi-stage findings.

pub mod analyzer;
pub mod decode;
pub mod facts;
pub mod floors;
pub mod parameter_requests;
pub mod stages;
