//! Causal grouped-query attention over a KV cache, on the CPU.
//!
//! Keys and values are stored rounded through f16, and queries and attention probabilities
//! are rounded likewise before their products, as llama.cpp's CPU path does with its f16 cache.

use half::f16;

use crate::cpu_ops::{exp, for_each_task, SharedMut};

/// Keys and values of every block for the positions seen so far.
#[derive(Clone)]
pub struct KvCache {
    /// Per block: `len × kv_dim` keys, one row per position.
    k: Vec<Vec<f32>>,
    /// Per block: `len × kv_dim` values.
    v: Vec<Vec<f32>>,
    kv_dim: usize,
    len: usize,
}

impl KvCache {
    /// An empty cache for `n_layer` blocks of `kv_dim` key (and value) features per position.
    pub fn new(n_layer: usize, kv_dim: usize) -> Self {
        Self {
            k: vec![Vec::new(); n_layer],
            v: vec![Vec::new(); n_layer],
            kv_dim,
            len: 0,
        }
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been processed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops everything after the first `len` positions (to reuse a shared prompt prefix).
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            for x in self.k.iter_mut().chain(self.v.iter_mut()) {
                x.truncate(len * self.kv_dim);
            }
            self.len = len;
        }
    }

    /// Marks `t` more positions as held once every block has appended them.
    pub(crate) fn advance(&mut self, t: usize) {
        self.len += t;
    }
}

/// Shapes of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads.
    pub n_head_kv: usize,
    /// Features per head.
    pub head_dim: usize,
}

fn round_f16(x: f32) -> f32 {
    f16::from_f32(x).to_f32()
}

/// Appends `k`, `v` (`t × kv_dim`, already rotated) to block `layer` of `cache` and returns the
/// attention output for the `t` queries in `q` (`t × n_head·head_dim`), query `i` sitting at
/// position `cache.len() + i` and seeing every position up to its own.
pub fn attend(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    cache: &mut KvCache,
    layer: usize,
    h: Heads,
) -> Vec<f32> {
    let kv_dim = h.n_head_kv * h.head_dim;
    let q_dim = h.n_head * h.head_dim;
    let t = q.len() / q_dim;
    let pos = cache.len;
    cache.k[layer].extend(k.iter().map(|&x| round_f16(x)));
    cache.v[layer].extend(v.iter().map(|&x| round_f16(x)));
    let (keys, values) = (&cache.k[layer], &cache.v[layer]);
    let group = h.n_head / h.n_head_kv;
    let scale = 1.0 / (h.head_dim as f32).sqrt();

    let mut out = vec![0f32; t * q_dim];
    let shared = SharedMut::new(&mut out);
    // One task per (query, head): each writes its own head_dim slice of the output.
    for_each_task(t * h.n_head, |task| {
        let (i, head) = (task / h.n_head, task % h.n_head);
        let kv_off = (head / group) * h.head_dim;
        let qh: Vec<f32> = q[i * q_dim + head * h.head_dim..][..h.head_dim]
            .iter()
            .map(|&x| round_f16(x))
            .collect();
        let seen = pos + i + 1;
        let mut p: Vec<f32> = (0..seen)
            .map(|j| dot(&qh, &keys[j * kv_dim + kv_off..][..h.head_dim]) * scale)
            .collect();
        let max = p.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let mut sum = 0f64;
        for x in p.iter_mut() {
            *x = exp(*x - max);
            sum += *x as f64;
        }
        let inv = (1.0 / sum) as f32;
        // SAFETY: task (i, head) owns output range [i*q_dim + head*head_dim, +head_dim).
        let o = unsafe { shared.slice(i * q_dim + head * h.head_dim, h.head_dim) };
        for (j, &pj) in p.iter().enumerate() {
            let pj = round_f16(pj * inv);
            for (o, &vv) in o
                .iter_mut()
                .zip(&values[j * kv_dim + kv_off..][..h.head_dim])
            {
                *o += pj * vv;
            }
        }
    });
    out
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent sums let the compiler vectorise without reassociating floats.
    let mut acc = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let tail: f32 = a
        .chunks_exact(8)
        .remainder()
        .iter()
        .zip(b.chunks_exact(8).remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_position_returns_its_value() {
        let h = Heads {
            n_head: 2,
            n_head_kv: 1,
            head_dim: 2,
        };
        let mut cache = KvCache::new(1, 2);
        let out = attend(
            &[1.0, 0.0, 0.0, 1.0],
            &[0.5, 0.5],
            &[3.0, -2.0],
            &mut cache,
            0,
            h,
        );
        assert_eq!(out, vec![3.0, -2.0, 3.0, -2.0]);
    }

    #[test]
    fn causal_and_incremental_agree() {
        let h = Heads {
            n_head: 4,
            n_head_kv: 2,
            head_dim: 8,
        };
        let (t, qd, kd) = (5, 32, 16);
        let f = |n: usize, s: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * s).sin()).collect() };
        let (q, k, v) = (f(t * qd, 0.37), f(t * kd, 0.71), f(t * kd, 1.13));
        let mut all = KvCache::new(1, kd);
        let batch = attend(&q, &k, &v, &mut all, 0, h);
        let mut inc = KvCache::new(1, kd);
        for i in 0..t {
            let o = attend(
                &q[i * qd..][..qd],
                &k[i * kd..][..kd],
                &v[i * kd..][..kd],
                &mut inc,
                0,
                h,
            );
            inc.advance(1);
            assert_eq!(&o[..], &batch[i * qd..][..qd], "position {i}");
        }
        // The first query sees only the first position: its output is that value (rounded).
        assert_eq!(batch[0], round_f16(v[0]));
    }
}
