//! Greedy decoding over a KV cache, with constraints: choices from a token trie whose forced
//! runs are fed in one batch (jump-forward), free text up to a newline, and plain greedy text.

use crate::model::config::ModelError;
use crate::model::language_model::{argmax, LanguageModel};

/// A set of token sequences as a trie, for choosing one of them token by token.
#[derive(Debug, Clone, Default)]
pub struct TokenTrie {
    nodes: Vec<TrieNode>,
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    children: Vec<(u32, usize)>,
    /// The option that ends here.
    option: Option<usize>,
}

/// Two options where one is a prefix of the other: the decoder could not tell where to stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("option {0} is a prefix of (or equal to) another option")]
pub struct PrefixOption(pub usize);

impl TokenTrie {
    /// A trie of `options`; none may be a prefix of another (end each with a newline).
    pub fn new(options: &[Vec<u32>]) -> Result<Self, PrefixOption> {
        let mut t = TokenTrie {
            nodes: vec![TrieNode::default()],
        };
        for (i, seq) in options.iter().enumerate() {
            let mut node = 0;
            for &tok in seq {
                node = match t.nodes[node].children.iter().find(|c| c.0 == tok) {
                    Some(&(_, next)) => next,
                    None => {
                        if t.nodes[node].option.is_some() {
                            return Err(PrefixOption(i));
                        }
                        t.nodes.push(TrieNode::default());
                        let next = t.nodes.len() - 1;
                        t.nodes[node].children.push((tok, next));
                        next
                    }
                };
            }
            if t.nodes[node].option.is_some()
                || !t.nodes[node].children.is_empty()
                || seq.is_empty()
            {
                return Err(PrefixOption(i));
            }
            t.nodes[node].option = Some(i);
        }
        Ok(t)
    }

    /// Options in the trie.
    pub fn len(&self) -> usize {
        self.nodes.iter().filter(|n| n.option.is_some()).count()
    }

    /// Whether the trie holds no option.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counts of what a decoding did, for benchmarks, tests and backend parity.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DecodeStats {
    /// Tokens the model chose (at a branch of a trie, or in free text).
    pub chosen: usize,
    /// Tokens fed without a choice (forced runs of the schema).
    pub forced: usize,
    /// Forward calls made.
    pub forward_calls: usize,
    /// The smallest gap between the chosen child's logit and the best other child's at any
    /// branch of a trie (`None` before the first branch). Two backends whose logits differ by
    /// at most `d` can only choose differently where this is below `2 d`, so parity checks
    /// read it to tell a near-tie from a wrong kernel.
    pub closest_margin: Option<f32>,
}

/// One sequence being decoded: the cache, the tokens not yet fed and the last logits.
pub struct Session<'m, M: LanguageModel> {
    model: &'m M,
    cache: M::Cache,
    pending: Vec<u32>,
    logits: Vec<f32>,
    /// Every token of the sequence after the prompt (fed or pending).
    generated: Vec<u32>,
    stats: DecodeStats,
}

impl<'m, M: LanguageModel> Session<'m, M> {
    /// A session continuing `cache` (already holding the prompt), whose last logits are given.
    pub fn new(model: &'m M, cache: M::Cache, logits: Vec<f32>) -> Self {
        Session {
            model,
            cache,
            pending: Vec::new(),
            logits,
            generated: Vec::new(),
            stats: DecodeStats::default(),
        }
    }

    /// Tokens produced after the prompt.
    pub fn generated(&self) -> &[u32] {
        &self.generated
    }

    /// What the session did so far.
    pub fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// Appends tokens without a choice; they are fed with the next forward call.
    pub fn force(&mut self, tokens: &[u32]) {
        self.pending.extend_from_slice(tokens);
        self.generated.extend_from_slice(tokens);
        self.stats.forced += tokens.len();
    }

    /// The logits after every token so far, feeding what is pending in one batch.
    pub fn logits(&mut self) -> Result<&[f32], ModelError> {
        if !self.pending.is_empty() {
            let room = self.model.context_len() - M::cache_len(&self.cache);
            if self.pending.len() > room {
                return Err(ModelError::ContextOverflow {
                    len: M::cache_len(&self.cache) + self.pending.len(),
                    max: self.model.context_len(),
                });
            }
            self.logits = self.model.forward(&self.pending, &mut self.cache)?;
            self.pending.clear();
            self.stats.forward_calls += 1;
        }
        Ok(&self.logits)
    }

    /// Adds a token the model chose.
    fn push_chosen(&mut self, tok: u32) {
        self.pending.push(tok);
        self.generated.push(tok);
        self.stats.chosen += 1;
    }

    /// Picks one option of `trie` greedily: at each branch the child with the highest logit,
    /// and every run without a branch is queued as forced tokens. Returns the option's index.
    pub fn choose(&mut self, trie: &TokenTrie) -> Result<usize, ModelError> {
        let mut node = 0;
        loop {
            let n = &trie.nodes[node];
            if let Some(opt) = n.option {
                return Ok(opt);
            }
            if n.children.len() == 1 {
                let (tok, next) = n.children[0];
                self.force(&[tok]);
                node = next;
                continue;
            }
            let logits = self.logits()?;
            let &(tok, next) = n
                .children
                .iter()
                .max_by(|a, b| logit(logits, a.0).total_cmp(&logit(logits, b.0)))
                .expect("a branch has children");
            let runner_up = n
                .children
                .iter()
                .filter(|c| c.0 != tok)
                .map(|c| logit(logits, c.0))
                .fold(f32::NEG_INFINITY, f32::max);
            let margin = logit(logits, tok) - runner_up;
            self.stats.closest_margin =
                Some(self.stats.closest_margin.map_or(margin, |m| m.min(margin)));
            self.push_chosen(tok);
            node = next;
        }
    }

    /// Greedy tokens until `stop` says so or `max` tokens were chosen; `allowed` masks the
    /// vocabulary (tokens it rejects are never chosen). Returns the tokens chosen.
    pub fn generate(
        &mut self,
        max: usize,
        allowed: &dyn Fn(u32) -> bool,
        stop: &mut dyn FnMut(u32) -> bool,
    ) -> Result<Vec<u32>, ModelError> {
        let mut out = Vec::new();
        while out.len() < max {
            let room = self.model.context_len() - M::cache_len(&self.cache);
            if self.pending.len() + 1 > room {
                break;
            }
            let logits = self.logits()?;
            let tok = if allowed(argmax(logits)) {
                argmax(logits)
            } else {
                let mut best: Option<u32> = None;
                for (i, &v) in logits.iter().enumerate() {
                    let i = i as u32;
                    if allowed(i) && best.is_none_or(|b| v > logits[b as usize]) {
                        best = Some(i);
                    }
                }
                match best {
                    Some(b) => b,
                    None => break,
                }
            };
            self.push_chosen(tok);
            out.push(tok);
            if stop(tok) {
                break;
            }
        }
        Ok(out)
    }
}

fn logit(logits: &[f32], tok: u32) -> f32 {
    logits
        .get(tok as usize)
        .copied()
        .unwrap_or(f32::NEG_INFINITY)
}

/// The KV cache of a fixed prompt header, computed once and cloned for every entry.
pub struct PrefixCache<M: LanguageModel> {
    tokens: Vec<u32>,
    cache: M::Cache,
    logits: Vec<f32>,
}

impl<M: LanguageModel> PrefixCache<M> {
    /// Runs `header` once.
    pub fn new(model: &M, header: &[u32]) -> Result<Self, ModelError> {
        let mut cache = model.new_cache();
        let logits = if header.is_empty() {
            Vec::new()
        } else {
            model.forward(header, &mut cache)?
        };
        Ok(PrefixCache {
            tokens: header.to_vec(),
            cache,
            logits,
        })
    }

    /// The header's tokens.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// A session over `prompt`, reusing the cached header when `prompt` starts with it; returns
    /// the session and how many prompt tokens came from the cache.
    pub fn start<'m>(
        &self,
        model: &'m M,
        prompt: &[u32],
    ) -> Result<(Session<'m, M>, usize), ModelError> {
        Ok(self
            .start_batch(model, &[prompt])?
            .pop()
            .expect("one prompt in, one session out"))
    }

    /// A session over each of `prompts`, as [`PrefixCache::start`] gives, with every prompt's
    /// tokens after the cached header run in one batched pass
    /// ([`LanguageModel::forward_batch`]).
    pub fn start_batch<'m>(
        &self,
        model: &'m M,
        prompts: &[&[u32]],
    ) -> Result<Vec<(Session<'m, M>, usize)>, ModelError> {
        let mut caches = Vec::with_capacity(prompts.len());
        for prompt in prompts {
            if prompt.len() > model.context_len() {
                return Err(ModelError::ContextOverflow {
                    len: prompt.len(),
                    max: model.context_len(),
                });
            }
            let reused = if prompt.len() > self.tokens.len() && prompt.starts_with(&self.tokens) {
                self.tokens.len()
            } else {
                0
            };
            let mut cache = if reused > 0 {
                self.cache.clone()
            } else {
                model.new_cache()
            };
            M::truncate(&mut cache, reused);
            caches.push((reused, cache));
        }
        // The prompts with tokens past the header, run together.
        let mut runs: Vec<(&[u32], &mut M::Cache)> = prompts
            .iter()
            .zip(caches.iter_mut())
            .filter(|(p, (reused, _))| p.len() > *reused)
            .map(|(p, (reused, cache))| (&p[*reused..], cache))
            .collect();
        let mut logits = model.forward_batch(&mut runs)?.into_iter();
        Ok(prompts
            .iter()
            .zip(caches)
            .map(|(p, (reused, cache))| {
                let ran = p.len() > reused;
                let l = if ran {
                    logits.next().expect("one logits row per run")
                } else {
                    self.logits.clone()
                };
                let mut s = Session::new(model, cache, l);
                s.stats.forward_calls = usize::from(ran);
                (s, reused)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy model whose logits favour `next` of the last token (+1), and `bias` overall.
    struct Toy {
        vocab: usize,
        bias: Vec<f32>,
    }

    impl LanguageModel for Toy {
        type Cache = Vec<u32>;
        fn new_cache(&self) -> Vec<u32> {
            Vec::new()
        }
        fn cache_len(c: &Vec<u32>) -> usize {
            c.len()
        }
        fn truncate(c: &mut Vec<u32>, len: usize) {
            c.truncate(len)
        }
        fn forward(&self, tokens: &[u32], cache: &mut Vec<u32>) -> Result<Vec<f32>, ModelError> {
            cache.extend_from_slice(tokens);
            let last = *cache.last().unwrap() as usize;
            let mut l = self.bias.clone();
            l[(last + 1) % self.vocab] += 1.0;
            Ok(l)
        }
        fn context_len(&self) -> usize {
            64
        }
        fn backend_name(&self) -> &str {
            "toy"
        }
    }

    fn toy() -> Toy {
        Toy {
            vocab: 10,
            bias: vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0],
        }
    }

    #[test]
    fn trie_rejects_prefix_options() {
        assert_eq!(
            TokenTrie::new(&[vec![1, 2], vec![1, 2, 3]]).unwrap_err(),
            PrefixOption(1)
        );
        assert_eq!(
            TokenTrie::new(&[vec![1, 2, 3], vec![1, 2]]).unwrap_err(),
            PrefixOption(1)
        );
        assert_eq!(TokenTrie::new(&[vec![]]).unwrap_err(), PrefixOption(0));
        assert_eq!(TokenTrie::new(&[vec![1], vec![2, 3]]).unwrap().len(), 2);
    }

    #[test]
    fn choose_forces_shared_runs_and_picks_by_logit_at_branches() {
        let m = toy();
        // After [0] the toy favours 1; the options share 7,8 then branch on 9 vs 5 (bias 0.5):
        // after 8 the toy favours 9 (+1) over 5 (+0.5).
        let trie = TokenTrie::new(&[vec![7, 8, 5, 0], vec![7, 8, 9, 0]]).unwrap();
        let pc = PrefixCache::new(&m, &[0]).unwrap();
        let (mut s, reused) = pc.start(&m, &[0, 3]).unwrap();
        assert_eq!(reused, 1);
        assert_eq!(s.choose(&trie).unwrap(), 1);
        assert_eq!(s.generated(), &[7, 8, 9, 0]);
        let st = s.stats();
        assert_eq!((st.chosen, st.forced), (1, 3));
        // One call for the prompt's rest, one for the forced run 7,8 before the branch; the
        // final forced 0 is only queued.
        assert_eq!(st.forward_calls, 2);
        // The one branch: 9 at logit 1 against 5 at 0.5.
        assert_eq!(st.closest_margin, Some(0.5));
    }

    #[test]
    fn single_option_costs_no_forward_call() {
        let m = toy();
        let trie = TokenTrie::new(&[vec![4, 4, 4]]).unwrap();
        let mut s = Session::new(&m, vec![0], vec![0.0; 10]);
        assert_eq!(s.choose(&trie).unwrap(), 0);
        assert_eq!(s.stats().forward_calls, 0);
        assert_eq!(s.stats().forced, 3);
        assert_eq!(s.stats().closest_margin, None, "no branch, no margin");
    }

    #[test]
    fn generate_respects_the_mask_and_stop() {
        let m = toy();
        let mut s = Session::new(&m, vec![0], m.forward(&[0], &mut vec![]).unwrap());
        // Unmasked, the toy would count 1,2,3...; forbid 3 and stop at 6.
        let out = s.generate(20, &|t| t != 3, &mut |t| t == 6).unwrap();
        assert_eq!(out, vec![1, 2, 5, 6]);
        let mut s = Session::new(&m, vec![0], m.forward(&[0], &mut vec![]).unwrap());
        assert_eq!(
            s.generate(3, &|_| true, &mut |_| false).unwrap(),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn prefix_cache_is_not_used_for_a_different_prompt() {
        let m = toy();
        let pc = PrefixCache::new(&m, &[1, 2]).unwrap();
        let (s, reused) = pc.start(&m, &[1, 3, 4]).unwrap();
        assert_eq!(reused, 0);
        assert_eq!(s.cache, vec![1, 3, 4]);
    }
}
