//! [`ScheduleSpec`]: the one recursive, self-describing description of any schedule.
//!
//! Every family and combinator is registered exactly once, in the `registry!` call below.
//! Registering generates the enum variant, its serialised name, evaluation by dispatch,
//! the list of names used for suggestions, `From` conversions and validation on
//! deserialisation. Adding a family is: write its file, add one line here.
//!
//! Serialised form (with the `serde` feature): an object with a `"type"` tag naming the
//! family plus the family's own parameters; combinators hold their children as nested
//! objects. Deserialising validates every node with the same rules as the constructors.

use crate::combinators::*;
use crate::error::Error;
use crate::families::*;
use crate::schedule::Schedule;

/// Validation shared by constructors and deserialisation: every registered type has one.
pub(crate) trait Validate {
    /// Checks every rule the constructor checks.
    fn validate(&self) -> Result<(), Error>;
}

macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal ),* $(,)?) => {
        /// Any cadence schedule as one serialisable, recursive value.
        ///
        /// It is itself a [`Schedule`] (evaluation dispatches on the variant without
        /// allocation), the input of the CLI and spec language, and the serde format of
        /// configuration files.
        ///
        /// # Examples
        ///
        /// ```
        /// use cadence::{Linear, Schedule, ScheduleSpec};
        ///
        /// let spec = ScheduleSpec::from(Linear::new(1.0, 0.0, 10)?);
        /// assert_eq!(spec.name(), "linear");
        /// assert_eq!(spec.value(5), 0.5);
        /// # Ok::<(), cadence::Error>(())
        /// ```
        #[derive(Debug, Clone, PartialEq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(tag = "type", try_from = "unchecked::RawSpec"))]
        #[non_exhaustive]
        pub enum ScheduleSpec {
            $(
                $(#[$doc])*
                #[cfg_attr(feature = "serde", serde(rename = $name))]
                $variant($ty),
            )*
        }

        impl ScheduleSpec {
            /// The serialised names of every registered family and combinator.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// The serialised name of this node's family or combinator.
            pub fn name(&self) -> &'static str {
                match self {
                    $(ScheduleSpec::$variant(_) => $name,)*
                }
            }

            /// Checks this node (children are checked when they are built).
            #[cfg_attr(not(feature = "serde"), allow(dead_code))]
            pub(crate) fn validate_node(&self) -> Result<(), Error> {
                match self {
                    $(ScheduleSpec::$variant(s) => Validate::validate(s),)*
                }
            }
        }

        impl Schedule for ScheduleSpec {
            #[inline]
            fn value(&self, step: u64) -> f64 {
                match self {
                    $(ScheduleSpec::$variant(s) => s.value(step),)*
                }
            }

            #[inline]
            fn value_at(&self, t: f64) -> f64 {
                match self {
                    $(ScheduleSpec::$variant(s) => s.value_at(t),)*
                }
            }
        }

        $(
            impl From<$ty> for ScheduleSpec {
                fn from(s: $ty) -> Self {
                    ScheduleSpec::$variant(s)
                }
            }
        )*

        #[cfg(feature = "serde")]
        mod unchecked {
            #[allow(unused_imports)]
            use super::*;

            /// The same tree as [`super::ScheduleSpec`], before validation of this node.
            /// (Named apart so that `ScheduleSpec` in the registered types still means
            /// the validated tree: children are checked as they are deserialised.)
            #[derive(serde::Deserialize)]
            #[serde(tag = "type")]
            pub enum RawSpec {
                $(
                    #[serde(rename = $name)]
                    $variant($ty),
                )*
            }

            impl TryFrom<RawSpec> for super::ScheduleSpec {
                type Error = super::Error;

                fn try_from(raw: RawSpec) -> Result<Self, Self::Error> {
                    let spec = match raw {
                        $(RawSpec::$variant(s) => super::ScheduleSpec::$variant(s),)*
                    };
                    spec.validate_node()?;
                    Ok(spec)
                }
            }
        }
    };
}

// The registry. Keep one line per family or combinator; group by kind.
registry! {
    // -- families --------------------------------------------------------------------
    /// [`Constant`]
    Constant(Constant) = "constant",
    /// [`Linear`]
    Linear(Linear) = "linear",
    /// [`Polynomial`]
    Polynomial(Polynomial) = "polynomial",
    /// [`Exponential`]
    Exponential(Exponential) = "exponential",
    /// [`Step`]
    Step(Step) = "step",
    /// [`MultiStep`]
    MultiStep(MultiStep) = "multi_step",
    /// [`PiecewiseConstant`]
    PiecewiseConstant(PiecewiseConstant) = "piecewise_constant",
    /// [`InverseTime`]
    InverseTime(InverseTime) = "inverse_time",
    /// [`InverseSqrt`]
    InverseSqrt(InverseSqrt) = "inverse_sqrt",
    /// [`Cosine`]
    Cosine(Cosine) = "cosine",
    /// [`Tanh`]
    Tanh(Tanh) = "tanh",
    /// [`Expr`]
    Expr(Expr) = "expr",
    /// [`PiecewiseInterpolate`]
    PiecewiseInterpolate(PiecewiseInterpolate) = "piecewise_interpolate",
    /// [`OneCycle`]
    OneCycle(OneCycle) = "one_cycle",
    /// [`CosineRestarts`]
    CosineRestarts(CosineRestarts) = "cosine_restarts",
    /// [`Cyclical`]
    Cyclical(Cyclical) = "cyclical",
    /// [`WarmupStableDecay`]
    WarmupStableDecay(WarmupStableDecay) = "warmup_stable_decay",
    /// [`SwaAnneal`]
    SwaAnneal(SwaAnneal) = "swa_anneal",
    // -- combinators -----------------------------------------------------------------
    /// [`Warmup`]
    Warmup(Warmup<Box<ScheduleSpec>>) = "warmup",
    /// [`Join`]
    Join(Join<Box<ScheduleSpec>>) = "join",
    /// [`Product`]
    Product(Product<Box<ScheduleSpec>>) = "product",
    /// [`Scale`]
    Scale(Scale<Box<ScheduleSpec>>) = "scale",
    /// [`Clamp`]
    Clamp(Clamp<Box<ScheduleSpec>>) = "clamp",
    /// [`Delay`]
    Delay(Delay<Box<ScheduleSpec>>) = "delay",
    /// [`Repeat`]
    Repeat(Repeat<Box<ScheduleSpec>>) = "repeat",
    /// [`Restarts`]
    Restarts(Restarts<Box<ScheduleSpec>>) = "restarts",
    /// [`Cycles`]
    Cycles(Cycles<Box<ScheduleSpec>>) = "cycles",
    /// [`PerEpoch`]
    PerEpoch(PerEpoch<Box<ScheduleSpec>>) = "per_epoch",
    /// [`OnFraction`]
    OnFraction(OnFraction<Box<ScheduleSpec>>) = "on_fraction",
    /// [`Accumulate`]
    Accumulate(Accumulate<Box<ScheduleSpec>>) = "accumulate",
    /// [`Noise`]
    Noise(Noise<Box<ScheduleSpec>>) = "noise",
    /// [`CumulativeProduct`]
    CumulativeProduct(CumulativeProduct<Box<ScheduleSpec>>) = "cumulative_product",
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_is_identical() {
        let spec = ScheduleSpec::from(Linear::new(0.5, 0.1, 100).unwrap());
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            json,
            r#"{"type":"linear","init":0.5,"end":0.1,"steps":100}"#
        );
        let back: ScheduleSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn deserialising_validates() {
        let err = serde_json::from_str::<ScheduleSpec>(
            r#"{"type":"linear","init":0.5,"end":0.1,"steps":0}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("`steps` = 0"), "{err}");
        let unknown = serde_json::from_str::<ScheduleSpec>(r#"{"type":"cosinus"}"#).unwrap_err();
        assert!(unknown.to_string().contains("unknown variant"), "{unknown}");
    }
}
