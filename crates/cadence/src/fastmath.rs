//! Cheaper forms of `base^x` and `cos(pi f)` for the families, where libm's `powf`
//! (about 15 ns on the benchmark machine) and `cos` (about 10 ns) would dominate the cost
//! of one evaluation.
//!
//! - [`pow_int`]: `base^n` for an integer `n` by square-and-multiply without data-dependent
//!   branches below 64 (bit-identical to `f64::powi` there, so staircase values stay exact
//!   (`0.5^3 == 0.125`)), the correctly rounded `powf` above.
//! - [`pow_real`]: `base^x` for a real `x >= 0`: [`pow_int`] at small integer `x` (exact
//!   where `powi` is), `exp(x ln base)` elsewhere, with `ln base` computed once per
//!   schedule ([`WithLn`]) instead of once per call.
//! - [`cos_pi`]: `cos(pi f)` on `[0, 1]` (every cosine anneal) by folding into a quarter
//!   period and one short polynomial, within 3.4e-16.

/// A positive-or-zero parameter together with its natural logarithm, computed once when
/// the parameter is set (by a constructor or by deserialisation) so that evaluation pays
/// `exp` instead of `powf`.
///
/// It serialises as the bare number and compares by the number: the logarithm is derived,
/// never state. The families keep it in private fields, so it is not part of the API.
#[derive(Clone, Copy)]
pub(crate) struct WithLn {
    value: f64,
    ln: f64,
}

impl WithLn {
    /// `value` and `value.ln()`.
    #[inline]
    pub(crate) fn new(value: f64) -> Self {
        WithLn {
            value,
            ln: value.ln(),
        }
    }

    /// The parameter.
    #[inline]
    pub(crate) fn get(self) -> f64 {
        self.value
    }

    /// `self.get().ln()`, computed when the parameter was set.
    #[inline]
    pub(crate) fn ln(self) -> f64 {
        self.ln
    }

    /// The parameter 1 (a serde default).
    #[cfg(feature = "serde")]
    pub(crate) fn one() -> Self {
        WithLn::new(1.0)
    }

    /// `self.get()^x` for `x >= 0` by [`pow_real`].
    #[inline]
    pub(crate) fn pow(self, x: f64) -> f64 {
        pow_real(self.value, x, || self.ln)
    }
}

impl PartialEq for WithLn {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl std::fmt::Debug for WithLn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for WithLn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.value)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for WithLn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        f64::deserialize(deserializer).map(WithLn::new)
    }
}

/// `log2(x)` for `x > 0` within 0.01 (not ulps): the exponent bits plus a quadratic in the
/// mantissa. For estimates that are settled exactly afterwards (which cycle contains a
/// step); costs about what one multiplication does, where `ln` costs as much as ten.
#[inline]
pub(crate) fn log2_estimate(x: f64) -> f64 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as f64 - 1023.0;
    // The mantissa m in [1, 2); log2(m) ~ (m - 1) * (1.346 - 0.346 * (m - 1)) (max error
    // below 0.01).
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000) - 1.0;
    exponent + m * (1.346_f64 - 0.346 * m)
}

/// `2^52`, from where on every `f64` is an integer.
pub(crate) const TWO_52: f64 = (1u64 << 52) as f64;

/// `x` rounded to an integer, ties to even, for `|x| < 2^52`: adding `2^52` (with the sign
/// of `x`) leaves no bits below the point, so the addition rounds, and the subtraction is
/// exact. The caller restores the sign of a zero.
#[inline]
fn round_small(x: f64) -> f64 {
    let shift = TWO_52.copysign(x);
    (x + shift) - shift
}

/// `x.floor()`, bit for bit, without a libm call (`f64::floor` is one on a target without
/// SSE4.1, the x86-64 baseline).
#[inline]
pub(crate) fn floor(x: f64) -> f64 {
    if x.abs() < TWO_52 {
        let r = round_small(x);
        // floor(x) has the sign of x, also at zero: floor(-0.0) == -0.0.
        (if r > x { r - 1.0 } else { r }).copysign(x)
    } else {
        x
    }
}

/// `x.ceil()`, bit for bit, without a libm call.
#[inline]
pub(crate) fn ceil(x: f64) -> f64 {
    if x.abs() < TWO_52 {
        let r = round_small(x);
        // ceil(-0.5) == -0.0: the result has the sign of x.
        (if r < x { r + 1.0 } else { r }).copysign(x)
    } else {
        x
    }
}

/// `x.trunc()`, bit for bit, without a libm call.
#[inline]
pub(crate) fn trunc(x: f64) -> f64 {
    if x.abs() < TWO_52 {
        let r = round_small(x);
        (if r.abs() > x.abs() {
            r - 1.0_f64.copysign(x)
        } else {
            r
        })
        .copysign(x)
    } else {
        x
    }
}

/// Python's `round(x)` (half to even) as a float, without a libm call.
#[inline]
pub(crate) fn round_even(x: f64) -> f64 {
    if x.abs() < TWO_52 {
        round_small(x).copysign(x)
    } else {
        x
    }
}

/// `x as f64` for `x < 2^52`, exactly, by placing `x` in the mantissa of `2^52` and
/// subtracting `2^52`: an integer move and one subtraction, where `u64`'s conversion takes
/// several instructions and `i64`'s (`cvtsi2sd`) keeps a false dependency on the target
/// register's old value, which can chain one evaluation to the previous one.
#[inline]
pub(crate) fn small_to_f64(x: u64) -> f64 {
    debug_assert!(x < 1 << 52);
    f64::from_bits(TWO_52.to_bits() | x) - TWO_52
}

/// `step as f64` (rounded to nearest above 2^53, as `as` does), by [`small_to_f64`]
/// below 2^52: the conversion every `value(step)` starts with.
#[inline]
pub(crate) fn step_to_f64(step: u64) -> f64 {
    if step < 1 << 52 {
        small_to_f64(step)
    } else {
        step as f64
    }
}

/// The largest integer exponent [`pow_int`] handles by squaring; beyond it `powf`.
const SQUARINGS: u32 = 6;

/// `base^n` for `n >= 0`: bit-identical to `base.powi(n)` below 64 (exact where that is),
/// `base.powf(n)` (correctly rounded, so closer than `powi`) from 64 on.
///
/// Exponents below 64 take six branch-free square-and-multiply rounds (the branch on the
/// exponent's bits is a select, so random-access steps cost no mispredictions); larger
/// ones go to `powf`.
#[inline]
pub(crate) fn pow_int(base: f64, n: u64) -> f64 {
    if let Some(power) = pow_two_int(base, n) {
        return power;
    }
    if n >> SQUARINGS != 0 {
        return base.powf(n as f64);
    }
    let mut result = 1.0;
    let mut square = base;
    for bit in 0..SQUARINGS {
        let factor = if (n >> bit) & 1 == 1 { square } else { 1.0 };
        result *= factor;
        square *= square;
    }
    result
}

/// `base^n` when `base` is a positive power of two `2^e` and `2^(e n)` is a normal
/// number: made from the exponent bits, so exact (as `powi` and `powf` are there) and
/// without a chain of products (PyTorch's `triangular2` halves the amplitude every
/// cycle; halving staircases are common). `None` otherwise.
#[inline]
fn pow_two_int(base: f64, n: u64) -> Option<f64> {
    const MANTISSA: u64 = (1 << 52) - 1;
    let bits = base.to_bits();
    let field = (bits >> 52) as i64; // the sign bit, if set, makes it > 2046
    if bits & MANTISSA != 0 || !(1..=2046).contains(&field) || n > 1 << 12 {
        return None;
    }
    let power = (field - 1023) * n as i64;
    (-1022..=1023)
        .contains(&power)
        .then(|| f64::from_bits(((power + 1023) as u64) << 52))
}

/// `base^x` for `x >= 0` (NaN and negative `x` give `base^0 = 1`), where `ln_base()`
/// returns `base.ln()` (called only for a fractional or large `x`, so a caller without a
/// stored logarithm pays for it only then): [`pow_int`] at integer `x` below 64, so values
/// there are exact wherever `powi` is, and `exp(x ln base)` elsewhere, within a few ulps of
/// `powf` (relative error about `|x ln base| * 2^-53`).
///
/// `base` must be `>= 0`.
#[inline]
pub(crate) fn pow_real(base: f64, x: f64, ln_base: impl FnOnce() -> f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    // An integer `x` below 2^52 converts exactly both ways (through i64 and the mantissa,
    // the cheap conversions); larger ones take the `exp` path.
    let n = x as i64 as u64;
    if x < TWO_52 && small_to_f64(n) == x {
        if let Some(power) = pow_two_int(base, n) {
            return power;
        }
        if n < 1 << SQUARINGS {
            return pow_int(base, n);
        }
    }
    (x * ln_base()).exp()
}

/// `base^y` for any `base >= 0` and a fixed `y > 0` (a schedule's exponent): when `y` is
/// an integer below 64 (the common `power = 2`, `k_decay = 3`), square-and-multiply over
/// its bits only, in `powi`'s order (so bit-identical to it): `y` is the schedule's
/// constant, so the loop's branches go the same way at every step and `base^2` costs one
/// product. Else `powf`.
#[inline]
pub(crate) fn pow_fixed(base: f64, y: f64) -> f64 {
    let mut n = y as u64;
    if n < 1 << SQUARINGS && n as f64 == y {
        let (mut result, mut square) = (1.0, base);
        loop {
            if n & 1 == 1 {
                result *= square;
            }
            n >>= 1;
            if n == 0 {
                return result;
            }
            square *= square;
        }
    } else {
        base.powf(y)
    }
}

/// `sin(x)` for `|x| <= pi/4`: the Taylor series to `x^15` (truncation below 5e-17),
/// summed by Estrin's scheme so that the chain of dependent operations is short.
#[inline]
fn sin_quarter(x: f64) -> f64 {
    let z = x * x;
    let z2 = z * z;
    let z4 = z2 * z2;
    let c = |n: f64| 1.0 / n;
    let low = (-c(6.0) + c(120.0) * z) + z2 * (-c(5_040.0) + c(362_880.0) * z);
    let high = (-c(39_916_800.0) + c(6_227_020_800.0) * z) + z2 * -c(1_307_674_368_000.0);
    x + x * z * (low + z4 * high)
}

/// `cos(x)` for `|x| <= pi/4`: the Taylor series to `x^16` (truncation below 3e-18),
/// summed by Estrin's scheme.
#[inline]
fn cos_quarter(x: f64) -> f64 {
    let z = x * x;
    let z2 = z * z;
    let z4 = z2 * z2;
    let c = |n: f64| 1.0 / n;
    let low = (1.0 - 0.5 * z) + z2 * (c(24.0) - c(720.0) * z);
    let high =
        (c(40_320.0) - c(3_628_800.0) * z) + z2 * (c(479_001_600.0) - c(87_178_291_200.0) * z);
    low + z4 * (high + z4 * c(20_922_789_888_000.0))
}

/// `cos(pi * f)` for `f` in `[0, 1]`, within 3.4e-16 of the exact value (`f64::cos` of
/// the rounded `pi * f` is up to 3.5e-16 off), at about a third of the cost: the argument
/// is folded into a quarter period exactly, then one short polynomial.
#[inline]
pub(crate) fn cos_pi(f: f64) -> f64 {
    use std::f64::consts::PI;
    if f <= 0.25 {
        cos_quarter(PI * f)
    } else if f <= 0.5 {
        sin_quarter(PI * (0.5 - f))
    } else if f <= 0.75 {
        -sin_quarter(PI * (f - 0.5))
    } else {
        -cos_quarter(PI * (1.0 - f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_small_powers() {
        assert_eq!(pow_int(0.5, 3), 0.125);
        assert_eq!(pow_int(2.0, 10), 1024.0);
        assert_eq!(pow_int(0.0, 0), 1.0);
        assert_eq!(pow_int(0.0, 5), 0.0);
        assert_eq!(WithLn::new(0.5).pow(3.0), 0.125);
        assert_eq!(WithLn::new(0.0).pow(2.5), 0.0);
        assert_eq!(WithLn::new(0.0).pow(2.0), 0.0);
        assert_eq!(WithLn::new(0.3).pow(0.0), 1.0);
        assert_eq!(WithLn::new(0.3).pow(f64::NAN), 1.0);
        assert_eq!(WithLn::new(0.3).get(), 0.3);
    }

    #[test]
    fn small_integers_convert_exactly() {
        for x in [0u64, 1, 2, 7919, 1 << 40, (1 << 52) - 1] {
            assert_eq!(small_to_f64(x), x as f64);
        }
        for x in [0u64, 1 << 52, (1 << 53) + 1, u64::MAX - 1, u64::MAX] {
            assert_eq!(step_to_f64(x), x as f64);
        }
    }

    #[test]
    fn powers_of_two_from_the_exponent_bits() {
        for base in [0.5, 2.0, 0.25, 1.0, 1024.0, 2f64.powi(-1022)] {
            for n in [
                0u64,
                1,
                2,
                7,
                63,
                64,
                100,
                1074,
                1075,
                2000,
                4096,
                4097,
                u64::MAX,
            ] {
                let want = base.powf(n as f64);
                assert_eq!(pow_int(base, n).to_bits(), want.to_bits(), "{base}^{n}");
            }
        }
        // Not powers of two, or negative: the general path.
        assert_eq!(pow_two_int(0.75, 3), None);
        assert_eq!(pow_two_int(-0.5, 3), None);
        assert_eq!(pow_two_int(f64::INFINITY, 3), None);
        assert_eq!(pow_two_int(0.0, 3), None);
        assert_eq!(pow_int(-0.5, 3), -0.125);
    }

    #[test]
    fn compares_and_prints_as_the_number() {
        assert_eq!(WithLn::new(2.0), WithLn::new(2.0));
        assert_ne!(WithLn::new(2.0), WithLn::new(3.0));
        assert_eq!(format!("{:?}", WithLn::new(2.5)), "2.5");
    }

    #[test]
    fn cos_pi_at_telling_points() {
        assert_eq!(cos_pi(0.0), 1.0);
        assert_eq!(cos_pi(1.0), -1.0);
        assert_eq!(cos_pi(0.5), 0.0);
        assert!((cos_pi(0.25) - std::f64::consts::FRAC_1_SQRT_2).abs() < 2e-16);
        assert!((cos_pi(1.0 / 3.0) - 0.5).abs() < 2e-16);
    }

    proptest! {
        #[test]
        fn log2_estimate_is_close(x in 1e-300f64..1e300) {
            prop_assert!((log2_estimate(x) - x.log2()).abs() < 0.01);
        }

        #[test]
        fn cos_pi_is_cos(f in 0.0f64..=1.0) {
            // `f64::cos` of the rounded `pi * f` is itself up to 3.5e-16 off, so the exact
            // argument's cosine: the rounding of `PI * f` (exact by a fused multiply-add)
            // and of `PI` itself, corrected to first order.
            use std::f64::consts::PI;
            let a = PI * f;
            let rest = PI.mul_add(f, -a) + 1.224_646_799_147_353_2e-16 * f;
            let want = a.cos() - a.sin() * rest;
            prop_assert!((cos_pi(f) - want).abs() <= 4e-16, "{f}: {} vs {want}", cos_pi(f));
        }

        #[test]
        fn pow_fixed_is_powf(base in 0.0f64..4.0, y in prop_oneof![1u32..70u32, 1u32..5].prop_map(f64::from), frac in prop_oneof![Just(0.0), 0.0f64..1.0]) {
            let y = y + frac;
            let want = base.powf(y);
            let got = pow_fixed(base, y);
            prop_assert!((got - want).abs() <= 1e-14 * want.abs(), "{got} vs {want}");
        }

        #[test]
        fn pow_fixed_is_powi_at_integers(base in 0.0f64..4.0, n in 0i32..64) {
            prop_assert_eq!(pow_fixed(base, f64::from(n)).to_bits(), base.powi(n).to_bits());
        }

        #[test]
        fn pow_int_is_powi_below_64_and_powf_above(base in 0.0f64..4.0, n in 0u64..200) {
            let got = pow_int(base, n);
            let want = if n < 64 { base.powi(n as i32) } else { base.powf(n as f64) };
            prop_assert_eq!(got.to_bits(), want.to_bits());
        }

        #[test]
        fn pow_real_is_powf(base in 1e-3f64..4.0, x in 0.0f64..500.0) {
            let want = base.powf(x);
            let got = WithLn::new(base).pow(x);
            let rel = ((got - want) / want).abs();
            // exp(x ln b) carries the rounding of x ln b, amplified by |x ln b|.
            let bound = 2.0 * (x * base.ln()).abs().max(1.0) * f64::EPSILON;
            prop_assert!(rel <= bound || want == 0.0 || !want.is_normal(), "{got} vs {want}: {rel} > {bound}");
        }

        #[test]
        fn pow_real_of_two_powers_is_exact(e in -8i32..8, share in 0.0f64..1.0) {
            // Exact wherever the power is a normal number (subnormal ones take `exp`):
            // n up to the largest with |e n| <= 1022.
            let n = (share * 1022.0 / f64::from(e.unsigned_abs().max(1))) as u32;
            let base = 2f64.powi(e);
            let x = f64::from(n);
            prop_assert_eq!(WithLn::new(base).pow(x).to_bits(), base.powf(x).to_bits());
        }
    }
}
