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
