//! Causal grouped-query attention over a KV cache, on the CPU.
//!
//! Keys and values are stored rounded through f16, and queries and attention probabilities
//! are rounded likewise before their products, as llama.cpp's CPU path does with its f16 cache.

use half::f16;

use crate::cpu::ops::{exp, for_each_task, SharedMut};

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
    pub fn advance(&mut self, t: usize) {
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

#[cfg(test)]
fn round_f16(x: f32) -> f32 {
    f16::from_f32(x).to_f32()
}

/// Rounds every value through f16 and back, with the CPU's vector conversions where it has
/// them (a scalar conversion per value costs more than the rest of a decode step's attention).
fn round_f16_slice(xs: &mut [f32]) {
    use half::slice::HalfFloatSliceExt;
    let mut buf = [f16::ZERO; 256];
    for chunk in xs.chunks_mut(256) {
        let b = &mut buf[..chunk.len()];
        b.convert_from_f32_slice(chunk);
        b.convert_to_f32_slice(chunk);
    }
}

/// Query rows per parallel task in a long prompt: enough to keep the products large, few
/// enough that the two halves of a causal prompt balance across threads.
const QUERY_BLOCK: usize = 64;

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
    for (store, new) in [(&mut cache.k[layer], k), (&mut cache.v[layer], v)] {
        let at = store.len();
        store.extend_from_slice(new);
        round_f16_slice(&mut store[at..]);
    }
    let (keys, values) = (&cache.k[layer], &cache.v[layer]);
    let mut q = q.to_vec();
    round_f16_slice(&mut q);
    let group = h.n_head / h.n_head_kv;
    let scale = 1.0 / (h.head_dim as f32).sqrt();

    let mut out = vec![0f32; t * q_dim];
    let shared = SharedMut::new(&mut out);
    let blocks = t.div_ceil(QUERY_BLOCK);
    // One task per (head, block of queries); each writes its own head's columns of its rows.
    for_each_task(h.n_head * blocks, |task| {
        let (head, blk) = (task / blocks, task % blocks);
        let (i0, i1) = (blk * QUERY_BLOCK, ((blk + 1) * QUERY_BLOCK).min(t));
        let rows = i1 - i0;
        // The last query of the block sees the most keys; earlier ones mask the rest.
        let seen = pos + i1;
        let kv_off = (head / group) * h.head_dim;
        let mut p = vec![0f32; rows * seen];
        // SAFETY: all pointers cover the matrices as described by their sizes and strides:
        // q rows i0..i1 of this head, the first `seen` cached keys and values of its KV head,
        // and output rows i0..i1 of this head, which no other task writes.
        unsafe {
            // p = scale · Q Kᵀ, Q: rows × head_dim, Kᵀ: head_dim × seen.
            gemm::gemm(
                rows,
                seen,
                h.head_dim,
                p.as_mut_ptr(),
                1,
                seen as isize,
                false,
                q.as_ptr().add(i0 * q_dim + head * h.head_dim),
                1,
                q_dim as isize,
                keys.as_ptr().add(kv_off),
                kv_dim as isize,
                1,
                0.0,
                scale,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        for (r, row) in p.chunks_exact_mut(seen).enumerate() {
            softmax_causal(row, pos + i0 + r + 1);
        }
        // SAFETY: as above; the product writes rows i0..i1 of this head's columns only, which
        // no other task writes.
        unsafe {
            let o = shared.ptr(i0 * q_dim + head * h.head_dim);
            // O = P V, P: rows × seen, V: seen × head_dim.
            gemm::gemm(
                rows,
                h.head_dim,
                seen,
                o,
                1,
                q_dim as isize,
                false,
                p.as_ptr(),
                1,
                seen as isize,
                values.as_ptr().add(kv_off),
                1,
                kv_dim as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    });
    out
}

/// Softmax over the first `visible` scores of `row`, zero after them; probabilities rounded
/// through f16 as llama.cpp feeds them to its f16 value product.
fn softmax_causal(row: &mut [f32], visible: usize) {
    let (live, masked) = row.split_at_mut(visible);
    masked.fill(0.0);
    let max = live.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    for x in live.iter_mut() {
        *x = exp(*x - max);
    }
    // The sum in f64 as ggml takes it, over eight lanes so that it vectorises.
    let mut lanes = [0f64; 8];
    for chunk in live.chunks(8) {
        for (l, &x) in lanes.iter_mut().zip(chunk) {
            *l += x as f64;
        }
    }
    let inv = (1.0 / lanes.iter().sum::<f64>()) as f32;
    for x in live.iter_mut() {
        *x *= inv;
    }
    round_f16_slice(live);
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
        // Dropping the last two positions and running them again gives the same outputs: the
        // prompt-prefix reuse the analyzer relies on.
        inc.truncate(t - 2);
        for i in t - 2..t {
            let o = attend(
                &q[i * qd..][..qd],
                &k[i * kd..][..kd],
                &v[i * kd..][..kd],
                &mut inc,
                0,
                h,
            );
            inc.advance(1);
            assert_eq!(
                &o[..],
                &batch[i * qd..][..qd],
                "position {i} after truncate"
            );
        }
        assert_eq!(inc.len(), t);
        // The first query sees only the first position: its output is that value (rounded).
        assert_eq!(batch[0], round_f16(v[0]));
    }
}
