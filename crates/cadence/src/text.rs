//! The text spec language: one readable line for any [`ScheduleSpec`].
//!
//! ```text
//! warmup(linear, 500, 0) >> cosine(init=3e-4, end=0, decay_steps=10k)
//! linear(init=1e-3, end=0, steps=10_000)
//! linear(1e-3, 0, 10k)                      # positional: fields in declared order
//! ```
//!
//! # Grammar
//!
//! ```text
//! spec     = value
//! value    = primary [ ">>" value ]          # right-associative
//! primary  = call | word | number | string | list | table
//! call     = NAME "(" [ arg { "," arg } [ "," ] ] ")"
//! arg      = KEY "=" value | value           # positional arguments come first
//! list     = "[" [ value { "," value } [ "," ] ] "]"
//! table    = "{" [ KEY "=" value { "," KEY "=" value } [ "," ] ] "}"
//! word     = NAME                            # true, false, null, or an enum word: cosine
//! number   = -?digits[.digits][e±digits][k|M|G]   # 3e-4, 10_000, 10k, 1.5M
//! string   = "..." | '...'                   # escapes \" \' \\ \n \t
//! ```
//!
//! `#` starts a comment to the end of the line; newlines are whitespace.
//!
//! # Meaning
//!
//! The text is first read into the serde tree of [`ScheduleSpec`] and then deserialised,
//! so every rule of the constructors applies and every registered family or combinator
//! is available with no change here:
//!
//! - `name(k=v, ...)` is the object `{"type": "name", "k": v, ...}`;
//! - `a(...) >> b` is `a(..., schedule=b)`: the right-hand side becomes the `schedule`
//!   child of the combinator on the left (warmup, clamp, scale, delay, ...), so
//!   `warmup(...) >> cosine(...)` reads "warm up, then cosine";
//! - positional arguments fill, in order, the fields not given by name, in the order the
//!   type declares them ([`fields`] lists them);
//! - `10k` = 10 000, `1.5M` = 1 500 000, `2G` = 2·10⁹; `_` separates digits; a number
//!   with an integral value is an integer (so it fits step counts), any other a float;
//! - a bare word is a string (an enum value such as `cosine`), except `true`, `false` and
//!   `null`.
//!
//! [`to_text`] prints the canonical form (named arguments, `>>` for `schedule` children,
//! `null` fields left out); parsing it gives back an identical spec.
//!
//! # Examples
//!
//! ```
//! use cadence::{Schedule, ScheduleSpec, text};
//!
//! let spec = text::parse("linear(init=1e-3, end=0, steps=1k)")?;
//! assert_eq!(spec.value(500), 5e-4);
//! assert_eq!(text::to_text(&spec), "linear(init=0.001, end=0.0, steps=1000)");
//!
//! let err = text::parse("lineer(1, 0, 10)").unwrap_err();
//! assert_eq!((err.line(), err.column()), (1, 1));
//! assert_eq!(err.suggestion(), Some("linear"));
//! # Ok::<(), text::ParseError>(())
//! ```

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde_json::{Map, Number, Value};

use crate::spec::ScheduleSpec;

/// The field that `a >> b` fills with `b`.
///
/// # Examples
///
/// ```
/// let tree = cadence::text::parse_tree("scale(factor=2) >> constant(value=1)")?;
/// assert_eq!(tree[cadence::text::CHILD_FIELD]["type"], "constant");
/// # Ok::<(), cadence::text::ParseError>(())
/// ```
pub const CHILD_FIELD: &str = "schedule";

/// How deep lists, calls and `>>` chains may nest (keeps the parser's stack bounded).
const MAX_DEPTH: usize = 64;

/// A field name no type declares: deserialising it makes serde list the declared ones.
pub(crate) const PROBE_FIELD: &str = "\u{1}";

/// A text spec that could not be read or that describes no valid schedule.
///
/// Carries the 1-based line and column (in characters) of the offending token, a message,
/// and the nearest valid name (by edit distance) when a name was misspelt.
///
/// # Examples
///
/// ```
/// let err = cadence::text::parse("linear(init=1, end=0, stesp=10)").unwrap_err();
/// assert_eq!(err.column(), 23);
/// assert_eq!(err.suggestion(), Some("steps"));
/// assert!(err.to_string().starts_with("line 1, column 23: unknown field `stesp`"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}{}", did_you_mean(.suggestion))]
pub struct ParseError {
    line: usize,
    column: usize,
    message: String,
    suggestion: Option<String>,
    source_line: String,
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

impl ParseError {
    fn at(src: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(src.len());
        let offset = (0..=offset)
            .rev()
            .find(|&i| src.is_char_boundary(i))
            .unwrap_or(0);
        let before = &src[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
        ParseError {
            line: before.matches('\n').count() + 1,
            column: src[line_start..offset].chars().count() + 1,
            message: message.into(),
            suggestion: None,
            source_line: src[line_start..line_end].to_string(),
        }
    }

    fn suggest(mut self, suggestion: Option<String>) -> Self {
        self.suggestion = suggestion;
        self
    }

    /// The 1-based line of the error.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cadence::text::parse("linear(\n  init=1,\n  end=0 steps=3)").unwrap_err();
    /// assert_eq!(err.line(), 3);
    /// ```
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column of the error, counted in characters.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cadence::text::parse("linear(init=1, end=0, steps=3").unwrap_err();
    /// assert_eq!(err.column(), 30);
    /// ```
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong, without the position.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cadence::text::parse("linear(init=1, end=0, steps=0)").unwrap_err();
    /// assert!(err.message().contains("`steps` = 0"));
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The nearest valid name, when a schedule, field or enum word was misspelt.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cadence::text::parse("constnt(value=1)").unwrap_err();
    /// assert_eq!(err.suggestion(), Some("constant"));
    /// ```
    pub fn suggestion(&self) -> Option<&str> {
        self.suggestion.as_deref()
    }

    /// The offending line followed by a caret under the column, for terminals.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cadence::text::parse("linear(1, 0, 10) )").unwrap_err();
    /// assert_eq!(err.excerpt(), "linear(1, 0, 10) )\n                 ^");
    /// ```
    pub fn excerpt(&self) -> String {
        let pad: String = self
            .source_line
            .chars()
            .take(self.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{}\n{pad}^", self.source_line)
    }
}

/// Parses a text spec into a validated [`ScheduleSpec`].
///
/// # Errors
/// [`ParseError`] with the position for malformed text, an unknown schedule or field
/// name (with the nearest valid name), a value of the wrong type, or a parameter that
/// breaks a constructor's rule.
///
/// # Examples
///
/// ```
/// use cadence::{Schedule, text};
///
/// let lr = text::parse("linear(init=1, end=0, steps=4)")?;
/// assert_eq!(lr.value(1), 0.75);
/// assert!(text::parse("linear(init=1, end=0, steps=0)").is_err());
/// # Ok::<(), text::ParseError>(())
/// ```
pub fn parse(src: &str) -> Result<ScheduleSpec, ParseError> {
    let node = Parser::new(src)?.parse_document()?;
    let lower = Lower { src };
    lower.validate(&node)?;
    let value = lower.value(&node)?;
    serde_json::from_value(value).map_err(|e| lower.locate(&node, &e.to_string()))
}

/// Parses a text spec into its serde tree without deserialising it into a schedule.
///
/// The tree is what JSON or TOML files hold; it is the input of [`parse`]'s validation.
///
/// # Errors
/// [`ParseError`] for malformed text, or positional arguments to an unknown name.
///
/// # Examples
///
/// ```
/// let tree = cadence::text::parse_tree("linear(init=1, end=0, steps=10k)")?;
/// assert_eq!(tree, serde_json::json!({"type": "linear", "init": 1, "end": 0, "steps": 10000}));
/// # Ok::<(), cadence::text::ParseError>(())
/// ```
pub fn parse_tree(src: &str) -> Result<Value, ParseError> {
    let node = Parser::new(src)?.parse_document()?;
    Lower { src }.value(&node)
}

/// Prints a spec in the canonical text form, which [`parse`] reads back identically.
///
/// # Examples
///
/// ```
/// use cadence::{Linear, ScheduleSpec, text};
///
/// let spec = ScheduleSpec::from(Linear::new(3e-4, 1e-6, 20_000)?);
/// let line = text::to_text(&spec);
/// assert_eq!(line, "linear(init=0.0003, end=1e-6, steps=20_000)");
/// assert_eq!(text::parse(&line)?, spec);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn to_text(spec: &ScheduleSpec) -> String {
    let value = serde_json::to_value(spec).unwrap_or(Value::Null);
    tree_to_text(&value)
}

/// Prints any serde tree (as [`parse_tree`] returns) in the text syntax.
///
/// # Examples
///
/// ```
/// let tree = serde_json::json!({"type": "linear", "init": 1.0, "end": 0.5, "steps": 3});
/// assert_eq!(cadence::text::tree_to_text(&tree), "linear(init=1.0, end=0.5, steps=3)");
/// ```
pub fn tree_to_text(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// The field names of a registered family or combinator, in declared order, or `None`
/// for a name that is not registered.
///
/// Positional arguments in the text language fill these in order.
///
/// # Examples
///
/// ```
/// assert_eq!(cadence::text::fields("linear").unwrap(), ["init", "end", "steps"]);
/// assert!(cadence::text::fields("nope").is_none());
/// ```
pub fn fields(name: &str) -> Option<Vec<String>> {
    if !ScheduleSpec::NAMES.contains(&name) {
        return None;
    }
    let mut probe = Map::new();
    probe.insert("type".into(), Value::String(name.into()));
    probe.insert(PROBE_FIELD.into(), Value::Null);
    let err = serde_json::from_value::<ScheduleSpec>(Value::Object(probe)).err()?;
    let msg = err.to_string();
    if msg.contains("there are no fields") {
        return Some(Vec::new());
    }
    msg.strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once("expected "))
        .map(|(_, expected)| backticked(expected))
}

/// The nearest candidate to `word` by edit distance, if it is near enough to be a typo.
///
/// # Examples
///
/// ```
/// assert_eq!(cadence::text::nearest("cosin", ["cosine", "linear"]), Some("cosine".to_string()));
/// assert_eq!(cadence::text::nearest("zzzzzz", ["cosine", "linear"]), None);
/// ```
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// Every `` `name` `` in a serde message, in order.
pub(crate) fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

impl FromStr for ScheduleSpec {
    type Err = ParseError;

    /// Parses the text spec language; see [`parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl fmt::Display for ScheduleSpec {
    /// Writes the canonical text form; see [`to_text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_text(self))
    }
}

// ---------------------------------------------------------------------------------------
// Printing

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => match map.get("type") {
            Some(Value::String(name)) if is_word(name) => write_call(out, name, map),
            _ => {
                out.push('{');
                write_args(out, map.iter().filter(|(_, v)| !v.is_null()));
                out.push('}');
            }
        },
    }
}

fn write_call(out: &mut String, name: &str, map: &Map<String, Value>) {
    let child = map
        .get(CHILD_FIELD)
        .filter(|c| matches!(c.get("type"), Some(Value::String(n)) if is_word(n)));
    out.push_str(name);
    out.push('(');
    write_args(
        out,
        map.iter().filter(|(k, v)| {
            *k != "type" && !v.is_null() && !(child.is_some() && *k == CHILD_FIELD)
        }),
    );
    out.push(')');
    if let Some(child) = child {
        out.push_str(" >> ");
        write_value(out, child);
    }
}

fn write_args<'a>(out: &mut String, args: impl Iterator<Item = (&'a String, &'a Value)>) {
    for (i, (key, value)) in args.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(out, key);
        out.push('=');
        write_value(out, value);
    }
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(u) = n.as_u64() {
        write_grouped(out, &u.to_string());
    } else if let Some(i) = n.as_i64() {
        out.push('-');
        write_grouped(out, &i.unsigned_abs().to_string());
    } else if let Some(x) = n.as_f64() {
        // `{:?}` is the shortest round-trip form and switches to an exponent for very
        // small or large magnitudes: 0.0003, 1e-6, 1e20, 2.0.
        let _ = write!(out, "{x:?}");
    }
}

/// Digits in groups of three from 10 000 on: `10_000`, `1_000_000`.
fn write_grouped(out: &mut String, digits: &str) {
    if digits.len() <= 4 {
        out.push_str(digits);
        return;
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
}

fn write_string(out: &mut String, s: &str) {
    if is_word(s) && !matches!(s, "true" | "false" | "null") {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn is_word(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// ---------------------------------------------------------------------------------------
// Lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Num(Number),
    Str(String),
    Open(char),
    Close(char),
    Comma,
    Eq,
    Then,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Num(n) => format!("number `{n}`"),
            Tok::Str(_) => "a string".into(),
            Tok::Open(c) | Tok::Close(c) => format!("`{c}`"),
            Tok::Comma => "`,`".into(),
            Tok::Eq => "`=`".into(),
            Tok::Then => "`>>`".into(),
            Tok::End => "the end of the text".into(),
        }
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn err(&self, at: usize, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.src, at, msg)
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek_char() {
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if c == '#' {
                self.pos = self.src[self.pos..]
                    .find('\n')
                    .map_or(self.src.len(), |i| self.pos + i);
            } else {
                break;
            }
        }
    }

    /// The next token and the byte offset where it starts.
    fn next(&mut self) -> Result<(Tok, usize), ParseError> {
        self.skip_space();
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok((Tok::End, start));
        };
        let rest = &self.src[self.pos..];
        let single = |tok| (tok, start);
        let tok = match c {
            '(' | '[' | '{' => {
                self.pos += 1;
                single(Tok::Open(c))
            }
            ')' | ']' | '}' => {
                self.pos += 1;
                single(Tok::Close(c))
            }
            ',' => {
                self.pos += 1;
                single(Tok::Comma)
            }
            '=' => {
                self.pos += 1;
                single(Tok::Eq)
            }
            '>' if rest.starts_with(">>") => {
                self.pos += 2;
                single(Tok::Then)
            }
            '"' | '\'' => single(self.string(c)?),
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && rest[1..].starts_with(|d: char| d.is_ascii_digit() || d == '.')) =>
            {
                single(self.number()?)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                self.pos += len;
                single(Tok::Word(rest[..len].to_string()))
            }
            other => return Err(self.err(start, format!("unexpected character `{other}`"))),
        };
        Ok(tok)
    }

    fn string(&mut self, quote: char) -> Result<Tok, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut s = String::new();
        loop {
            let Some(c) = self.peek_char() else {
                return Err(self.err(start, "unterminated string"));
            };
            self.pos += c.len_utf8();
            match c {
                c if c == quote => return Ok(Tok::Str(s)),
                '\\' => {
                    let at = self.pos - 1;
                    let e = self
                        .peek_char()
                        .ok_or_else(|| self.err(start, "unterminated string"))?;
                    self.pos += e.len_utf8();
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '\\' | '"' | '\'' => e,
                        'u' => self.unicode_escape(at)?,
                        _ => return Err(self.err(at, format!("unknown escape `\\{e}`"))),
                    });
                }
                c => s.push(c),
            }
        }
    }

    /// `\u{hex}` after the `u`.
    fn unicode_escape(&mut self, at: usize) -> Result<char, ParseError> {
        let rest = &self.src[self.pos..];
        let bad = || self.err(at, "malformed unicode escape: write `\\u{hex}`");
        let body = rest.strip_prefix('{').ok_or_else(bad)?;
        let close = body.find('}').ok_or_else(bad)?;
        let c = u32::from_str_radix(&body[..close], 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(bad)?;
        self.pos += close + 2;
        Ok(c)
    }

    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut end = start;
        if matches!(bytes.get(end), Some(b'-' | b'+')) {
            end += 1;
        }
        while let Some(&b) = bytes.get(end) {
            let exponent_sign =
                matches!(b, b'-' | b'+') && matches!(bytes.get(end - 1), Some(b'e' | b'E'));
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || exponent_sign {
                end += 1;
            } else {
                break;
            }
        }
        self.pos = end;
        let raw = &self.src[start..end];
        let bad = |why: &str| self.err(start, format!("malformed number `{raw}`: {why}"));
        let (body, scale) = match raw.as_bytes().last() {
            Some(b'k') => (&raw[..raw.len() - 1], 3),
            Some(b'M') => (&raw[..raw.len() - 1], 6),
            Some(b'G') => (&raw[..raw.len() - 1], 9),
            _ => (raw, 0),
        };
        if body.contains("__") || body.ends_with('_') || body.contains("_.") {
            return Err(bad("`_` goes between digits"));
        }
        let plain: String = body.chars().filter(|&c| c != '_').collect();
        let digits = plain.trim_start_matches(['-', '+']);
        let exponent = digits.contains(['e', 'E']);
        if digits.is_empty()
            || !digits
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        {
            return Err(bad("expected digits, `.`, an exponent and one of k, M, G"));
        }
        if scale > 0 && exponent {
            return Err(bad("use either an exponent or a k/M/G suffix"));
        }
        if scale == 0 && !exponent && !digits.contains('.') {
            let parsed = if plain.starts_with('-') {
                plain.parse::<i64>().ok().map(Number::from)
            } else {
                digits.parse::<u64>().ok().map(Number::from)
            };
            if let Some(n) = parsed {
                return Ok(Tok::Num(n));
            }
        }
        let text = if scale > 0 {
            format!("{plain}e{scale}")
        } else {
            plain.clone()
        };
        let x: f64 = text.parse().map_err(|_| bad("not a number"))?;
        if !x.is_finite() {
            return Err(bad("out of range"));
        }
        Ok(Tok::Num(number_from_f64(x)))
    }
}

/// Integral values within f64's exact range become integers, so that `10k` and `1e4`
/// fill step counts; `-0.0` and every other value stay floats.
fn number_from_f64(x: f64) -> Number {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let negative_zero = x == 0.0 && x.is_sign_negative();
    if x.fract() == 0.0 && x.abs() <= EXACT && !negative_zero {
        if x >= 0.0 {
            return Number::from(x as u64);
        }
        return Number::from(x as i64);
    }
    Number::from_f64(x).unwrap_or_else(|| Number::from(0))
}

// ---------------------------------------------------------------------------------------
// Parsing into a tree that keeps positions

#[derive(Debug)]
struct Node {
    at: usize,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Scalar(Value),
    /// A bare word: a string, unless it is `true`, `false` or `null`.
    Word(String),
    List(Vec<Node>),
    Table(Vec<Arg>),
    Call {
        name: String,
        args: Vec<Arg>,
    },
    /// `left >> right`: `right` becomes the `schedule` child of the call `left`.
    Then {
        left: Box<Node>,
        right: Box<Node>,
    },
}

#[derive(Debug)]
struct Arg {
    key: Option<(String, usize)>,
    value: Node,
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Tok,
    at: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self, ParseError> {
        let mut lexer = Lexer { src, pos: 0 };
        let (tok, at) = lexer.next()?;
        Ok(Parser {
            lexer,
            tok,
            at,
            depth: 0,
        })
    }

    fn err(&self, msg: impl Into<String>) -> ParseError {
        self.lexer.err(self.at, msg)
    }

    fn bump(&mut self) -> Result<(Tok, usize), ParseError> {
        let (next, at) = self.lexer.next()?;
        let tok = std::mem::replace(&mut self.tok, next);
        Ok((tok, std::mem::replace(&mut self.at, at)))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ParseError> {
        if self.tok == tok {
            self.bump()?;
            Ok(())
        } else {
            Err(self.err(format!("expected {what}, found {}", self.tok.describe())))
        }
    }

    fn parse_document(mut self) -> Result<Node, ParseError> {
        if self.tok == Tok::End {
            return Err(self.err("empty spec: expected a schedule such as `constant(value=0.1)`"));
        }
        let node = self.value()?;
        if self.tok != Tok::End {
            return Err(self.err(format!(
                "unexpected {} after the end of the spec",
                self.tok.describe()
            )));
        }
        Ok(node)
    }

    fn value(&mut self) -> Result<Node, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let left = self.primary()?;
        let node = if self.tok == Tok::Then {
            if !matches!(left.kind, Kind::Call { .. }) {
                return Err(self.err(
                    "`>>` needs a combinator call on its left, e.g. `warmup(...) >> cosine(...)`",
                ));
            }
            self.bump()?;
            let right = self.value()?;
            Node {
                at: left.at,
                kind: Kind::Then {
                    left: Box::new(left),
                    right: Box::new(right),
                },
            }
        } else {
            left
        };
        self.depth -= 1;
        Ok(node)
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        let (tok, at) = self.bump()?;
        let kind = match tok {
            Tok::Num(n) => Kind::Scalar(Value::Number(n)),
            Tok::Str(s) => Kind::Scalar(Value::String(s)),
            Tok::Word(name) if self.tok == Tok::Open('(') => {
                self.bump()?;
                let args = self.args(')')?;
                Kind::Call { name, args }
            }
            Tok::Word(w) => Kind::Word(w),
            Tok::Open('[') => {
                let mut items = Vec::new();
                while self.tok != Tok::Close(']') {
                    items.push(self.value()?);
                    if self.tok == Tok::Comma {
                        self.bump()?;
                    } else if self.tok != Tok::Close(']') {
                        return Err(self.err(format!(
                            "expected `,` or `]`, found {}",
                            self.tok.describe()
                        )));
                    }
                }
                self.bump()?;
                Kind::List(items)
            }
            Tok::Open('{') => Kind::Table(self.args('}')?),
            other => {
                return Err(self.lexer.err(
                    at,
                    format!(
                        "expected a value (a schedule, number, word, string, list or table), found {}",
                        other.describe()
                    ),
                ));
            }
        };
        Ok(Node { at, kind })
    }

    /// Arguments up to and including the closing bracket.
    fn args(&mut self, close: char) -> Result<Vec<Arg>, ParseError> {
        let mut args = Vec::new();
        while self.tok != Tok::Close(close) {
            let key = match (&self.tok, self.lexer.peek_eq()) {
                (Tok::Word(k) | Tok::Str(k), true) => {
                    let key = (k.clone(), self.at);
                    self.bump()?;
                    self.expect(Tok::Eq, "`=`")?;
                    Some(key)
                }
                _ => None,
            };
            let value = self.value()?;
            args.push(Arg { key, value });
            if self.tok == Tok::Comma {
                self.bump()?;
            } else if self.tok != Tok::Close(close) {
                return Err(self.err(format!(
                    "expected `,` or `{close}`, found {}",
                    self.tok.describe()
                )));
            }
        }
        self.bump()?;
        Ok(args)
    }
}

impl Lexer<'_> {
    /// Whether the next token (after the current one) is `=`.
    fn peek_eq(&self) -> bool {
        let mut ahead = Lexer {
            src: self.src,
            pos: self.pos,
        };
        matches!(ahead.next(), Ok((Tok::Eq, _)))
    }
}

// ---------------------------------------------------------------------------------------
// Lowering to the serde tree, and locating serde's errors in the text

struct Lower<'a> {
    src: &'a str,
}

impl Lower<'_> {
    fn err(&self, at: usize, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.src, at, msg)
    }

    fn value(&self, node: &Node) -> Result<Value, ParseError> {
        Ok(match &node.kind {
            Kind::Scalar(v) => v.clone(),
            Kind::Word(w) => match w.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => Value::String(w.clone()),
            },
            Kind::List(items) => Value::Array(
                items
                    .iter()
                    .map(|n| self.value(n))
                    .collect::<Result<_, _>>()?,
            ),
            Kind::Table(args) => {
                let mut map = Map::new();
                for arg in args {
                    let Some((key, at)) = &arg.key else {
                        return Err(self.err(arg.value.at, "a table `{...}` needs `key = value`"));
                    };
                    self.insert(&mut map, key, *at, self.value(&arg.value)?)?;
                }
                Value::Object(map)
            }
            Kind::Call { .. } | Kind::Then { .. } => Value::Object(self.call(node)?),
        })
    }

    /// The object of a call, with its `>>` child if any.
    fn call(&self, node: &Node) -> Result<Map<String, Value>, ParseError> {
        let (call, child) = match &node.kind {
            Kind::Then { left, right } => (&**left, Some(&**right)),
            _ => (node, None),
        };
        let Kind::Call { name, args } = &call.kind else {
            return Err(self.err(call.at, "`>>` needs a combinator call on its left"));
        };
        let mut map = Map::new();
        map.insert("type".into(), Value::String(name.clone()));
        let mut positional = Vec::new();
        for arg in args {
            match &arg.key {
                Some((key, at)) => {
                    if key == "type" {
                        return Err(self.err(
                            *at,
                            format!("`type` is the name before `(`: write `{name}(...)`"),
                        ));
                    }
                    self.insert(&mut map, key, *at, self.value(&arg.value)?)?;
                }
                None if map.len() > 1 => {
                    return Err(self.err(
                        arg.value.at,
                        "positional arguments must come before named ones",
                    ));
                }
                None => positional.push(&arg.value),
            }
        }
        if let Some(child) = child {
            self.insert(&mut map, CHILD_FIELD, child.at, self.value(child)?)?;
        }
        if !positional.is_empty() {
            let Some(declared) = fields(name) else {
                return Err(self
                    .err(call.at, format!("unknown schedule `{name}`"))
                    .suggest(nearest(name, ScheduleSpec::NAMES.iter().copied())));
            };
            let free: Vec<&String> = declared
                .iter()
                .filter(|f| !map.contains_key(f.as_str()))
                .collect();
            let mut free = free.into_iter();
            for value in positional {
                let Some(field) = free.next() else {
                    return Err(self.err(
                        value.at,
                        format!(
                            "too many positional arguments: `{name}` takes {}",
                            list(&declared)
                        ),
                    ));
                };
                map.insert(field.clone(), self.value(value)?);
            }
        }
        Ok(map)
    }

    fn insert(
        &self,
        map: &mut Map<String, Value>,
        key: &str,
        at: usize,
        value: Value,
    ) -> Result<(), ParseError> {
        if map.contains_key(key) {
            return Err(self.err(at, format!("`{key}` is given twice")));
        }
        map.insert(key.to_string(), value);
        Ok(())
    }

    /// Deserialises every registered call bottom-up, so that an error is reported at the
    /// innermost call it belongs to.
    fn validate(&self, node: &Node) -> Result<(), ParseError> {
        for child in children(node) {
            self.validate(child)?;
        }
        if let Some(name) = call_name(node)
            && ScheduleSpec::NAMES.contains(&name)
        {
            let value = Value::Object(self.call(node)?);
            if let Err(e) = serde_json::from_value::<ScheduleSpec>(value) {
                return Err(self.locate(node, &e.to_string()));
            }
        }
        Ok(())
    }

    /// Turns serde's message for the call `node` into a positioned error.
    fn locate(&self, node: &Node, msg: &str) -> ParseError {
        let name = call_name(node).unwrap_or("spec");
        let names = backticked(msg);
        if let Some(rest) = msg.strip_prefix("unknown field `") {
            let field = names.first().map_or("", String::as_str);
            let expected = rest.split_once("expected ").map(|(_, e)| backticked(e));
            let at = find_key(node, field).unwrap_or(node.at);
            let message = match &expected {
                Some(list_of) => format!(
                    "unknown field `{field}` for `{name}`, which takes {}",
                    list(list_of)
                ),
                None => format!("unknown field `{field}`: `{name}` takes no fields"),
            };
            let near = expected.and_then(|e| nearest(field, e.iter().map(String::as_str)));
            return self.err(at, message).suggest(near);
        }
        if msg.starts_with("unknown variant `") {
            let word = names.first().map_or("", String::as_str);
            let expected = &names[1.min(names.len())..];
            let at = find_word(node, word).unwrap_or(node.at);
            let is_schedule = ScheduleSpec::NAMES
                .iter()
                .all(|n| expected.iter().any(|e| e == n));
            let message = if is_schedule {
                format!("unknown schedule `{word}`")
            } else {
                format!("unknown value `{word}`, expected one of {}", list(expected))
            };
            return self
                .err(at, message)
                .suggest(nearest(word, expected.iter().map(String::as_str)));
        }
        if let Some(field) = msg
            .strip_prefix("invalid `")
            .and_then(|r| r.split('`').next())
        {
            let at = find_key(node, field).unwrap_or(node.at);
            return self.err(at, format!("in `{name}`: {msg}"));
        }
        if msg.starts_with("missing field `") {
            let field = names.first().map_or("", String::as_str);
            if find_key(node, field).is_some() {
                // The field is there: the one missing is inside some argument's value,
                // e.g. the tag of a nested table.
                if let Some(at) = self.culprit(node, msg) {
                    return self.err(at, format!("in `{name}`: {msg} in this value"));
                }
            }
            let declared =
                fields(name).map_or(String::new(), |f| format!(" (it takes {})", list(&f)));
            return self.err(node.at, format!("`{name}`: {msg}{declared}"));
        }
        // A type error names no field: find the argument that fails on its own.
        let at = self.culprit(node, msg).unwrap_or(node.at);
        self.err(at, format!("in `{name}`: {msg}"))
    }

    /// The position of the argument of `node` that alone reproduces `msg`.
    fn culprit(&self, node: &Node, msg: &str) -> Option<usize> {
        let map = self.call(node).ok()?;
        let ty = map.get("type")?.clone();
        map.iter()
            .filter(|(k, _)| *k != "type")
            .find_map(|(key, value)| {
                let mut single = Map::new();
                single.insert("type".into(), ty.clone());
                single.insert(key.clone(), value.clone());
                let err = serde_json::from_value::<ScheduleSpec>(Value::Object(single)).err()?;
                (err.to_string() == msg).then(|| find_key(node, key).unwrap_or(node.at))
            })
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "no fields".into();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn call_name(node: &Node) -> Option<&str> {
    match &node.kind {
        Kind::Call { name, .. } => Some(name),
        Kind::Then { left, .. } => call_name(left),
        _ => None,
    }
}

fn children(node: &Node) -> Vec<&Node> {
    match &node.kind {
        Kind::Scalar(_) | Kind::Word(_) => Vec::new(),
        Kind::List(items) => items.iter().collect(),
        Kind::Table(args) | Kind::Call { args, .. } => args.iter().map(|a| &a.value).collect(),
        Kind::Then { left, right } => {
            let mut c = children(left);
            c.push(right);
            c
        }
    }
}

/// Where `key` is written in `node` or in its tables (not in nested calls); a positional
/// argument is found through the field it fills.
fn find_key(node: &Node, key: &str) -> Option<usize> {
    let (name, args) = match &node.kind {
        Kind::Call { name, args } => (Some(name.as_str()), args),
        Kind::Table(args) => (None, args),
        Kind::Then { left, right } => {
            return find_key(left, key).or_else(|| (key == CHILD_FIELD).then_some(right.at));
        }
        _ => return None,
    };
    if let Some(at) = args.iter().find_map(|a| match &a.key {
        Some((k, at)) if k == key => Some(*at),
        _ => None,
    }) {
        return Some(at);
    }
    let declared = fields(name?)?;
    let named = |f: &&String| {
        !args
            .iter()
            .any(|a| matches!(&a.key, Some((k, _)) if k == *f))
    };
    declared
        .iter()
        .filter(named)
        .zip(args.iter().filter(|a| a.key.is_none()))
        .find_map(|(f, a)| (f == key).then_some(a.value.at))
}

/// Where the word or call name `word` is written in `node`, searched depth first.
fn find_word(node: &Node, word: &str) -> Option<usize> {
    match &node.kind {
        Kind::Word(w) if w == word => Some(node.at),
        Kind::Scalar(Value::String(s)) if s == word => Some(node.at),
        Kind::Call { name, .. } if name == word => Some(node.at),
        _ => children(node).into_iter().find_map(|c| find_word(c, word)),
    }
}

#[cfg(test)]
mod tests;
