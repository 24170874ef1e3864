//! Random valid [`ScheduleSpec`]s of every registered family and combinator, for
//! property tests of anything that takes a spec (the text language, serde formats, the
//! CLI, the lab).
//!
//! Nothing here knows a family: the generator learns each registered type's fields from
//! serde (see [`crate::text::fields`]) and what each field accepts by offering candidate
//! values one at a time (a float, an integer, a word, a nested spec, a list, `null`),
//! then fills the fields at random and keeps the trees that deserialise, that is, that
//! pass every constructor rule. A family registered tomorrow is covered without an edit.
//! Fields of kinds it cannot guess (a tagged enum with data, say) are left out, so such a
//! type is built only when those fields have defaults.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::spec::ScheduleSpec;
use crate::text::{PROBE_FIELD, backticked, fields};

/// A random valid spec of a random registered kind, with combinators nested at most
/// `depth` deep; `None` in the rare case that no attempt passed validation.
///
/// The same `seed` gives the same spec.
///
/// # Examples
///
/// ```
/// use cadence::testing::specs::random_spec;
///
/// let spec = random_spec(7, 2).expect("a valid spec");
/// assert_eq!(random_spec(7, 2), Some(spec.clone()));
/// assert!(cadence::ScheduleSpec::NAMES.contains(&spec.name()));
/// ```
pub fn random_spec(seed: u64, depth: usize) -> Option<ScheduleSpec> {
    let tree = random_tree(&mut Rng(seed), depth)?;
    serde_json::from_value(tree).ok()
}

/// A random valid spec of the registered kind `name` (children, if any, of random kinds
/// nested at most `depth` deep); `None` if `name` is not registered or no attempt passed
/// validation.
///
/// # Examples
///
/// ```
/// use cadence::testing::specs::random_spec_named;
///
/// let spec = random_spec_named("linear", 1, 0).expect("linear is always buildable");
/// assert_eq!(spec.name(), "linear");
/// assert!(random_spec_named("nope", 1, 0).is_none());
/// ```
pub fn random_spec_named(name: &str, seed: u64, depth: usize) -> Option<ScheduleSpec> {
    let (names, _) = catalogue();
    let (name, fs) = names.iter().find(|(n, _)| *n == name)?;
    let mut rng = Rng(seed);
    let child = |rng: &mut Rng, d: usize| random_tree(rng, d);
    (0..20).find_map(|_| {
        let tree = build_at(&mut rng, name, fs, &child, depth.saturating_sub(1))?;
        serde_json::from_value(tree).ok()
    })
}

/// A random valid spec tree at most `depth` combinators deep.
fn random_tree(rng: &mut Rng, depth: usize) -> Option<Value> {
    let (names, _) = catalogue();
    for _ in 0..20 {
        let (name, fs) = &names[rng.below(names.len())];
        let nests = fs.iter().any(|(_, k)| has_spec(k));
        if nests && depth == 0 {
            continue;
        }
        let child = |rng: &mut Rng, d: usize| random_tree(rng, d);
        if let Some(v) = build_at(rng, name, fs, &child, depth.saturating_sub(1)) {
            return Some(v);
        }
    }
    None
}

/// What a field accepts, learnt by offering it candidate values one at a time.
#[derive(Debug, Clone)]
enum Field {
    Float,
    Int,
    Bool,
    Word(Vec<String>),
    Text,
    Spec,
    List(Box<Field>),
    /// A pair such as `(step, value)`, as a two-element array.
    Pair(Box<Field>, Box<Field>),
    Optional(Box<Field>),
    Unknown,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn accepts(name: &str, field: &str, candidate: Value) -> bool {
    let probe = json!({"type": name, field: candidate});
    match serde_json::from_value::<ScheduleSpec>(probe) {
        Ok(_) => true,
        Err(e) => {
            // Accepted when what fails is another field of `name` still missing (not a
            // field missing inside the candidate), or a constructor rule.
            let msg = e.to_string();
            let declared = fields(name).unwrap_or_default();
            match msg.strip_prefix("missing field `") {
                Some(rest) => {
                    let missing = rest.split('`').next().unwrap_or("");
                    missing != field && declared.iter().any(|f| f == missing)
                }
                None => msg.starts_with("invalid `"),
            }
        }
    }
}

fn probe_kind(name: &str, field: &str, leaf: Option<&Value>) -> Field {
    let scalar = || -> Field {
        if accepts(name, field, json!(0.5)) {
            return Field::Float;
        }
        if accepts(name, field, json!(3)) {
            return Field::Int;
        }
        if accepts(name, field, json!(true)) {
            return Field::Bool;
        }
        if accepts(name, field, json!("0.5")) {
            return Field::Text;
        }
        let probe = json!({"type": name, field: PROBE_FIELD});
        if let Err(e) = serde_json::from_value::<ScheduleSpec>(probe) {
            let msg = e.to_string();
            if msg.starts_with("unknown variant") {
                return Field::Word(backticked(&msg)[1..].to_vec());
            }
        }
        if let Some(leaf) = leaf {
            if accepts(name, field, leaf.clone()) {
                return Field::Spec;
            }
            if accepts(name, field, json!([leaf])) {
                return Field::List(Box::new(Field::Spec));
            }
        }
        if accepts(name, field, json!([0.5])) {
            return Field::List(Box::new(Field::Float));
        }
        if accepts(name, field, json!([3])) {
            return Field::List(Box::new(Field::Int));
        }
        for (first, pair) in [
            (Field::Int, json!([[3, 0.5]])),
            (Field::Float, json!([[0.5, 0.5]])),
        ] {
            if accepts(name, field, pair) {
                return Field::List(Box::new(Field::Pair(
                    Box::new(first),
                    Box::new(Field::Float),
                )));
            }
        }
        Field::Unknown
    };
    if accepts(name, field, Value::Null) {
        Field::Optional(Box::new(scalar()))
    } else {
        scalar()
    }
}

fn has_spec(kind: &Field) -> bool {
    match kind {
        Field::Spec => true,
        Field::List(k) | Field::Optional(k) => has_spec(k),
        _ => false,
    }
}

/// Every registered name with the kinds of its fields, and one valid leaf spec.
type Catalogue = (Vec<(&'static str, Vec<(String, Field)>)>, Value);

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let scalar_only: Vec<_> = ScheduleSpec::NAMES
            .iter()
            .map(|&n| {
                let fs = fields(n).unwrap_or_default();
                (
                    n,
                    fs.into_iter()
                        .map(|f| {
                            let k = probe_kind(n, &f, None);
                            (f, k)
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let mut rng = Rng(7);
        let leaf = (0..1000)
            .find_map(|_| {
                let (name, fs) = &scalar_only[rng.below(scalar_only.len())];
                build_at(&mut rng, name, fs, &|_, _| None, 0)
            })
            .expect("no registered family can be built from scalars");
        let full = ScheduleSpec::NAMES
            .iter()
            .map(|&n| {
                let fs = fields(n).unwrap_or_default();
                (
                    n,
                    fs.into_iter()
                        .map(|f| {
                            let k = probe_kind(n, &f, Some(&leaf));
                            (f, k)
                        })
                        .collect(),
                )
            })
            .collect();
        (full, leaf)
    })
}

type SpecGen<'a> = dyn Fn(&mut Rng, usize) -> Option<Value> + 'a;

fn gen_field(rng: &mut Rng, kind: &Field, child: &SpecGen<'_>, depth: usize) -> Option<Value> {
    Some(match kind {
        Field::Float => {
            let x = match rng.below(5) {
                0 => 0.0,
                1 => 1.0,
                2 => rng.unit(),
                3 => 10f64.powf(-6.0 * rng.unit()),
                _ => 20.0 * rng.unit() - 10.0,
            };
            json!(x)
        }
        Field::Int => json!(match rng.below(4) {
            0 => rng.below(4),
            1 => rng.below(100),
            2 => rng.below(10_000),
            _ => rng.below(2_000_000),
        }),
        Field::Bool => json!(rng.below(2) == 0),
        Field::Word(words) => {
            // A unit variant is a bare word; a variant with data is `{word = value}`.
            let word = words.get(rng.below(words.len()))?;
            match rng.below(3) {
                0 => json!(word),
                1 => json!({ word: gen_field(rng, &Field::Float, child, depth)? }),
                _ => json!({ word: gen_field(rng, &Field::Int, child, depth)? }),
            }
        }
        Field::Text => json!(format!("{}", rng.unit())),
        Field::Spec => child(rng, depth)?,
        Field::List(inner) => {
            let n = 1 + rng.below(4);
            let mut items: Vec<Value> = (0..n)
                .map(|_| gen_field(rng, inner, child, depth))
                .collect::<Option<_>>()?;
            // Numbers (or pairs led by one) ascending and distinct: boundaries,
            // milestones, knots. Lists of anything else stay as drawn.
            let key = |v: &Value| v.as_f64().or_else(|| v.get(0).and_then(Value::as_f64));
            if items.iter().all(|v| key(v).is_some()) {
                items.sort_by(|a, b| {
                    key(a)
                        .partial_cmp(&key(b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                items.dedup_by(|a, b| key(a) == key(b));
            }
            Value::Array(items)
        }
        Field::Pair(first, second) => json!([
            gen_field(rng, first, child, depth)?,
            gen_field(rng, second, child, depth)?
        ]),
        Field::Optional(inner) => {
            if rng.below(2) == 0 {
                Value::Null
            } else {
                gen_field(rng, inner, child, depth)?
            }
        }
        Field::Unknown => return None,
    })
}

fn build_at(
    rng: &mut Rng,
    name: &str,
    fs: &[(String, Field)],
    child: &SpecGen<'_>,
    depth: usize,
) -> Option<Value> {
    for _ in 0..30 {
        let mut map = Map::new();
        map.insert("type".into(), json!(name));
        for (f, kind) in fs {
            if let Some(v) = gen_field(rng, kind, child, depth) {
                map.insert(f.clone(), v);
            }
        }
        let value = Value::Object(map);
        if serde_json::from_value::<ScheduleSpec>(value.clone()).is_ok() {
            return Some(value);
        }
    }
    None
}
