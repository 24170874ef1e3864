//! Schedule families: the primitive shapes, each a pure function of the step.

mod constant;
mod expr;
mod linear;

pub use constant::Constant;
pub use expr::Expr;
pub use linear::Linear;
