//! [`Expr`]: a schedule written as a small, safe arithmetic expression of the step.

use std::fmt;

use crate::error::Error;
use crate::schedule::{Schedule, finite_or_saturate};
use crate::spec::Validate;

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
    root: Node,
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
            root,
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
        !self.root.uses_var()
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
        self.root.eval(x)
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
        finite_or_saturate(self.root.eval(step as f64))
    }

    #[inline]
    fn value_at(&self, t: f64) -> f64 {
        let t = if t.is_nan() { 0.0 } else { t.max(0.0) };
        finite_or_saturate(self.root.eval(t))
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

fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
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

    fn eval(&self, x: f64) -> f64 {
        match self {
            Node::Num(v) => *v,
            Node::Var => x,
            Node::Neg(a) => -a.eval(x),
            Node::Not(a) => f64::from(u8::from(!truthy(a.eval(x)))),
            Node::Bin(op, a, b) => {
                let (a, b) = (a.eval(x), b.eval(x));
                match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                    BinOp::FloorDiv => (a / b).floor(),
                    BinOp::Mod => python_mod(a, b),
                    BinOp::Pow => python_pow(a, b),
                }
            }
            Node::Cmp(first, rest) => {
                let mut left = first.eval(x);
                for (op, node) in rest {
                    let right = node.eval(x);
                    let holds = match op {
                        CmpOp::Lt => left < right,
                        CmpOp::Le => left <= right,
                        CmpOp::Gt => left > right,
                        CmpOp::Ge => left >= right,
                        CmpOp::Eq => left == right,
                        CmpOp::Ne => left != right,
                    };
                    if !holds {
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
                    Func::Abs => arg(0).abs(),
                    Func::Exp => arg(0).exp(),
                    Func::Log if args.len() == 2 => arg(0).ln() / arg(1).ln(),
                    Func::Log => arg(0).ln(),
                    Func::Log2 => arg(0).log2(),
                    Func::Log10 => arg(0).log10(),
                    Func::Sqrt => arg(0).sqrt(),
                    Func::Sin => arg(0).sin(),
                    Func::Cos => arg(0).cos(),
                    Func::Tan => arg(0).tan(),
                    Func::Tanh => arg(0).tanh(),
                    Func::Pow => python_pow(arg(0), arg(1)),
                    Func::Floor => arg(0).floor(),
                    Func::Ceil => arg(0).ceil(),
                    Func::Round => round_half_even(arg(0)),
                    Func::Int => arg(0).trunc(),
                    Func::Float => arg(0),
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
/// Nesting limit, so that hostile input cannot overflow the stack.
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
        while self.eat_name("or") {
            node = Node::Or(Box::new(node), Box::new(self.and_test()?));
        }
        Ok(node)
    }

    fn and_test(&mut self) -> Result<Node, Error> {
        let mut node = self.not_test()?;
        while self.eat_name("and") {
            node = Node::And(Box::new(node), Box::new(self.not_test()?));
        }
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
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => break,
            };
            self.bump();
            node = Node::Bin(op, Box::new(node), Box::new(self.term()?));
        }
        Ok(node)
    }

    fn term(&mut self) -> Result<Node, Error> {
        let mut node = self.factor()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("//") => BinOp::FloorDiv,
                Tok::Op("%") => BinOp::Mod,
                _ => break,
            };
            self.bump();
            node = Node::Bin(op, Box::new(node), Box::new(self.factor()?));
        }
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

    proptest! {
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
