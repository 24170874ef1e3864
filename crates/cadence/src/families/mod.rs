//! Schedule families: the primitive shapes, each a pure function of the step.

mod constant;
mod cosine;
mod exponential;
mod expr;
mod inverse_sqrt;
mod inverse_time;
mod linear;
mod mode;
mod piecewise_constant;
mod polynomial;
mod step;
mod tanh;

pub use constant::Constant;
pub use cosine::Cosine;
pub use exponential::Exponential;
pub use expr::Expr;
pub use inverse_sqrt::InverseSqrt;
pub use inverse_time::InverseTime;
pub use linear::Linear;
pub use mode::{DecayMode, Overrun};
pub use piecewise_constant::PiecewiseConstant;
pub use polynomial::Polynomial;
pub use step::{MultiStep, Step};
pub use tanh::Tanh;
mod cosine_restarts;
mod cyclical;
mod linear;
mod noise;
mod one_cycle;
mod piecewise_interpolate;
mod swa_anneal;
mod warmup_stable_decay;

pub use constant::Constant;
pub use cosine_restarts::CosineRestarts;
pub use cyclical::{Amplitude, AmplitudeClock, Cyclical};
pub use linear::Linear;
pub use noise::{Noise, NoiseKind};
pub use one_cycle::{OneCycle, PhaseEnds, Phases};
pub use piecewise_interpolate::{PiecewiseInterpolate, SegmentAnneal};
pub use swa_anneal::SwaAnneal;
pub use warmup_stable_decay::{DecayLength, WarmupStableDecay};
