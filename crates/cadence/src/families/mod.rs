//! Schedule families: the primitive shapes, each a pure function of the step.

mod constant;
mod linear;

pub use constant::Constant;
pub use linear::Linear;
