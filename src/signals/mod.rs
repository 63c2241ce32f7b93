//! What one log line says, read by patterns alone, without a model: an authentication failure,
//! a denial, a destination port, a known-exploited path, a scanner ([`words`]), or text
//! addressed to the analyzer rather than recording an event ([`addressed`]). The log parsers,
//! the prompt and the analysis all read lines through these.

pub mod addressed;
pub mod words;
