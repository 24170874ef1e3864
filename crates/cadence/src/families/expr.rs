//! [`Expr`]: a schedule written as a small, safe arithmetic expression of the step.

use std::fmt;

use crate::error::Error;
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

#[path = "expr_program.rs"]
mod program;
use program::{Op, Program, Un};

/// A schedule given as an expression of the step, in the subset of Python that
/// PyTorch users write in `LambdaLR` lambdas.
///
/// ```text
/// value(t) = expression evaluated with its variable bound to t
/// ```
///
/// The source may be a bare expression of `step`, `t` or `epoch`, or a Python lambda
/// `lambda e: ...` whose parameter names the variable. Supported, with Python's meaning and
/// precedence:
///
/// - numbers (`3`, `0.5`, `1e-3`, `10_000`), `True`, `False`, `pi`, `e` (`math.pi`, `math.e`);
/// - arithmetic `+ - * / // % **` (right-associative power, `-2**2 == -4`, floor division and
///   modulo with the sign of the divisor), unary `+ -`;
/// - comparisons `< <= > >= == !=`, chained as in Python (`0 < t < 5`), `and`, `or`, `not`
///   (returning operands as Python does), conditionals `a if cond else b`;
/// - functions `min`, `max` (two or more arguments), `abs`, `exp`, `log` (natural, or
///   `log(x, base)`), `log2`, `log10`, `sqrt`, `sin`, `cos`, `tan`, `tanh`, `pow`, `floor`,
///   `ceil`, `round` (half to even), `int` (truncation), `float`; each may be prefixed by
///   `math.`, `np.`, `numpy.` or `torch.`.
///
/// Anything else (strings, attribute access, subscripts, bit operations, other names) is
/// rejected with the column and the reason; nothing is guessed. Arithmetic is in `f64`.
/// Where Python would raise (division by zero, `sqrt(-1)`), the value is mapped to a
/// finite number (`±f64::MAX` for infinities, `0` for `NaN`) so the schedule stays total.
///
/// Parsing compiles the expression once (constant subexpressions folded) into a flat
/// program that evaluates without allocating, in about 10 ns for a typical lambda. It
/// gives the bits a plain interpretation would, except for a constant base to a variable
/// power (`0.95 ** epoch`): exact at integer exponents below 64 (and at every integer
/// exponent for a base that is a power of two, as in `0.5 ** (step // 1000)`), elsewhere
/// `exp(e ln c)`, within a relative `(|e ln c| + 4) * 2^-52` of `pow`.
///
/// # Parameters
/// - `source`: the expression text.
///
/// # Errors
/// [`Error::Expression`] with the 1-based column and a message for any unsupported or
/// malformed syntax.
///
/// # Examples
///
/// ```
/// use cadence::{Expr, Schedule};
///
/// let warm = Expr::parse("lambda epoch: min(1.0, (epoch + 1) / 10)")?;
/// assert_eq!(warm.value(0), 0.1);
/// assert_eq!(warm.value(4), 0.5);
/// assert_eq!(warm.value(50), 1.0);
///
/// let decay = Expr::parse("0.95 ** step")?;
/// assert!((decay.value(2) - 0.9025).abs() < 1e-15);
///
/// let err = Expr::parse("lambda e: e.bit_length()").unwrap_err();
/// assert!(err.to_string().contains("column 11"), "{err}");
/// # Ok::<(), cadence::Error>(())
/// ```
///
/// # References
/// `torch.optim.lr_scheduler.LambdaLR`; the Python language reference, "Expressions".
#[derive(Clone)]
pub struct Expr {
    source: String,
    compiled: Compiled,
}

/// How an [`Expr`] is evaluated: the compiled program, or (for an expression too deeply
/// nested for the program's stack) the folded syntax tree.
#[derive(Clone)]
enum Compiled {
    Program(Program),
    Tree(Node),
}

impl Compiled {
    fn new(root: Node) -> Self {
        let root = root.fold();
        match Program::compile(&root, true) {
            Some(program) => Compiled::Program(program),
            None => Compiled::Tree(root),
        }
    }

    #[inline]
    fn eval(&self, x: f64) -> f64 {
        match self {
            Compiled::Program(program) => program.eval(x),
            Compiled::Tree(root) => root.eval(x),
        }
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Expr {
    /// Parses an expression; see the type's documentation for the language.
    ///
    /// # Errors
    /// [`Error::Expression`] naming the column and what is wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Expr, Schedule};
    ///
    /// let s = Expr::parse("0.1 if step < 10 else 0.01")?;
    /// assert_eq!(s.value(9), 0.1);
    /// assert_eq!(s.value(10), 0.01);
    /// assert!(Expr::parse("step +").is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn parse(source: &str) -> Result<Self, Error> {
        let root = Parser::new(source)?.parse_source()?;
        Ok(Expr {
            source: source.to_owned(),
            compiled: Compiled::new(root),
        })
    }

    /// The source text as given.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::Expr::parse("2 * t")?.source(), "2 * t");
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression does not depend on its variable (so it is a constant, as in
    /// `lambda epoch: 0.95`).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Expr;
    ///
    /// assert!(Expr::parse("lambda epoch: 0.95")?.is_constant());
    /// assert!(!Expr::parse("lambda epoch: 0.95 ** epoch")?.is_constant());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn is_constant(&self) -> bool {
        match &self.compiled {
            Compiled::Program(program) => program.is_constant(),
            Compiled::Tree(root) => !root.uses_var(),
        }
    }

    /// Evaluates the expression at a real value of its variable, without the finiteness
    /// mapping of [`Schedule::value_at`] (so a caller can tell where Python would raise).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Expr;
    ///
    /// let s = Expr::parse("1 / t")?;
    /// assert_eq!(s.eval(4.0), 0.25);
    /// assert!(s.eval(0.0).is_infinite());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn eval(&self, x: f64) -> f64 {
        self.compiled.eval(x)
    }
}

impl Validate for Expr {
    fn validate(&self) -> Result<(), Error> {
        // Parsing is the validation; an `Expr` only exists parsed.
        Ok(())
    }
}

impl Schedule for Expr {
    #[inline]
    fn value(&self, step: u64) -> f64 {
        finite_or_saturate(self.compiled.eval(step as f64))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = if t.is_nan() { 0.0 } else { t.max(0.0) };
        finite_or_saturate(self.compiled.eval(t))
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::Expr;

    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Repr {
        source: String,
    }

    impl serde::Serialize for Expr {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            Repr {
                source: self.source.clone(),
            }
            .serialize(s)
        }
    }

    impl<'de> serde::Deserialize<'de> for Expr {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let repr = Repr::deserialize(d)?;
            Expr::parse(&repr.source).map_err(serde::de::Error::custom)
        }
    }
}

// ----------------------------------------------------------------------------------------
// Syntax tree and evaluation

#[derive(Debug, Clone, Copy, PartialEq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Min,
    Max,
    Abs,
    Exp,
    Log,
    Log2,
    Log10,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Tanh,
    Pow,
    Floor,
    Ceil,
    Round,
    Int,
    Float,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "min" => Func::Min,
            "max" => Func::Max,
            "abs" | "fabs" => Func::Abs,
            "exp" => Func::Exp,
            "log" => Func::Log,
            "log2" => Func::Log2,
            "log10" => Func::Log10,
            "sqrt" => Func::Sqrt,
            "sin" => Func::Sin,
            "cos" => Func::Cos,
            "tan" => Func::Tan,
            "tanh" => Func::Tanh,
            "pow" => Func::Pow,
            "floor" => Func::Floor,
            "ceil" => Func::Ceil,
            "round" => Func::Round,
            "int" => Func::Int,
            "float" => Func::Float,
            _ => return None,
        })
    }

    /// Allowed argument counts, inclusive.
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Min | Func::Max => (2, usize::MAX),
            Func::Log => (1, 2),
            Func::Pow => (2, 2),
            _ => (1, 1),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Num(f64),
    Var,
    Neg(Box<Node>),
    Not(Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>),
    /// `first op0 rest0 op1 rest1 ...`, Python's chained comparison.
    Cmp(Box<Node>, Vec<(CmpOp, Node)>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    If {
        cond: Box<Node>,
        then: Box<Node>,
        otherwise: Box<Node>,
    },
    Call(Func, Vec<Node>),
}

fn truthy(x: f64) -> bool {
    x != 0.0
}

fn python_mod(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 && (r < 0.0) != (b < 0.0) {
        r + b
    } else {
        r
    }
}

/// `a ** b`: by square-and-multiply for the common small non-negative integer `b` (a
/// decay factor to the number of decays; exact where `powi` is, within an ulp or two of
/// libm's `pow` elsewhere), `powf` otherwise.
fn python_pow(a: f64, b: f64) -> f64 {
    let n = b as u64;
    if n < 64 && n as f64 == b {
        crate::fastmath::pow_int(a, n)
    } else {
        a.powf(b)
    }
}

impl Node {
    fn uses_var(&self) -> bool {
        match self {
            Node::Num(_) => false,
            Node::Var => true,
            Node::Neg(a) | Node::Not(a) => a.uses_var(),
            Node::Bin(_, a, b) | Node::And(a, b) | Node::Or(a, b) => a.uses_var() || b.uses_var(),
            Node::Cmp(first, rest) => first.uses_var() || rest.iter().any(|(_, n)| n.uses_var()),
            Node::If {
                cond,
                then,
                otherwise,
            } => cond.uses_var() || then.uses_var() || otherwise.uses_var(),
            Node::Call(_, args) => args.iter().any(Node::uses_var),
        }
    }

    /// The tree with every subtree that does not use the variable replaced by its value
    /// (computed by [`Node::eval`], so evaluation gives the same bits), and a conditional,
    /// `and` or `or` whose condition is such a constant replaced by the operand it picks.
    fn fold(self) -> Node {
        let num = |n: &Node| match n {
            Node::Num(v) => Some(*v),
            _ => None,
        };
        let node = match self {
            Node::Num(_) | Node::Var => return self,
            Node::Neg(a) => Node::Neg(Box::new(a.fold())),
            Node::Not(a) => Node::Not(Box::new(a.fold())),
            Node::Bin(op, a, b) => Node::Bin(op, Box::new(a.fold()), Box::new(b.fold())),
            Node::Cmp(first, rest) => Node::Cmp(
                Box::new(first.fold()),
                rest.into_iter().map(|(op, n)| (op, n.fold())).collect(),
            ),
            Node::And(a, b) => match a.fold() {
                Node::Num(v) if truthy(v) => return b.fold(),
                Node::Num(v) => return Node::Num(v),
                a => Node::And(Box::new(a), Box::new(b.fold())),
            },
            Node::Or(a, b) => match a.fold() {
                Node::Num(v) if truthy(v) => return Node::Num(v),
                Node::Num(_) => return b.fold(),
                a => Node::Or(Box::new(a), Box::new(b.fold())),
            },
            Node::If {
                cond,
                then,
                otherwise,
            } => match cond.fold() {
                Node::Num(v) if truthy(v) => return then.fold(),
                Node::Num(_) => return otherwise.fold(),
                cond => Node::If {
                    cond: Box::new(cond),
                    then: Box::new(then.fold()),
                    otherwise: Box::new(otherwise.fold()),
                },
            },
            Node::Call(func, args) => Node::Call(func, args.into_iter().map(Node::fold).collect()),
        };
        let constant = match &node {
            Node::Neg(a) | Node::Not(a) => num(a).is_some(),
            Node::Bin(_, a, b) | Node::And(a, b) | Node::Or(a, b) => {
                num(a).is_some() && num(b).is_some()
            }
            Node::Cmp(first, rest) => {
                num(first).is_some() && rest.iter().all(|(_, n)| num(n).is_some())
            }
            Node::If { .. } => false,
            Node::Call(_, args) => args.iter().all(|n| num(n).is_some()),
            Node::Num(_) | Node::Var => unreachable!("returned above"),
        };
        if constant {
            Node::Num(node.eval(0.0))
        } else {
            node
        }
    }

    /// The value at `x` by walking the tree: the reference for the compiled [`Program`],
    /// and the evaluator of an expression too deep for it.
    fn eval(&self, x: f64) -> f64 {
        match self {
            Node::Num(v) => *v,
            Node::Var => x,
            Node::Neg(a) => Un::Neg.apply(a.eval(x)),
            Node::Not(a) => Un::Not.apply(a.eval(x)),
            Node::Bin(op, a, b) => Op::from(*op).apply(a.eval(x), b.eval(x)),
            Node::Cmp(first, rest) => {
                let mut left = first.eval(x);
                for (op, node) in rest {
                    let right = node.eval(x);
                    if !op.holds(left, right) {
                        return 0.0;
                    }
                    left = right;
                }
                1.0
            }
            Node::And(a, b) => {
                let a = a.eval(x);
                if truthy(a) { b.eval(x) } else { a }
            }
            Node::Or(a, b) => {
                let a = a.eval(x);
                if truthy(a) { a } else { b.eval(x) }
            }
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                if truthy(cond.eval(x)) {
                    then.eval(x)
                } else {
                    otherwise.eval(x)
                }
            }
            Node::Call(func, args) => {
                let arg = |i: usize| args[i].eval(x);
                match func {
                    Func::Min => args.iter().map(|n| n.eval(x)).fold(f64::INFINITY, f64::min),
                    Func::Max => args
                        .iter()
                        .map(|n| n.eval(x))
                        .fold(f64::NEG_INFINITY, f64::max),
                    Func::Log if args.len() == 2 => Op::LogBase.apply(arg(0), arg(1)),
                    Func::Pow => Op::Pow.apply(arg(0), arg(1)),
                    Func::Float => arg(0),
                    _ => match Un::of(*func) {
                        Some(op) => op.apply(arg(0)),
                        None => unreachable!("{func:?} has one argument"),
                    },
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Op(&'static str),
    End,
}

/// The operators, longest first so that `**` wins over `*`.
const OPERATORS: &[&str] = &[
    "**", "//", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "<", ">", "(", ")", ",", ":", ".",
];

fn expr_error(column: usize, message: impl Into<String>) -> Error {
    Error::Expression {
        column,
        message: message.into(),
    }
}

fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>, Error> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '_'
                    || chars[i] == '.'
                    || (matches!(chars[i], '+' | '-') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let clean = text.replace('_', "");
            let bad = text.starts_with('_') || text.ends_with('_') || text.contains("__");
            match clean.parse::<f64>() {
                Ok(v) if !bad && !clean.contains(['x', 'X', 'o', 'O', 'b', 'B', 'j', 'J']) => {
                    out.push((Tok::Num(v), column))
                }
                _ => {
                    return Err(expr_error(
                        column,
                        format!("`{text}` is not a supported number"),
                    ));
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Name(chars[start..i].iter().collect()), column));
        } else if let Some(op) = OPERATORS.iter().find(|op| {
            op.chars()
                .enumerate()
                .all(|(k, oc)| chars.get(i + k) == Some(&oc))
        }) {
            out.push((Tok::Op(op), column));
            i += op.len();
        } else {
            let what = match c {
                '[' | ']' => "subscripts and lists are not supported",
                '\'' | '"' => "strings are not supported",
                '&' | '|' | '^' | '~' => "bit operations are not supported",
                '=' => "assignment is not supported (did you mean `==`?)",
                _ => "unexpected character",
            };
            return Err(expr_error(column, format!("`{c}`: {what}")));
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

// ----------------------------------------------------------------------------------------
// Parser: recursive descent following Python's grammar for expressions.

/// Names accepted as the variable of a bare (non-lambda) expression.
const BARE_VARIABLES: &[&str] = &["step", "t", "epoch"];
/// Module prefixes accepted before a function or constant name.
const MODULES: &[&str] = &["math", "np", "numpy", "torch"];
/// Nesting limit, so that hostile input cannot overflow the stack. Each operator of a
/// left-associative chain (`a + b + c`) counts as one level, as it nests the tree.
const MAX_DEPTH: usize = 200;

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    variable: Option<String>,
    depth: usize,
}

impl Parser {
    fn new(src: &str) -> Result<Self, Error> {
        Ok(Parser {
            toks: tokenize(src)?,
            pos: 0,
            variable: None,
            depth: 0,
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn column(&self) -> usize {
        self.toks[self.pos].1
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Tok::Op(o) if *o == op) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_name(&mut self, name: &str) -> bool {
        if matches!(self.peek(), Tok::Name(n) if n == name) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<(), Error> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(expr_error(
                self.column(),
                format!("expected `{op}`, found {}", describe(self.peek())),
            ))
        }
    }

    fn parse_source(&mut self) -> Result<Node, Error> {
        if self.eat_name("lambda") {
            let column = self.column();
            match self.bump() {
                Tok::Name(n) if !is_keyword(&n) => self.variable = Some(n),
                other => {
                    return Err(expr_error(
                        column,
                        format!(
                            "expected the lambda's one parameter name, found {}",
                            describe(&other)
                        ),
                    ));
                }
            }
            if *self.peek() == Tok::Op(",") {
                return Err(expr_error(
                    self.column(),
                    "the lambda must take exactly one parameter",
                ));
            }
            self.expect_op(":")?;
        }
        let node = self.test()?;
        if *self.peek() != Tok::End {
            return Err(expr_error(
                self.column(),
                format!(
                    "unexpected {} after a complete expression",
                    describe(self.peek())
                ),
            ));
        }
        Ok(node)
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(expr_error(self.column(), "expression nested too deeply"))
        } else {
            Ok(())
        }
    }

    /// One more operator of a left-associative chain (`a + b + c`): each nests the tree
    /// one level deeper, so it counts against [`MAX_DEPTH`] until the chain ends (the
    /// caller subtracts `links`), and a long chain cannot overflow the stack of the
    /// recursive passes over the tree.
    fn link(&mut self, links: &mut usize) -> Result<(), Error> {
        *links += 1;
        self.enter()
    }

    /// `test := or_test ['if' or_test 'else' test]`
    fn test(&mut self) -> Result<Node, Error> {
        self.enter()?;
        let then = self.or_test()?;
        let node = if self.eat_name("if") {
            let cond = self.or_test()?;
            if !self.eat_name("else") {
                return Err(expr_error(
                    self.column(),
                    format!(
                        "expected `else` in a conditional expression, found {}",
                        describe(self.peek())
                    ),
                ));
            }
            let otherwise = self.test()?;
            Node::If {
                cond: Box::new(cond),
                then: Box::new(then),
                otherwise: Box::new(otherwise),
            }
        } else {
            then
        };
        self.depth -= 1;
        Ok(node)
    }

    fn or_test(&mut self) -> Result<Node, Error> {
        let mut node = self.and_test()?;
        let mut links = 0;
        while self.eat_name("or") {
            self.link(&mut links)?;
            node = Node::Or(Box::new(node), Box::new(self.and_test()?));
        }
        self.depth -= links;
        Ok(node)
    }

    fn and_test(&mut self) -> Result<Node, Error> {
        let mut node = self.not_test()?;
        let mut links = 0;
        while self.eat_name("and") {
            self.link(&mut links)?;
            node = Node::And(Box::new(node), Box::new(self.not_test()?));
        }
        self.depth -= links;
        Ok(node)
    }

    fn not_test(&mut self) -> Result<Node, Error> {
        if self.eat_name("not") {
            self.enter()?;
            let inner = self.not_test()?;
            self.depth -= 1;
            Ok(Node::Not(Box::new(inner)))
        } else {
            self.comparison()
        }
    }

    fn comparison(&mut self) -> Result<Node, Error> {
        let first = self.arith()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op("<") => CmpOp::Lt,
                Tok::Op("<=") => CmpOp::Le,
                Tok::Op(">") => CmpOp::Gt,
                Tok::Op(">=") => CmpOp::Ge,
                Tok::Op("==") => CmpOp::Eq,
                Tok::Op("!=") => CmpOp::Ne,
                Tok::Name(n) if n == "in" || n == "is" => {
                    return Err(expr_error(self.column(), format!("`{n}` is not supported")));
                }
                _ => break,
            };
            self.bump();
            rest.push((op, self.arith()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Node::Cmp(Box::new(first), rest)
        })
    }

    fn arith(&mut self) -> Result<Node, Error> {
        let mut node = self.term()?;
        let mut links = 0;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => break,
            };
            self.bump();
            self.link(&mut links)?;
            node = Node::Bin(op, Box::new(node), Box::new(self.term()?));
        }
        self.depth -= links;
        Ok(node)
    }

    fn term(&mut self) -> Result<Node, Error> {
        let mut node = self.factor()?;
        let mut links = 0;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("//") => BinOp::FloorDiv,
                Tok::Op("%") => BinOp::Mod,
                _ => break,
            };
            self.bump();
            self.link(&mut links)?;
            node = Node::Bin(op, Box::new(node), Box::new(self.factor()?));
        }
        self.depth -= links;
        Ok(node)
    }

    /// `factor := ('+'|'-') factor | power`
    fn factor(&mut self) -> Result<Node, Error> {
        self.enter()?;
        let node = if self.eat_op("-") {
            Node::Neg(Box::new(self.factor()?))
        } else if self.eat_op("+") {
            self.factor()?
        } else {
            self.power()?
        };
        self.depth -= 1;
        Ok(node)
    }

    /// `power := atom ['**' factor]` (right-associative, binds tighter than a unary minus
    /// on its left).
    fn power(&mut self) -> Result<Node, Error> {
        let base = self.atom()?;
        if self.eat_op("**") {
            let exponent = self.factor()?;
            Ok(Node::Bin(BinOp::Pow, Box::new(base), Box::new(exponent)))
        } else {
            Ok(base)
        }
    }

    fn atom(&mut self) -> Result<Node, Error> {
        let column = self.column();
        match self.bump() {
            Tok::Num(v) => Ok(Node::Num(v)),
            Tok::Op("(") => {
                let inner = self.test()?;
                if *self.peek() == Tok::Op(",") {
                    return Err(expr_error(self.column(), "tuples are not supported"));
                }
                self.expect_op(")")?;
                Ok(inner)
            }
            Tok::Name(name) => self.named(name, column),
            other => Err(expr_error(
                column,
                format!(
                    "expected a number, a name or `(`, found {}",
                    describe(&other)
                ),
            )),
        }
    }

    fn named(&mut self, name: String, column: usize) -> Result<Node, Error> {
        if name == "lambda" {
            return Err(expr_error(column, "`lambda` is only allowed at the start"));
        }
        if is_keyword(&name) {
            return Err(expr_error(column, format!("unexpected keyword `{name}`")));
        }
        // A module prefix: math.exp, np.cos, ...
        let (qualified, name) = if *self.peek() == Tok::Op(".") {
            if !MODULES.contains(&name.as_str()) {
                return Err(expr_error(
                    column,
                    format!("attribute access on `{name}` is not supported"),
                ));
            }
            self.bump();
            let attr_col = self.column();
            match self.bump() {
                Tok::Name(attr) => (true, attr),
                other => {
                    return Err(expr_error(
                        attr_col,
                        format!("expected a name after `.`, found {}", describe(&other)),
                    ));
                }
            }
        } else {
            (false, name)
        };
        if *self.peek() == Tok::Op("(") {
            let Some(func) = Func::from_name(&name) else {
                return Err(expr_error(column, format!("unknown function `{name}`")));
            };
            self.bump();
            let mut args = Vec::new();
            if *self.peek() != Tok::Op(")") {
                loop {
                    args.push(self.test()?);
                    if !self.eat_op(",") || *self.peek() == Tok::Op(")") {
                        break;
                    }
                }
            }
            self.expect_op(")")?;
            let (lo, hi) = func.arity();
            if args.len() < lo || args.len() > hi {
                return Err(expr_error(
                    column,
                    format!(
                        "`{name}` takes {} arguments, got {}",
                        arity_text(lo, hi),
                        args.len()
                    ),
                ));
            }
            return Ok(Node::Call(func, args));
        }
        match name.as_str() {
            "pi" => return Ok(Node::Num(std::f64::consts::PI)),
            "e" if qualified || !self.is_variable("e") => {
                return Ok(Node::Num(std::f64::consts::E));
            }
            "inf" if qualified => return Ok(Node::Num(f64::INFINITY)),
            "True" => return Ok(Node::Num(1.0)),
            "False" => return Ok(Node::Num(0.0)),
            _ => {}
        }
        if !qualified && self.is_variable(&name) {
            return Ok(Node::Var);
        }
        let expected = match &self.variable {
            Some(v) => format!("`{v}`"),
            None => "`step`, `t` or `epoch`".to_owned(),
        };
        Err(expr_error(
            column,
            format!("unknown name `{name}` (the variable is {expected})"),
        ))
    }

    fn is_variable(&self, name: &str) -> bool {
        match &self.variable {
            Some(v) => v == name,
            None => BARE_VARIABLES.contains(&name),
        }
    }
}

fn arity_text(lo: usize, hi: usize) -> String {
    match (lo, hi) {
        (lo, usize::MAX) => format!("at least {lo}"),
        (lo, hi) if lo == hi => format!("{lo}"),
        (lo, hi) => format!("{lo} to {hi}"),
    }
}

fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "lambda"
            | "if"
            | "else"
            | "and"
            | "or"
            | "not"
            | "in"
            | "is"
            | "for"
            | "None"
            | "def"
            | "return"
    )
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Num(v) => format!("the number {v}"),
        Tok::Name(n) => format!("`{n}`"),
        Tok::Op(o) => format!("`{o}`"),
        Tok::End => "the end of the expression".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_values, close};
    use proptest::prelude::*;

    fn ev(src: &str, x: f64) -> f64 {
        Expr::parse(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .eval(x)
    }

    #[test]
    fn python_precedence_and_semantics() {
        assert_eq!(ev("-2**2", 0.0), -4.0);
        assert_eq!(ev("2**-1", 0.0), 0.5);
        assert_eq!(ev("2**3**2", 0.0), 512.0);
        assert_eq!(ev("-7 // 2", 0.0), -4.0);
        assert_eq!(ev("-7 % 3", 0.0), 2.0);
        assert_eq!(ev("7 % -3", 0.0), -2.0);
        assert_eq!(ev("1 + 2 * 3 - 4 / 2", 0.0), 5.0);
        assert_eq!(ev("(1 + 2) * 3", 0.0), 9.0);
        assert_eq!(ev("not 0 and 3", 0.0), 3.0);
        assert_eq!(ev("0 or 5", 0.0), 5.0);
        assert_eq!(ev("1 if 0 < t < 5 else 2", 3.0), 1.0);
        assert_eq!(ev("1 if 0 < t < 5 else 2", 5.0), 2.0);
        assert_eq!(ev("1 if t else 2 if t == 0 else 3", 0.0), 2.0);
        assert_eq!(ev("round(2.5) + round(3.5)", 0.0), 6.0);
        assert_eq!(ev("int(-2.7)", 0.0), -2.0);
        assert!(close(ev("math.log(8, 2)", 0.0), 3.0, 1e-15));
        assert!(close(ev("math.cos(math.pi * t / 10)", 10.0), -1.0, 1e-15));
        assert_eq!(ev("max(1, t, 3)", 7.0), 7.0);
        assert_eq!(ev("1_000 * 1e-3", 0.0), 1.0);
        assert_eq!(ev("lambda e: e + 1", 2.0), 3.0);
        assert!(close(
            ev("lambda ep: e ** 1", 0.0),
            std::f64::consts::E,
            1e-15
        ));
    }

    #[test]
    fn torch_lambda_examples() {
        let s = Expr::parse("lambda epoch: min(1.0, (epoch + 1) / 10)").unwrap();
        assert_values(&s, &[(0, 0.1), (8, 0.9), (9, 1.0), (u64::MAX, 1.0)], 1e-15);
        let s = Expr::parse("lambda epoch: 0.95 ** epoch").unwrap();
        assert_values(&s, &[(0, 1.0), (3, 0.857375)], 1e-14);
        assert_eq!(s.value(u64::MAX), 0.0);
        assert!(Expr::parse("lambda epoch: 0.95").unwrap().is_constant());
    }

    #[test]
    fn unsupported_syntax_is_a_clear_error() {
        for (src, col, needle) in [
            ("step +", 7, "end of the expression"),
            ("lambda a, b: a", 9, "exactly one parameter"),
            ("foo(step)", 1, "unknown function `foo`"),
            ("x * 2", 1, "unknown name `x`"),
            ("lambda e: epoch", 11, "the variable is `e`"),
            ("step[0]", 5, "subscripts"),
            ("'a'", 1, "strings"),
            ("step & 1", 6, "bit operations"),
            ("os.system(1)", 1, "attribute access"),
            ("min(step)", 1, "at least 2"),
            ("1 if step", 10, "expected `else`"),
            ("0x10", 1, "not a supported number"),
            ("step = 1", 6, "`==`"),
        ] {
            let err = Expr::parse(src).unwrap_err();
            let Error::Expression { column, message } = &err else {
                panic!("{src}: {err:?}")
            };
            assert_eq!(*column, col, "{src}: {err}");
            assert!(message.contains(needle), "{src}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(Expr::parse(&src).is_err());
        let src = format!("{}1", "-".repeat(10_000));
        assert!(Expr::parse(&src).is_err());
    }

    #[test]
    fn long_flat_chains_are_an_error_not_a_crash() {
        let chain = |op: &str, n: usize| format!("t{}", format!(" {op} 1").repeat(n));
        for op in ["+", "*", "//", "and", "or"] {
            let err = Expr::parse(&chain(op, 100_000)).unwrap_err();
            assert!(err.to_string().contains("nested too deeply"), "{op}: {err}");
            assert!(Expr::parse(&chain(op, 150)).unwrap().value(3).is_finite());
        }
        // A chained comparison is a list, not a nesting: any length evaluates.
        assert_eq!(Expr::parse(&chain("<=", 100_000)).unwrap().value(0), 1.0);
        assert_eq!(Expr::parse(&chain("<=", 100_000)).unwrap().value(3), 0.0);
    }

    #[test]
    fn total_even_where_python_raises() {
        let s = Expr::parse("1 / (step - 3)").unwrap();
        assert_eq!(s.value(3), f64::MAX);
        let s = Expr::parse("sqrt(-1 - step)").unwrap();
        assert_eq!(s.value(0), 0.0);
        assert_eq!(s.value_at(f64::NAN), 0.0);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        let spec = crate::ScheduleSpec::from(Expr::parse("0.5 ** (step // 10)").unwrap());
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, r#"{"type":"expr","source":"0.5 ** (step // 10)"}"#);
        let back: crate::ScheduleSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        assert!(
            serde_json::from_str::<crate::ScheduleSpec>(r#"{"type":"expr","source":"step +"}"#)
                .is_err()
        );
    }

    /// The tree exactly as parsed (unfolded): the reference the compiled program must match.
    fn parsed(src: &str) -> Node {
        Parser::new(src)
            .and_then(|mut p| p.parse_source())
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    /// The same value: equal bits, or both NaN (a NaN's payload carries no meaning here,
    /// and the schedule maps every NaN to 0).
    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Well-formed expressions of `t` over every operator, function and constant of the
    /// language, nested up to five levels.
    fn expression() -> impl Strategy<Value = String> {
        let leaf = prop::sample::select(vec![
            "t", "t", "t", "0", "1", "2", "3", "7", "0.5", "0.25", "0.95", "0.1", "2.5", "1000",
            "1e-3", "1e6", "pi", "e", "True", "False", "-1",
        ])
        .prop_map(str::to_owned);
        let binary = || {
            prop::sample::select(vec![
                "+", "-", "*", "/", "//", "%", "**", "<", "<=", ">", ">=", "==", "!=", "and", "or",
            ])
        };
        let cmp = || prop::sample::select(vec!["<", "<=", ">", ">=", "==", "!="]);
        let unary_fn = prop::sample::select(vec![
            "abs",
            "exp",
            "log",
            "log2",
            "log10",
            "sqrt",
            "sin",
            "cos",
            "tan",
            "tanh",
            "floor",
            "ceil",
            "round",
            "int",
            "float",
            "math.floor",
            "np.exp",
        ]);
        let binary_fn = prop::sample::select(vec!["min", "max", "pow", "log"]);
        leaf.prop_recursive(5, 64, 3, move |inner| {
            prop_oneof![
                4 => (inner.clone(), binary(), inner.clone())
                    .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
                1 => (inner.clone(), binary(), inner.clone())
                    .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
                1 => (prop::sample::select(vec!["-", "+", "not "]), inner.clone())
                    .prop_map(|(op, a)| format!("({op}{a})")),
                1 => (inner.clone(), cmp(), inner.clone(), cmp(), inner.clone())
                    .prop_map(|(a, p, b, q, c)| format!("({a} {p} {b} {q} {c})")),
                2 => (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("({a} if {b} else {c})")),
                2 => (unary_fn.clone(), inner.clone()).prop_map(|(f, a)| format!("{f}({a})")),
                1 => (binary_fn.clone(), inner.clone(), inner.clone())
                    .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
                1 => (prop::sample::select(vec!["min", "max"]), inner.clone(), inner.clone(), inner)
                    .prop_map(|(f, a, b, c)| format!("{f}({a}, {b}, {c})")),
            ]
        })
    }

    /// Values of the variable: steps (0, boundaries of the numbers above, `u64::MAX`),
    /// reals, negatives, infinities and NaN.
    fn variable() -> impl Strategy<Value = f64> {
        prop_oneof![
            prop::sample::select(vec![
                0.0,
                -0.0,
                0.5,
                1.0,
                2.0,
                3.0,
                7.0,
                999.0,
                1000.0,
                1001.0,
                4_503_599_627_370_496.0,
                u64::MAX as f64,
                -1.0,
                -2.5,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
            ]),
            (0u64..3_000).prop_map(|t| t as f64),
            any::<u64>().prop_map(|t| t as f64),
            -10.0..10.0,
        ]
    }

    /// Compiles `root` as [`Expr::parse`] does, with or without the pow specialisation.
    fn compile(root: &Node, specialise_pow: bool) -> Option<Program> {
        Program::compile(&root.clone().fold(), specialise_pow)
    }

    #[test]
    fn compiled_programs_at_telling_cases() {
        for (src, x) in [
            ("(5 if t < 3 else t) + 1", 1.0),
            ("(5 if t < 3 else t) + 1", 4.0),
            ("2 if (9 if t < 2 else t) < 5 else 3", 1.0),
            ("2 if (9 if t < 2 else t) < 5 else 3", 3.0),
            ("2 if (1 if t < 2 else t) else 3", 0.0),
            ("(t and 2) + 1", 0.0),
            ("(t or 2) * 3", 0.0),
            ("(0 < t < 5) + 1", 7.0),
            ("(0 < t < 5 < 9) * 2", 3.0),
            ("1 if 0 < t < 5 else 2 if t == 9 else 3", 9.0),
            ("min(t, 3, 2 * t)", 1.0),
            ("max(1, 2, t) - min(0.5, t)", 0.25),
            ("t // 0", 3.0),
            ("-t // 2 + t % -3", 7.0),
            ("0.5 ** (t // 1000)", 123_456.0),
            ("2 ** -t", 1074.0),
            ("(1 - t / 100) ** 0.9", 10.0),
            ("not t == 3", 3.0),
        ] {
            let root = parsed(src);
            let want = root.eval(x);
            let got = Expr::parse(src).unwrap().eval(x);
            assert!(same(got, want), "{src} at {x}: {got} vs {want}");
        }
    }

    #[test]
    fn typical_lambdas_compile_to_a_few_instructions() {
        for (src, len) in [
            ("0.1 * 0.5 ** (step // 1000)", 3),
            ("lambda step: min(1.0, (step + 1) / 1000)", 3),
            ("lambda epoch: 0.95 ** epoch", 2),
            ("lambda e: 1 - e / 100 if e < 100 else 0.0", 5),
            ("lambda e: 2 ** 10 * e", 2),
        ] {
            let Compiled::Program(p) = Expr::parse(src).unwrap().compiled else {
                panic!("{src} is not compiled")
            };
            assert_eq!(p.len(), len, "{src}: {p:?}");
        }
    }

    #[test]
    fn constant_subtrees_fold() {
        let e = Expr::parse("lambda e: 2 ** 10 * (3 if True else e)").unwrap();
        assert!(e.is_constant());
        assert_eq!(e.value(5), 3072.0);
        assert!(Expr::parse("0 and t").unwrap().is_constant());
        assert!(!Expr::parse("1 and t").unwrap().is_constant());
        // Folding evaluates with the same functions as evaluation does.
        let root = parsed("math.cos(pi / 3) * t");
        let Node::Bin(_, folded, _) = root.clone().fold() else {
            panic!("{root:?}")
        };
        assert_eq!(*folded, Node::Num((std::f64::consts::PI / 3.0).cos()));
    }

    #[test]
    fn too_deep_for_the_stack_falls_back_to_the_tree() {
        let src = format!("{}t{}", "t + (".repeat(12), ")".repeat(12));
        let e = Expr::parse(&src).unwrap();
        assert!(matches!(e.compiled, Compiled::Tree(_)));
        assert_eq!(e.value(2), 26.0);
        let src = format!(
            "{}t{}",
            "t + (".repeat(program::STACK - 1),
            ")".repeat(program::STACK - 1)
        );
        let e = Expr::parse(&src).unwrap();
        assert!(matches!(e.compiled, Compiled::Program(_)));
        assert_eq!(e.value(3), 3.0 * program::STACK as f64);
    }

    #[test]
    fn power_of_two_bases_are_exact_at_every_integer_exponent() {
        for base in [0.5, 2.0, 0.25, 4.0, 0.125, 1024.0, 2f64.powi(-1022)] {
            let e = Expr::parse(&format!("{base:e} ** t")).unwrap();
            for n in -1_200..=1_200 {
                let want = base.powf(f64::from(n));
                let got = e.eval(f64::from(n));
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{base} ** {n}: {got:e} vs {want:e}"
                );
            }
        }
    }

    #[test]
    fn rounding_helpers_equal_libm_at_edges() {
        for x in [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9_007_199_254_740_993.0,
            1e300,
            -1e-300,
            f64::MIN_POSITIVE / 2.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            check_rounding(x);
        }
    }

    fn round_half_even(x: f64) -> f64 {
        let r = x.round();
        if (x - x.trunc()).abs() == 0.5 {
            2.0 * (x / 2.0).round()
        } else {
            r
        }
    }

    fn check_rounding(x: f64) {
        assert!(same(crate::fastmath::floor(x), x.floor()), "floor {x:e}");
        assert!(same(crate::fastmath::ceil(x), x.ceil()), "ceil {x:e}");
        assert!(same(crate::fastmath::trunc(x), x.trunc()), "trunc {x:e}");
        assert!(
            same(crate::fastmath::round_even(x), round_half_even(x)),
            "round {x:e}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]

        /// Without the pow specialisation the program computes what the tree does, bit for
        /// bit; with it, too, wherever no specialised power is in the program.
        #[test]
        fn compiled_equals_the_tree_interpreter(
            src in expression(),
            xs in proptest::collection::vec(variable(), 8),
        ) {
            let root = parsed(&src);
            let exact = compile(&root, false);
            let specialised = compile(&root, true);
            for x in xs {
                let want = root.eval(x);
                if let Some(p) = &exact {
                    prop_assert!(same(p.eval(x), want), "{src} at {x}: {} vs {want}", p.eval(x));
                }
                if let Some(p) = specialised.as_ref().filter(|p| !p.is_approximate()) {
                    prop_assert!(same(p.eval(x), want), "{src} at {x}: {} vs {want}", p.eval(x));
                }
            }
        }

        /// `c ** e` with a constant base: within `(|e ln c| + 4) * 2^-52` relatively of
        /// the tree interpreter's value (`powf`, or square-and-multiply where both use it),
        /// as the program's documentation states; near underflow within that of the
        /// smallest normal number, and beyond `f64::MAX / 2` both.
        #[test]
        fn constant_base_powers_are_within_the_stated_tolerance(
            c in prop_oneof![0.001f64..10.0, prop::sample::select(vec![0.1, 0.5, 0.9, 0.95, 0.99, 1.5, 2.0, 10.0])],
            e in prop_oneof![-50.0f64..3_000.0, (0u64..5_000).prop_map(|n| n as f64), (-700i64..0).prop_map(|n| n as f64)],
        ) {
            let expr = Expr::parse(&format!("{c:e} ** t")).unwrap();
            let got = expr.eval(e);
            let want = python_pow(c, e);
            let tol = ((e * c.ln()).abs() + 4.0) * f64::EPSILON;
            let huge = f64::MAX / 2.0;
            let ok = (got - want).abs() <= tol * want.abs()
                || (got.abs() < 4.0 * f64::MIN_POSITIVE && (got - want).abs() <= tol * f64::MIN_POSITIVE)
                || (got.abs() > huge && want.abs() > huge);
            prop_assert!(ok, "{c} ** {e}: {got:e} vs {want:e}");
        }

        #[test]
        fn rounding_helpers_equal_libm(bits in any::<u64>(), x in -1e17f64..1e17, y in -3.0f64..3.0) {
            check_rounding(f64::from_bits(bits));
            check_rounding(x);
            check_rounding(y);
            check_rounding((y * 2.0).round() / 2.0);
        }

        #[test]
        fn random_text_never_panics(src in "\\PC{0,40}") {
            let _ = Expr::parse(&src);
        }

        #[test]
        fn random_token_soup_never_panics(parts in proptest::collection::vec(
            prop::sample::select(vec!["step", "1", "2.5", "+", "-", "*", "**", "//", "(", ")", "min", ",", "if", "else", "<", "and", "not", "lambda", ":", "math", ".", "cos"]), 0..16), t in any::<u64>()) {
            if let Ok(e) = Expr::parse(&parts.join(" ")) {
                prop_assert!(e.value(t).is_finite());
            }
        }
    }
}
