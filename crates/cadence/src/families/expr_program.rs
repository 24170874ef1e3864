//! The compiled form of an [`Expr`](super::Expr): its syntax tree, with every
//! variable-free subtree folded to a number, flattened into one vector of fixed-size
//! instructions run by a loop over an accumulator (a register) and a small stack in a
//! local array. Evaluation allocates nothing and follows no pointer but the one to the
//! instructions.
//!
//! Numbers become operands of the instruction that uses them (`acc * c`, `c - acc`), the
//! variable is fused with an arithmetic operation on it (`x // c`), a comparison with a
//! number (of the variable or of a computed value) with the conditional jump that tests
//! it, and the commonest operations with a number have instructions of their own, so that
//! `0.1 * 0.5 ** (step // 1000)` runs three instructions, `min(1.0, (step + 1) / 1000)`
//! three and `1 - e / 100 if e < 100 else 0.0` four or two. The generic operations are
//! calls, so the loop stays small.
//!
//! Results are bit-identical to the tree interpreter ([`Node::eval`](super::Node)), which
//! stays the reference and the fallback for the rare expression that needs a deeper stack
//! than [`STACK`], with one exception: a power with a constant base, `c ** e` with
//! `0 < c < inf`, `c != 1` (a decay factor to a variable exponent, `0.95 ** epoch`,
//! `0.5 ** (step // 1000)`), is computed as
//!
//! - `c^n` by square-and-multiply at integer `n` in `[0, 64)` (as the interpreter does, so
//!   exact wherever `powi` is);
//! - exactly, at every integer `n`, when `c` is a power of two (`0.5`, `2`, `0.25`): the
//!   result is `2^(k n)`, written into the exponent bits (libm's `pow` is exact there too,
//!   so the two agree bit for bit);
//! - elsewhere `exp(e ln c)` with `ln c` computed once at compile time, instead of `powf`
//!   (about 20 ns): within a relative `(|e ln c| + 4) * 2^-52` of `powf` (the rounding of
//!   `ln c` and of the product, scaled by `|e ln c|`, plus an ulp each for `exp` and for
//!   `powf`). For a decay factor that is far below any meaning of a learning rate: at
//!   `0.95 ** 10_000` (`e ln c` about 513) about 1.2e-13 relative.
//!
//! `floor`, `ceil`, `int` (truncation), `round` and floor division avoid libm (a call on a
//! target without SSE4.1) by rounding with `(x + 2^52) - 2^52` where `|x| < 2^52`; at and beyond
//! `2^52`, at infinities and at NaN every `f64` is already integral, so they return it.
//! Both are bit-identical to the libm functions, signed zeros included.

use super::{BinOp, CmpOp, Func, Node, python_mod, python_pow, truthy};
use crate::fastmath::{ceil, floor, round_even, trunc};

/// The most values a program may hold at once: the accumulator and `STACK - 1` below it
/// (the stack's first slot receives the accumulator's initial value, never read). A program
/// that needs more (an expression nested to the right eight levels deep, such as
/// `t + (t + (t + ...))`) is evaluated by the tree interpreter.
pub(super) const STACK: usize = 8;

/// `2^m` for an integer `m`, exactly (`0` below the smallest subnormal, with ties to
/// even, and `inf` above the largest finite power).
#[inline]
fn exp2_int(m: i64) -> f64 {
    if m > 1023 {
        f64::INFINITY
    } else if m >= -1022 {
        f64::from_bits(((m + 1023) as u64) << 52)
    } else if m >= -1074 {
        f64::from_bits(1 << (m + 1074))
    } else {
        0.0
    }
}

/// A binary operation: arithmetic, a comparison (`1.0` or `0.0`), one step of the fold
/// of `min` or `max`, or `log(a, base)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Cmp(CmpOp),
    Min,
    Max,
    LogBase,
}

impl From<BinOp> for Op {
    fn from(op: BinOp) -> Op {
        match op {
            BinOp::Add => Op::Add,
            BinOp::Sub => Op::Sub,
            BinOp::Mul => Op::Mul,
            BinOp::Div => Op::Div,
            BinOp::FloorDiv => Op::FloorDiv,
            BinOp::Mod => Op::Mod,
            BinOp::Pow => Op::Pow,
        }
    }
}

impl Op {
    /// `a op b`, the language's meaning of every operation (the tree interpreter calls it
    /// too).
    #[inline(always)]
    pub(super) fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
            Op::Div => a / b,
            Op::FloorDiv => floor(a / b),
            Op::Mod => python_mod(a, b),
            Op::Pow => python_pow(a, b),
            Op::Cmp(op) => f64::from(u8::from(op.holds(a, b))),
            Op::Min => a.min(b),
            Op::Max => a.max(b),
            Op::LogBase => a.ln() / b.ln(),
        }
    }
}

impl Op {
    /// [`Op::apply`] as a call: the evaluation loop inlines only its instructions of their
    /// own, so that the generic ones (each a match over every operation) do not crowd its
    /// registers and code.
    #[inline(never)]
    fn apply_outlined(self, a: f64, b: f64) -> f64 {
        self.apply(a, b)
    }
}

impl CmpOp {
    #[inline(always)]
    pub(super) fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
        }
    }
}

/// A one-argument operation: negation, `not`, a function, or the start of the fold of
/// `min` (from `+inf`) or `max` (from `-inf`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Un {
    Neg,
    Not,
    MinStart,
    MaxStart,
    Abs,
    Exp,
    Ln,
    Log2,
    Log10,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Tanh,
    Floor,
    Ceil,
    Round,
    Int,
}

impl Un {
    /// The one-argument function `func` (`None` for `float`, the identity, and for the
    /// functions of several arguments).
    pub(super) fn of(func: Func) -> Option<Un> {
        Some(match func {
            Func::Abs => Un::Abs,
            Func::Exp => Un::Exp,
            Func::Log => Un::Ln,
            Func::Log2 => Un::Log2,
            Func::Log10 => Un::Log10,
            Func::Sqrt => Un::Sqrt,
            Func::Sin => Un::Sin,
            Func::Cos => Un::Cos,
            Func::Tan => Un::Tan,
            Func::Tanh => Un::Tanh,
            Func::Floor => Un::Floor,
            Func::Ceil => Un::Ceil,
            Func::Round => Un::Round,
            Func::Int => Un::Int,
            Func::Min | Func::Max | Func::Pow | Func::Float => return None,
        })
    }

    /// [`Un::apply`] as a call (see [`Op::apply_outlined`]).
    #[inline(never)]
    fn apply_outlined(self, a: f64) -> f64 {
        self.apply(a)
    }

    /// The operation on `a` (the tree interpreter calls it too).
    #[inline(always)]
    pub(super) fn apply(self, a: f64) -> f64 {
        match self {
            Un::Neg => -a,
            Un::Not => f64::from(u8::from(!truthy(a))),
            Un::MinStart => f64::INFINITY.min(a),
            Un::MaxStart => f64::NEG_INFINITY.max(a),
            Un::Abs => a.abs(),
            Un::Exp => a.exp(),
            Un::Ln => a.ln(),
            Un::Log2 => a.log2(),
            Un::Log10 => a.log10(),
            Un::Sqrt => a.sqrt(),
            Un::Sin => a.sin(),
            Un::Cos => a.cos(),
            Un::Tan => a.tan(),
            Un::Tanh => a.tanh(),
            Un::Floor => floor(a),
            Un::Ceil => ceil(a),
            Un::Round => round_even(a),
            Un::Int => trunc(a),
        }
    }
}

/// The exponents below which `c ** n` comes from a table (computed by square-and-multiply,
/// as [`python_pow`] does).
const TABLED: usize = 64;

/// `c ** e` for a constant `c` with `0 < c < inf`, `c != 1` (see the module
/// documentation), as an instruction: `None` where `c ** e` keeps the general path.
fn pow_base(c: f64, powers: &mut Vec<f64>) -> Option<Inst> {
    if !(c > 0.0 && c < f64::INFINITY) || c == 1.0 {
        return None;
    }
    let bits = c.to_bits();
    let biased = (bits >> 52) as i32; // the sign bit is 0
    if bits & ((1 << 52) - 1) == 0 && biased > 0 {
        return Some(Inst::PowTwo(biased - 1023, c.ln()));
    }
    let at = u32::try_from(powers.len()).ok()?;
    powers.extend((0..TABLED as u64).map(|n| crate::fastmath::pow_int(c, n)));
    Some(Inst::PowTable(at, c.ln()))
}

/// `2^k ** e`, given `ln = ln 2^k`.
#[inline]
fn pow_two(k: i32, ln: f64, e: f64) -> f64 {
    let n = e as i64;
    if n as f64 == e {
        // |k| <= 1022, and beyond |n| = 2^11 the power is 0 or inf anyway.
        exp2_int(i64::from(k) * n.clamp(-1 << 11, 1 << 11))
    } else {
        (e * ln).exp()
    }
}

/// `c ** e` where `table[n] = c ** n` below [`TABLED`] and `ln = ln c`.
#[inline]
fn pow_table(table: &[f64], ln: f64, e: f64) -> f64 {
    let n = e as u64; // 0 for NaN and negative e
    match table.get(n as usize) {
        Some(&power) if n as f64 == e => power,
        _ => (e * ln).exp(),
    }
}

/// One instruction. `acc` is the value on top, held in a register; pushing spills it onto
/// the stack.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Inst {
    /// Push a number.
    Const(f64),
    /// Push the variable.
    Var,
    /// `acc = op(acc)`.
    Un(Un),
    /// `acc = pop() op acc`.
    Bin(Op),
    /// `acc = acc op c`.
    BinConst(Op, f64),
    /// `acc = c op acc`.
    ConstBin(f64, Op),
    /// `acc = c ** acc` for `c = 2^k`: `PowTwo(k, ln c)`.
    PowTwo(i32, f64),
    /// `acc = c ** acc` for another constant base: `PowTable(at, ln c)`, with `c ** n` at
    /// `powers[at + n]` for `n` below [`TABLED`].
    PowTable(u32, f64),
    /// The link of a chained comparison `l op acc` with `l` below `acc`: if it holds,
    /// drop `l` and go on with `acc`; else replace both by `0.0` and jump to the end of
    /// the chain.
    Chain(CmpOp, u32),
    /// `acc` falsy: keep it and jump (`and`); else drop it.
    AndJump(u32),
    /// `acc` truthy: keep it and jump (`or`); else drop it.
    OrJump(u32),
    /// Drop `acc`; jump if it was falsy (a conditional's condition).
    IfNotJump(u32),
    /// Drop `acc`; jump unless `acc op c` holds (a conditional's condition fused with a
    /// comparison to a number).
    IfNotCmpJump(CmpOp, f64, u32),
    /// Jump unless `x op c` holds (a conditional on the variable against a number:
    /// `... if step < 1000 else ...`).
    IfNotVarCmpJump(CmpOp, f64, u32),
    /// Jump.
    Jump(u32),
    // The commonest operations with a number, as instructions of their own so that they
    // cost one dispatch instead of two (see `Inst::flat`).
    /// `x + c`, pushed.
    VarAdd(f64),
    /// `x - c`, pushed.
    VarSub(f64),
    /// `x * c`, pushed.
    VarMul(f64),
    /// `x / c`, pushed.
    VarDiv(f64),
    /// `x // c`, pushed.
    VarFloorDiv(f64),
    /// `acc + c`.
    AddConst(f64),
    /// `acc - c`.
    SubConst(f64),
    /// `acc * c`.
    MulConst(f64),
    /// `acc / c`.
    DivConst(f64),
    /// `acc // c`.
    FloorDivConst(f64),
    /// `c + acc`.
    ConstAdd(f64),
    /// `c - acc`.
    ConstSub(f64),
    /// `c * acc`.
    ConstMul(f64),
    /// `c / acc`.
    ConstDiv(f64),
    /// `min(c, acc)`.
    ConstMin(f64),
    /// `max(c, acc)`.
    ConstMax(f64),
}

// Four instructions to a cache line, 16 bytes loaded per dispatch.
const _: () = assert!(std::mem::size_of::<Inst>() == 16);

impl Inst {
    /// The instruction of its own for a generic operation with a number, if there is one.
    fn flat(self) -> Inst {
        match self {
            Inst::BinConst(Op::Add, c) => Inst::AddConst(c),
            Inst::BinConst(Op::Sub, c) => Inst::SubConst(c),
            Inst::BinConst(Op::Mul, c) => Inst::MulConst(c),
            Inst::BinConst(Op::Div, c) => Inst::DivConst(c),
            Inst::BinConst(Op::FloorDiv, c) => Inst::FloorDivConst(c),
            Inst::ConstBin(c, Op::Add) => Inst::ConstAdd(c),
            Inst::ConstBin(c, Op::Sub) => Inst::ConstSub(c),
            Inst::ConstBin(c, Op::Mul) => Inst::ConstMul(c),
            Inst::ConstBin(c, Op::Div) => Inst::ConstDiv(c),
            Inst::ConstBin(c, Op::Min) => Inst::ConstMin(c),
            Inst::ConstBin(c, Op::Max) => Inst::ConstMax(c),
            other => other,
        }
    }

    /// `x op c` as one instruction, for the arithmetic that a loop cannot hoist: an
    /// operation on the variable alone (`ln x`, the squares of `x`) would be computed ahead
    /// of the loop at every evaluation, whether the program needs it or not.
    fn var_op(op: Op, c: f64) -> Option<Inst> {
        Some(match op {
            Op::Add => Inst::VarAdd(c),
            Op::Sub => Inst::VarSub(c),
            Op::Mul => Inst::VarMul(c),
            Op::Div => Inst::VarDiv(c),
            Op::FloorDiv => Inst::VarFloorDiv(c),
            _ => return None,
        })
    }
}

/// A compiled expression: run [`Program::eval`].
#[derive(Debug, Clone)]
pub(super) struct Program {
    code: Vec<Inst>,
    /// Tables of `c ** n`, for the [`Inst::PowTable`] instructions.
    powers: Vec<f64>,
}

/// A compile-time operand: a number (not emitted yet, so it can become an immediate) or
/// a value already computed on top of the stack.
#[derive(Clone, Copy)]
enum Operand {
    Const(f64),
    Emitted,
}

struct Compiler {
    code: Vec<Inst>,
    /// Values on the stack (with `acc`) at this point of the program.
    live: usize,
    max_live: usize,
    specialise_pow: bool,
    powers: Vec<f64>,
    /// The last jump target: instructions before it may not be fused with later ones.
    target: usize,
}

impl Program {
    /// Compiles a folded tree ([`Node::fold`](super::Node)); `None` if it needs more than
    /// [`STACK`] stack slots. `specialise_pow` enables the constant-base powers
    /// ([`Inst::PowTwo`], [`Inst::PowTable`]).
    pub(super) fn compile(root: &Node, specialise_pow: bool) -> Option<Program> {
        let mut c = Compiler {
            code: Vec::new(),
            live: 0,
            max_live: 0,
            specialise_pow,
            powers: Vec::new(),
            target: 0,
        };
        c.emit(root);
        debug_assert_eq!(c.live, 1);
        let fits = c.max_live <= STACK && u32::try_from(c.code.len()).is_ok();
        fits.then_some(Program {
            code: c.code,
            powers: c.powers,
        })
    }

    /// Whether the program is one number (the expression does not use its variable).
    pub(super) fn is_constant(&self) -> bool {
        matches!(self.code[..], [Inst::Const(_)])
    }

    /// The number of instructions.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.code.len()
    }

    /// Whether the program contains a constant-base power (its results may then differ
    /// from the tree interpreter's in the last bits).
    #[cfg(test)]
    pub(super) fn is_approximate(&self) -> bool {
        self.code
            .iter()
            .any(|inst| matches!(inst, Inst::PowTwo(..) | Inst::PowTable(..)))
    }

    /// The value at `x`.
    #[inline]
    pub(super) fn eval(&self, x: f64) -> f64 {
        let code = &self.code[..];
        let mut stack = [0.0_f64; STACK];
        // stack[..sp] holds the values below acc; the first push stores acc's initial
        // value (never read), so every push is the same store.
        let mut sp = 0;
        let mut acc = 0.0;
        let mut pc = 0;
        while let Some(&inst) = code.get(pc) {
            pc += 1;
            match inst {
                Inst::Const(c) => {
                    stack[sp] = acc;
                    sp += 1;
                    acc = c;
                }
                Inst::Var => {
                    stack[sp] = acc;
                    sp += 1;
                    acc = x;
                }
                Inst::Un(op) => acc = op.apply_outlined(acc),
                Inst::Bin(op) => {
                    sp -= 1;
                    acc = op.apply_outlined(stack[sp], acc);
                }
                Inst::BinConst(op, c) => acc = op.apply_outlined(acc, c),
                Inst::ConstBin(c, op) => acc = op.apply_outlined(c, acc),
                Inst::PowTwo(k, ln) => acc = pow_two(k, ln, acc),
                Inst::PowTable(at, ln) => {
                    let at = at as usize;
                    let table = self.powers.get(at..at + TABLED).unwrap_or_default();
                    acc = pow_table(table, ln, acc);
                }
                Inst::Chain(op, end) => {
                    sp -= 1;
                    if !op.holds(stack[sp], acc) {
                        acc = 0.0;
                        pc = end as usize;
                    }
                }
                Inst::AndJump(end) => {
                    if truthy(acc) {
                        sp -= 1;
                        acc = stack[sp];
                    } else {
                        pc = end as usize;
                    }
                }
                Inst::OrJump(end) => {
                    if truthy(acc) {
                        pc = end as usize;
                    } else {
                        sp -= 1;
                        acc = stack[sp];
                    }
                }
                Inst::IfNotJump(otherwise) => {
                    let cond = acc;
                    sp -= 1;
                    acc = stack[sp];
                    if !truthy(cond) {
                        pc = otherwise as usize;
                    }
                }
                Inst::IfNotCmpJump(op, c, otherwise) => {
                    let holds = op.holds(acc, c);
                    sp -= 1;
                    acc = stack[sp];
                    if !holds {
                        pc = otherwise as usize;
                    }
                }
                Inst::IfNotVarCmpJump(op, c, otherwise) => {
                    if !op.holds(x, c) {
                        pc = otherwise as usize;
                    }
                }
                Inst::Jump(to) => pc = to as usize,
                Inst::VarAdd(c) => {
                    stack[sp] = acc;
                    sp += 1;
                    acc = x + c;
                }
                Inst::VarSub(c) => {
                    stack[sp] = acc;
                    sp += 1;
                    acc = x - c;
                }
                Inst::VarMul(c) => {
                    stack[sp] = acc;
                    sp += 1;
                    acc = x * c;
                }
                Inst::VarDiv(c) => {
                    stack[sp] = acc;
                    sp += 1;
                    acc = x / c;
                }
                Inst::VarFloorDiv(c) => {
                    stack[sp] = acc;
                    sp += 1;
                    acc = Op::FloorDiv.apply(x, c);
                }
                Inst::AddConst(c) => acc += c,
                Inst::SubConst(c) => acc -= c,
                Inst::MulConst(c) => acc *= c,
                Inst::DivConst(c) => acc /= c,
                Inst::FloorDivConst(c) => acc = Op::FloorDiv.apply(acc, c),
                Inst::ConstAdd(c) => acc = Op::Add.apply(c, acc),
                Inst::ConstSub(c) => acc = c - acc,
                Inst::ConstMul(c) => acc = Op::Mul.apply(c, acc),
                Inst::ConstDiv(c) => acc = c / acc,
                Inst::ConstMin(c) => acc = Op::Min.apply(c, acc),
                Inst::ConstMax(c) => acc = Op::Max.apply(c, acc),
            }
        }
        acc
    }
}

impl Compiler {
    fn push(&mut self, inst: Inst) {
        self.code.push(inst.flat());
    }

    /// The last instruction, if the next one may be fused with it (no jump lands between
    /// them).
    fn last_fusable(&mut self) -> Option<&mut Inst> {
        if self.target < self.code.len() {
            self.code.last_mut()
        } else {
            None
        }
    }

    /// Records one more value on the stack.
    fn grow(&mut self) {
        self.live += 1;
        self.max_live = self.max_live.max(self.live);
    }

    /// The position of the next instruction, as a jump target.
    /// (Truncated past `u32::MAX` instructions, which [`Program::compile`] rejects.)
    fn here(&self) -> u32 {
        self.code.len() as u32
    }

    /// Points the jump at `at` to the next instruction.
    fn patch(&mut self, at: usize) {
        let to = self.here();
        self.target = self.code.len();
        match &mut self.code[at] {
            Inst::Chain(_, t)
            | Inst::AndJump(t)
            | Inst::OrJump(t)
            | Inst::IfNotJump(t)
            | Inst::IfNotCmpJump(_, _, t)
            | Inst::IfNotVarCmpJump(_, _, t)
            | Inst::Jump(t) => *t = to,
            other => unreachable!("patching {other:?}"),
        }
    }

    /// Compiles `node` so that its value ends on top of the stack.
    fn emit(&mut self, node: &Node) {
        let value = self.operand(node);
        self.materialise(value);
    }

    /// Puts `value` on top of the stack if it is not there yet.
    fn materialise(&mut self, value: Operand) {
        if let Operand::Const(c) = value {
            self.push(Inst::Const(c));
            self.grow();
        }
    }

    /// Compiles `node`, leaving a number as an operand for the instruction that uses it.
    fn operand(&mut self, node: &Node) -> Operand {
        match node {
            Node::Num(c) => Operand::Const(*c),
            Node::Var => {
                self.push(Inst::Var);
                self.grow();
                Operand::Emitted
            }
            Node::Neg(a) => {
                let a = self.operand(a);
                self.unary(Un::Neg, a)
            }
            Node::Not(a) => {
                let a = self.operand(a);
                self.unary(Un::Not, a)
            }
            Node::Bin(op, a, b) => {
                let a = self.operand(a);
                let b = self.operand(b);
                self.binary(Op::from(*op), a, b)
            }
            Node::Cmp(first, rest) => {
                let mut left = self.operand(first);
                let mut links = Vec::new();
                for (k, (op, node)) in rest.iter().enumerate() {
                    if k + 1 == rest.len() {
                        let right = self.operand(node);
                        left = self.binary(Op::Cmp(*op), left, right);
                    } else {
                        self.materialise(left);
                        self.emit(node);
                        links.push(self.code.len());
                        self.push(Inst::Chain(*op, 0));
                        self.live -= 1;
                        left = Operand::Emitted;
                    }
                }
                for at in links {
                    self.patch(at);
                }
                left
            }
            Node::And(a, b) | Node::Or(a, b) => {
                self.emit(a);
                let at = self.code.len();
                self.push(if matches!(node, Node::And(..)) {
                    Inst::AndJump(0)
                } else {
                    Inst::OrJump(0)
                });
                self.live -= 1;
                self.emit(b);
                self.patch(at);
                Operand::Emitted
            }
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                self.emit(cond);
                let n = self.code.len();
                match (
                    self.last_fusable().copied(),
                    self.code.get(n.wrapping_sub(2)),
                ) {
                    (Some(Inst::BinConst(Op::Cmp(op), c)), Some(Inst::Var))
                        if self.target < n - 1 =>
                    {
                        self.code.truncate(n - 2);
                        self.push(Inst::IfNotVarCmpJump(op, c, 0));
                    }
                    (Some(Inst::BinConst(Op::Cmp(op), c)), _) => {
                        self.code[n - 1] = Inst::IfNotCmpJump(op, c, 0);
                    }
                    _ => self.push(Inst::IfNotJump(0)),
                }
                let to_otherwise = self.code.len() - 1;
                self.live -= 1;
                self.emit(then);
                let to_end = self.code.len();
                self.push(Inst::Jump(0));
                self.live -= 1;
                self.patch(to_otherwise);
                self.emit(otherwise);
                self.patch(to_end);
                Operand::Emitted
            }
            Node::Call(func, args) => match func {
                Func::Min | Func::Max => {
                    let (start, step) = if *func == Func::Min {
                        (Un::MinStart, Op::Min)
                    } else {
                        (Un::MaxStart, Op::Max)
                    };
                    let first = self.operand(&args[0]);
                    let mut acc = self.unary(start, first);
                    for arg in &args[1..] {
                        let next = self.operand(arg);
                        acc = self.binary(step, acc, next);
                    }
                    acc
                }
                Func::Log if args.len() == 2 => self.call2(Op::LogBase, args),
                Func::Pow => self.call2(Op::Pow, args),
                Func::Float => self.operand(&args[0]),
                _ => {
                    let a = self.operand(&args[0]);
                    match Un::of(*func) {
                        Some(op) => self.unary(op, a),
                        None => unreachable!("{func:?} has one argument"),
                    }
                }
            },
        }
    }

    fn call2(&mut self, op: Op, args: &[Node]) -> Operand {
        let a = self.operand(&args[0]);
        let b = self.operand(&args[1]);
        self.binary(op, a, b)
    }

    fn unary(&mut self, op: Un, a: Operand) -> Operand {
        match a {
            Operand::Const(c) => Operand::Const(op.apply(c)),
            Operand::Emitted => {
                self.push(Inst::Un(op));
                Operand::Emitted
            }
        }
    }

    fn binary(&mut self, op: Op, a: Operand, b: Operand) -> Operand {
        match (a, b) {
            (Operand::Const(a), Operand::Const(b)) => return Operand::Const(op.apply(a, b)),
            (Operand::Emitted, Operand::Const(c)) => {
                match (self.last_fusable(), Inst::var_op(op, c)) {
                    (Some(last), Some(fused)) if *last == Inst::Var => *last = fused,
                    _ => self.push(Inst::BinConst(op, c)),
                }
            }
            (Operand::Const(c), Operand::Emitted) => {
                let pow = (op == Op::Pow && self.specialise_pow)
                    .then(|| pow_base(c, &mut self.powers))
                    .flatten();
                self.push(pow.unwrap_or(Inst::ConstBin(c, op)));
            }
            (Operand::Emitted, Operand::Emitted) => {
                self.push(Inst::Bin(op));
                self.live -= 1;
            }
        }
        Operand::Emitted
    }
}
