//! The seam between the decoder and the backends: a model that runs tokens after a cache and
//! returns the last position's logits. The CPU pass ([`crate::model::llama`]) and every backend
//! implement it; decoding, analysis and eval run on any of them.

use crate::model::config::ModelError;

/// A model the decoder can drive: runs tokens after a cache and returns the last logits.
///
/// The CPU Llama implements it; other backends plug into the same decoding and eval code.
pub trait LanguageModel {
    /// The per-sequence state (keys and values seen so far); cloned to share a prompt prefix.
    type Cache: Clone;

    /// An empty cache.
    fn new_cache(&self) -> Self::Cache;

    /// Positions `cache` holds.
    fn cache_len(cache: &Self::Cache) -> usize;

    /// Drops every position after the first `len`.
    fn truncate(cache: &mut Self::Cache, len: usize);

    /// Runs `tokens` after `cache` and returns the logits at the last position.
    fn forward(&self, tokens: &[u32], cache: &mut Self::Cache) -> Result<Vec<f32>, ModelError>;

    /// Runs each sequence's tokens after its own cache and returns each one's last logits,
    /// in order, equal to [`LanguageModel::forward`] on each. A backend that can run several
    /// sequences in one pass (the CPU Llama does) overrides this; the default runs them one
    /// after another.
    fn forward_batch(
        &self,
        batch: &mut [(&[u32], &mut Self::Cache)],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        batch
            .iter_mut()
            .map(|(tokens, cache)| self.forward(tokens, cache))
            .collect()
    }

    /// Context length in tokens.
    fn context_len(&self) -> usize;

    /// Short name of the backend, for reports (`cpu`).
    fn backend_name(&self) -> &str;
}

/// Index of the largest value (the greedy choice), first on ties.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}
