//! Learning-rate schedule: linear warmup then cosine decay to zero, as Hugging Face
//! transformers' `get_cosine_schedule_with_warmup` (the paper's "cosine with 5% warmup").

/// The learning rate of optimiser update number `step` (0-based) under HF's cosine schedule.
///
/// HF's `Trainer` advances its `LambdaLR` after each optimiser step, so the first update runs
/// at the lambda of step 0, which is 0 whenever there is a warmup; pass the number of updates
/// already taken to get the same rates. Warmup is `base_lr * step / warmup_steps`; after it,
/// `base_lr * 0.5 * (1 + cos(pi * progress))` (HF's `num_cycles = 0.5`) with
/// `progress = (step - warmup_steps) / (total_steps - warmup_steps)`. Like HF, past
/// `total_steps` the curve rises again; callers stop at `total_steps`.
pub fn cosine_with_warmup(
    step: usize,
    total_steps: usize,
    warmup_steps: usize,
    base_lr: f32,
) -> f32 {
    // Python evaluates the lambda and the product with base_lr in doubles; so do we, rounding
    // once at the end, so that the rates equal PyTorch's to the last bit of an f32.
    let lambda = if step < warmup_steps {
        step as f64 / warmup_steps.max(1) as f64
    } else {
        let progress =
            (step - warmup_steps) as f64 / total_steps.saturating_sub(warmup_steps).max(1) as f64;
        let num_cycles = 0.5;
        (0.5 * (1.0 + (std::f64::consts::PI * num_cycles * 2.0 * progress).cos())).max(0.0)
    };
    (f64::from(base_lr) * lambda) as f32
}

/// Warmup length for a ratio of the total, `ceil(total * ratio)` as HF's `get_warmup_steps`.
///
/// A ratio such as 0.05 comes from the command line as a decimal, and HF multiplies the
/// double nearest that decimal; widening the f32 instead (0.05f32 is 0.0500000007…) would turn
/// `ceil(100 * 0.05) = 5` into 6. The f32's shortest decimal form recovers the decimal typed, so
/// it is parsed back as a double. Negative or NaN ratios give 0.
pub fn warmup_steps(total: usize, ratio: f32) -> usize {
    let ratio: f64 = ratio.to_string().parse().unwrap_or(f64::from(ratio));
    // `as` saturates: a negative or NaN product becomes 0, never a wrapped huge count.
    (total as f64 * ratio).ceil() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected rates are Python's (plain floats) evaluation of HF's lr_lambda times base_lr:
    //   def lam(s, total, w):
    //       if s < w: return s / max(1, w)
    //       pr = (s - w) / max(1, total - w)
    //       return max(0.0, 0.5 * (1 + math.cos(math.pi * 0.5 * 2 * pr)))
    //   2e-4 * lam(s, 105, 5) for s in (0, 1, 4, 5, 55, 104, 105)
    //   -> 0.0, 4e-05, 0.00016, 0.0002, 0.0001, 4.934396342684e-08, 0.0
    //   2e-4 * lam(s, 84, 5) for s in (0, 3, 5, 44, 83)
    //   -> 0.0, 0.00012, 0.0002, 0.00010198821876650701, 7.906027726981568e-08
    // (base_lr is the f32 2e-4, widened, so expectations are rounded to f32 in the same way.)

    fn expect(step: usize, total: usize, warmup: usize, python: f64) {
        let got = cosine_with_warmup(step, total, warmup, 2e-4);
        // Python multiplies by the double 2e-4, we by the f32 2e-4 widened: compare in f32
        // with one ulp of slack for that difference in the base.
        let want = python as f32;
        let ulp = f32::from_bits(want.to_bits() + 1) - want;
        assert!(
            (got - want).abs() <= ulp.max(f32::MIN_POSITIVE),
            "step {step}/{total} (warmup {warmup}): got {got:e}, want {want:e}"
        );
    }

    #[test]
    fn warmup_is_linear_from_zero() {
        expect(0, 105, 5, 0.0);
        expect(1, 105, 5, 4e-05);
        expect(4, 105, 5, 0.00016);
        assert_eq!(cosine_with_warmup(0, 84, 5, 2e-4), 0.0);
    }

    #[test]
    fn end_of_warmup_is_base_rate() {
        expect(5, 105, 5, 0.0002);
        expect(5, 84, 5, 0.0002);
        assert_eq!(cosine_with_warmup(5, 84, 5, 2e-4), 2e-4);
    }

    #[test]
    fn middle_is_half_rate() {
        expect(55, 105, 5, 0.0001);
        expect(44, 84, 5, 0.00010198821876650701);
    }

    #[test]
    fn last_step_is_near_zero_and_end_is_zero() {
        expect(104, 105, 5, 4.934396342684e-08);
        expect(83, 84, 5, 7.906027726981568e-08);
        expect(105, 105, 5, 0.0);
        expect(3, 84, 5, 0.00012);
    }

    #[test]
    fn no_warmup_starts_at_base_rate() {
        assert_eq!(cosine_with_warmup(0, 10, 0, 1e-3), 1e-3);
        // A degenerate schedule (warmup covering everything) must not divide by zero.
        assert_eq!(cosine_with_warmup(3, 3, 3, 1e-3), 1e-3);
        assert_eq!(cosine_with_warmup(0, 0, 0, 1e-3), 1e-3);
    }

    #[test]
    fn warmup_steps_is_python_ceil() {
        // Python: math.ceil(t * r) for (84, .05) (100, .05) (20, .05) (0, .05) (87, .05)
        // (1000, .05) (30, .1) (100, .03) -> 5 5 1 0 5 50 3 3
        assert_eq!(warmup_steps(84, 0.05), 5);
        assert_eq!(warmup_steps(100, 0.05), 5);
        assert_eq!(warmup_steps(20, 0.05), 1);
        assert_eq!(warmup_steps(0, 0.05), 0);
        assert_eq!(warmup_steps(87, 0.05), 5);
        assert_eq!(warmup_steps(1000, 0.05), 50);
        assert_eq!(warmup_steps(30, 0.1), 3);
        assert_eq!(warmup_steps(100, 0.03), 3);
        assert_eq!(warmup_steps(100, 0.0), 0);
        assert_eq!(warmup_steps(100, -0.5), 0);
        assert_eq!(warmup_steps(100, f32::NAN), 0);
    }
}
