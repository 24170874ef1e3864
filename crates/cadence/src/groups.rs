//! Per-group policies: parameter groups selected by name, each with an LR multiplier or its
//! own schedule, discriminative (layer-wise) rates and a freeze/unfreeze plan — all pure
//! functions of the step.
//!
//! ```
//! use cadence::{Group, GroupPlan};
//!
//! // Bottom (input side) to top (output side), as in fine-tuning recipes.
//! let plan = GroupPlan::new(vec![
//!     Group::prefix("embed", "embeddings.")?,
//!     Group::prefix("body", "encoder.")?,
//!     Group::prefix("head", "classifier.")?,
//! ])?
//! .layer_decay(0.5)?          // multipliers 0.25, 0.5, 1
//! .gradual_unfreezing(100);   // head from step 0, body from 100, embed from 200
//! let at_150: Vec<(String, f64, bool)> =
//!     plan.values(150, 1e-3).map(|g| (g.name.to_owned(), g.lr, g.frozen)).collect();
//! assert_eq!(at_150[0], ("embed".to_owned(), 0.0, true));
//! assert_eq!(at_150[1], ("body".to_owned(), 5e-4, false));
//! assert_eq!(plan.group_of("classifier.weight"), Some(2));
//! # Ok::<(), cadence::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, check};
use crate::schedule::Schedule;

/// Which parameters a group holds.
///
/// # Examples
///
/// ```
/// use cadence::groups::Selector;
///
/// assert!(Selector::Glob("encoder.*.bias".into()).matches("encoder.layer3.bias"));
/// assert!(Selector::Prefix("encoder.".into()).matches("encoder.layer3.bias"));
/// assert!(!Selector::Names(vec!["head.w".into()]).matches("head.b"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Every parameter whose name starts with the prefix.
    Prefix(String),
    /// Every parameter whose whole name matches the pattern: `*` matches any run of
    /// characters (dots included), `?` exactly one character.
    Glob(String),
    /// Exactly these parameter names.
    Names(Vec<String>),
}

impl Selector {
    /// Whether `param` is selected.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::groups::Selector::Glob("l?.w".into()).matches("l1.w"));
    /// ```
    pub fn matches(&self, param: &str) -> bool {
        match self {
            Selector::Prefix(p) => param.starts_with(p.as_str()),
            Selector::Glob(g) => glob_match(g.as_bytes(), param.as_bytes()),
            Selector::Names(names) => names.iter().any(|n| n == param),
        }
    }

    /// The precedence key: explicit names beat every pattern; among patterns, the one with
    /// more literal (non-wildcard) characters wins.
    fn specificity(&self) -> (u8, usize) {
        match self {
            Selector::Names(_) => (1, 0),
            Selector::Prefix(p) => (0, p.chars().count()),
            Selector::Glob(g) => (0, g.chars().filter(|&c| c != '*' && c != '?').count()),
        }
    }
}

/// Glob matching with `*` and `?`, iterative with single backtracking (linear in practice).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The clock a per-group schedule runs on.
///
/// # Examples
///
/// ```
/// assert_eq!(cadence::groups::GroupClock::default(), cadence::groups::GroupClock::Global);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupClock {
    /// The optimizer step.
    #[default]
    Global,
    /// Steps since the group joined training (its unfreezing step), so a newly unfrozen
    /// group can have its own warmup.
    SinceJoin,
}

/// How a group's learning rate is derived.
///
/// # Examples
///
/// ```
/// use cadence::groups::GroupLr;
///
/// assert_eq!(GroupLr::Multiplier(0.5).lr(100, 1e-3), 5e-4);
/// ```
#[derive(Debug, Clone)]
pub enum GroupLr {
    /// The global LR times this factor.
    Multiplier(f64),
    /// A schedule of the group's own (times the global controllers' scale, in a
    /// [`Runtime`](crate::Runtime)), on the given clock.
    Schedule(Arc<dyn Schedule>, GroupClock),
}

impl GroupLr {
    /// The group's LR at `step` (on the group's clock) given the global LR.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use cadence::groups::{GroupClock, GroupLr};
    ///
    /// let own = GroupLr::Schedule(Arc::new(0.2), GroupClock::Global);
    /// assert_eq!(own.lr(0, 1e-3), 0.2);
    /// ```
    pub fn lr(&self, step: u64, global_lr: f64) -> f64 {
        match self {
            GroupLr::Multiplier(m) => m * global_lr,
            GroupLr::Schedule(s, _) => s.value(step),
        }
    }
}

/// One parameter group: a name, a [`Selector`], an LR policy and the step it joins
/// training (frozen before; 0 = from the start).
///
/// # Examples
///
/// ```
/// use cadence::Group;
///
/// let g = Group::glob("norms", "*.norm.*")?.multiplier(2.0)?.join_at(500);
/// assert_eq!(g.name(), "norms");
/// assert_eq!(g.join_step(), 500);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Group {
    name: String,
    selector: Selector,
    lr: GroupLr,
    join_step: u64,
}

impl Group {
    fn build(name: &str, selector: Selector) -> Result<Self, Error> {
        if name.is_empty() {
            return Err(Error::invalid(
                "name",
                "\"\"",
                "a group name must not be empty",
            ));
        }
        let empty = match &selector {
            Selector::Prefix(p) => p.is_empty(),
            Selector::Glob(g) => g.is_empty(),
            Selector::Names(n) => n.is_empty() || n.iter().any(String::is_empty),
        };
        if empty {
            return Err(Error::EmptyGroup {
                group: name.to_owned(),
            });
        }
        Ok(Group {
            name: name.to_owned(),
            selector,
            lr: GroupLr::Multiplier(1.0),
            join_step: 0,
        })
    }

    /// The parameters whose names start with `prefix`.
    ///
    /// # Errors
    /// [`Error::EmptyGroup`] for an empty prefix; [`Error::InvalidParameter`] for an
    /// empty name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Group::prefix("head", "").is_err());
    /// ```
    pub fn prefix(name: &str, prefix: &str) -> Result<Self, Error> {
        Group::build(name, Selector::Prefix(prefix.to_owned()))
    }

    /// The parameters matching the glob `pattern` (`*`, `?`).
    ///
    /// # Errors
    /// As [`Group::prefix`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Group::glob("biases", "*.bias").is_ok());
    /// ```
    pub fn glob(name: &str, pattern: &str) -> Result<Self, Error> {
        Group::build(name, Selector::Glob(pattern.to_owned()))
    }

    /// Exactly the listed parameters.
    ///
    /// # Errors
    /// [`Error::EmptyGroup`] for an empty list or an empty name in it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Group::names("pos", &["pos_embed"]).is_ok());
    /// assert!(cadence::Group::names("none", &[]).is_err());
    /// ```
    pub fn names(name: &str, params: &[&str]) -> Result<Self, Error> {
        Group::build(
            name,
            Selector::Names(params.iter().map(|&p| p.to_owned()).collect()),
        )
    }

    /// The group's LR is the global LR times `m` (default 1).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `m` is finite and `>= 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::Group::prefix("a", "a.")?.multiplier(-1.0).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn multiplier(mut self, m: f64) -> Result<Self, Error> {
        check::non_negative("multiplier", m)?;
        self.lr = GroupLr::Multiplier(m);
        Ok(self)
    }

    /// The group follows a schedule of its own on `clock` instead of the global LR.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Group, Linear, groups::GroupClock};
    ///
    /// let head = Group::prefix("head", "head.")?.schedule(Linear::new(0.0, 1e-3, 10)?, GroupClock::SinceJoin);
    /// # let _ = head;
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn schedule(mut self, schedule: impl Schedule + 'static, clock: GroupClock) -> Self {
        self.lr = GroupLr::Schedule(Arc::new(schedule), clock);
        self
    }

    /// The group is frozen before `step` and trains from `step` on.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::Group::prefix("a", "a.")?.join_at(7).join_step(), 7);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn join_at(mut self, step: u64) -> Self {
        self.join_step = step;
        self
    }

    /// The group's name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::Group::prefix("a", "a.")?.name(), "a");
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The selector.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::groups::Selector;
    /// assert_eq!(cadence::Group::prefix("a", "a.")?.selector(), &Selector::Prefix("a.".into()));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// The LR policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::groups::GroupLr;
    /// assert!(matches!(cadence::Group::prefix("a", "a.")?.lr_policy(), GroupLr::Multiplier(m) if *m == 1.0));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn lr_policy(&self) -> &GroupLr {
        &self.lr
    }

    /// The step the group joins training.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::Group::prefix("a", "a.")?.join_step(), 0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn join_step(&self) -> u64 {
        self.join_step
    }

    /// A stable text describing the configuration, for fingerprints. A per-group schedule
    /// is described by its `Debug` output.
    pub(crate) fn describe(&self) -> String {
        let lr = match &self.lr {
            GroupLr::Multiplier(m) => format!("x{m:?}"),
            GroupLr::Schedule(s, clock) => format!("{s:?}@{clock:?}"),
        };
        format!("{}|{:?}|{lr}|{}", self.name, self.selector, self.join_step)
    }
}

/// The LR of one group at one step.
///
/// # Examples
///
/// ```
/// use cadence::{Group, GroupPlan};
///
/// let plan = GroupPlan::new(vec![Group::prefix("a", "a.")?.join_at(10)])?;
/// let g = plan.value(0, 5, 0.1);
/// assert_eq!((g.name, g.lr, g.frozen), ("a", 0.0, true));
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupValue<'a> {
    /// The group's name.
    pub name: &'a str,
    /// Its learning rate (0 while frozen).
    pub lr: f64,
    /// Whether it is frozen at this step.
    pub frozen: bool,
}

/// An ordered list of parameter groups with their policies.
///
/// Order matters for the discriminative-rate builders and gradual unfreezing: list groups
/// from the bottom of the network (input side) to the top (output side).
///
/// # Precedence when selectors overlap
/// A parameter belongs to exactly one group, chosen by:
/// 1. a group listing it explicitly ([`Group::names`]) — a name may be listed by one group
///    only;
/// 2. otherwise the matching pattern ([`Group::prefix`] or [`Group::glob`]) with the most
///    literal characters (wildcards not counted), so `encoder.layer.11.` beats `encoder.`;
/// 3. on a tie, the group declared first.
///
/// Parameters that no group selects belong to no group: they train with the global LR
/// ([`GroupPlan::assign`] reports them).
///
/// # Errors
/// [`GroupPlan::new`]: [`Error::InvalidParameter`] for no groups, [`Error::DuplicateName`]
/// for a group name given twice or a parameter listed by two groups.
///
/// # Examples
///
/// ```
/// use cadence::{Group, GroupPlan};
///
/// let plan = GroupPlan::new(vec![
///     Group::prefix("encoder", "encoder.")?,
///     Group::prefix("top_layer", "encoder.layer.11.")?.multiplier(2.0)?,
///     Group::names("pinned", &["encoder.layer.11.ln.bias"])?.multiplier(0.0)?,
/// ])?;
/// assert_eq!(plan.group_of("encoder.layer.3.w"), Some(0));
/// assert_eq!(plan.group_of("encoder.layer.11.w"), Some(1));
/// assert_eq!(plan.group_of("encoder.layer.11.ln.bias"), Some(2));
/// assert_eq!(plan.group_of("decoder.w"), None);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct GroupPlan {
    groups: Vec<Group>,
}

/// The parameters of a model assigned to the groups of a [`GroupPlan`].
///
/// # Examples
///
/// ```
/// use cadence::{Group, GroupPlan};
///
/// let plan = GroupPlan::new(vec![Group::glob("biases", "*.bias")?])?;
/// let a = plan.assign(&["l1.weight", "l1.bias"])?;
/// assert_eq!(a.members(0), ["l1.bias"]);
/// assert_eq!(a.unassigned(), ["l1.weight"]);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    members: Vec<Vec<String>>,
    unassigned: Vec<String>,
}

impl Assignment {
    /// The parameters of group `index`, in the order given.
    ///
    /// # Panics
    /// When `index` is not a group of the plan.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::{Group, GroupPlan};
    /// let plan = GroupPlan::new(vec![Group::prefix("a", "a.")?])?;
    /// assert_eq!(plan.assign(&["a.w"])?.members(0), ["a.w"]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn members(&self, index: usize) -> &[String] {
        &self.members[index]
    }

    /// The parameters no group selects (they use the global LR).
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::{Group, GroupPlan};
    /// let plan = GroupPlan::new(vec![Group::prefix("a", "a.")?])?;
    /// assert_eq!(plan.assign(&["a.w", "b.w"])?.unassigned(), ["b.w"]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn unassigned(&self) -> &[String] {
        &self.unassigned
    }
}

impl GroupPlan {
    /// A plan over `groups` (bottom to top); see the type's documentation.
    ///
    /// # Errors
    /// No groups; duplicate group names; a parameter listed explicitly by two groups.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Group, GroupPlan};
    ///
    /// assert!(GroupPlan::new(vec![]).is_err());
    /// assert!(GroupPlan::new(vec![Group::prefix("a", "x.")?, Group::prefix("a", "y.")?]).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn new(groups: Vec<Group>) -> Result<Self, Error> {
        if groups.is_empty() {
            return Err(Error::invalid(
                "groups",
                "[]",
                "a plan needs at least one group",
            ));
        }
        for (i, g) in groups.iter().enumerate() {
            if groups[..i].iter().any(|h| h.name == g.name) {
                return Err(Error::DuplicateName {
                    kind: "group",
                    name: g.name.clone(),
                });
            }
            if let Selector::Names(names) = &g.selector {
                for n in names {
                    let listed_before = groups[..i].iter().any(
                        |h| matches!(&h.selector, Selector::Names(other) if other.contains(n)),
                    );
                    if listed_before {
                        return Err(Error::DuplicateName {
                            kind: "explicitly grouped parameter",
                            name: n.clone(),
                        });
                    }
                }
            }
        }
        Ok(GroupPlan { groups })
    }

    /// Discriminative rates by geometric layer-wise decay: group `k` of `n` (bottom to top)
    /// gets its multiplier times `decay^(n - 1 - k)`, so the top group keeps the global LR.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `decay` is in `(0, 1]`; applies only to groups
    /// with a multiplier policy (others are left as they are).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Group, GroupPlan};
    ///
    /// let plan = GroupPlan::new(vec![Group::prefix("l0", "l0.")?, Group::prefix("l1", "l1.")?, Group::prefix("l2", "l2.")?])?
    ///     .layer_decay(0.8)?;
    /// assert!((plan.value(0, 0, 1.0).lr - 0.64).abs() < 1e-15);
    /// assert_eq!(plan.value(2, 0, 1.0).lr, 1.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    ///
    /// # References
    /// Layer-wise LR decay of ELECTRA and BEiT (Clark et al. 2020; Bao et al. 2021).
    pub fn layer_decay(self, decay: f64) -> Result<Self, Error> {
        let factors = geometric_decay(decay, self.groups.len())?;
        Ok(self.scale_multipliers(&factors))
    }

    /// Discriminative rates spaced evenly on a log scale from `low` (bottom group) to `high`
    /// (top group), fastai's `slice(low, high)`; they multiply each group's multiplier.
    /// With a base LR schedule peaking at 1 they are fastai's absolute rates; relative to a
    /// base LR `lr`, use `log_spaced(low / lr, high / lr)`.
    ///
    /// # Errors
    /// As [`log_spaced`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Group, GroupPlan};
    ///
    /// let plan = GroupPlan::new(vec![Group::prefix("a", "a.")?, Group::prefix("b", "b.")?, Group::prefix("c", "c.")?])?
    ///     .log_spaced(1e-5, 1e-3)?;
    /// assert!((plan.value(1, 0, 1.0).lr - 1e-4).abs() < 1e-18);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    ///
    /// # References
    /// fastai `Learner.fit_one_cycle(lr_max=slice(low, high))`, `even_mults`; Howard and
    /// Ruder 2018 (ULMFiT).
    pub fn log_spaced(self, low: f64, high: f64) -> Result<Self, Error> {
        let factors = log_spaced(low, high, self.groups.len())?;
        Ok(self.scale_multipliers(&factors))
    }

    fn scale_multipliers(mut self, factors: &[f64]) -> Self {
        for (g, f) in self.groups.iter_mut().zip(factors) {
            if let GroupLr::Multiplier(m) = &mut g.lr {
                *m *= f;
            }
        }
        self
    }

    /// Gradual unfreezing: the top group trains from step 0, the one below it from
    /// `every`, the next from `2 * every`, ... (ULMFiT). Overrides the join steps.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Group, GroupPlan};
    ///
    /// let plan = GroupPlan::new(vec![Group::prefix("a", "a.")?, Group::prefix("b", "b.")?])?.gradual_unfreezing(10);
    /// assert_eq!(plan.groups()[0].join_step(), 10);
    /// assert!(plan.is_frozen(0, 9) && !plan.is_frozen(0, 10));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    ///
    /// # References
    /// Howard and Ruder 2018, "Universal Language Model Fine-tuning for Text Classification".
    pub fn gradual_unfreezing(mut self, every: u64) -> Self {
        let n = self.groups.len() as u64;
        for (k, g) in self.groups.iter_mut().enumerate() {
            g.join_step = (n - 1 - k as u64).saturating_mul(every);
        }
        self
    }

    /// The groups, bottom to top.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::{Group, GroupPlan};
    /// assert_eq!(GroupPlan::new(vec![Group::prefix("a", "a.")?])?.groups().len(), 1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The position of the group named `name`.
    ///
    /// # Errors
    /// [`Error::UnknownName`] listing the groups.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::{Group, GroupPlan};
    /// let plan = GroupPlan::new(vec![Group::prefix("a", "a.")?])?;
    /// assert_eq!(plan.index_of("a")?, 0);
    /// assert!(plan.index_of("b").is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn index_of(&self, name: &str) -> Result<usize, Error> {
        self.groups
            .iter()
            .position(|g| g.name == name)
            .ok_or_else(|| Error::UnknownName {
                kind: "group",
                name: name.to_owned(),
                known: self
                    .groups
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The group a parameter belongs to, by the precedence rules of the type's
    /// documentation; `None` if no group selects it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::{Group, GroupPlan};
    /// let plan = GroupPlan::new(vec![Group::glob("b", "*.bias")?, Group::prefix("h", "head.")?])?;
    /// // "*.bias" and "head." both have 5 literal characters: the first declared wins.
    /// assert_eq!(plan.group_of("head.bias"), Some(0));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn group_of(&self, param: &str) -> Option<usize> {
        let mut best: Option<(usize, (u8, usize))> = None;
        for (i, g) in self.groups.iter().enumerate() {
            if !g.selector.matches(param) {
                continue;
            }
            let key = g.selector.specificity();
            if best.is_none_or(|(_, b)| key > b) {
                best = Some((i, key));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Assigns every parameter name to its group.
    ///
    /// # Errors
    /// [`Error::EmptyGroup`] for a group that ends up with no parameter (a typo in a
    /// prefix, or a group entirely shadowed by more specific ones).
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::{Group, GroupPlan};
    /// let plan = GroupPlan::new(vec![Group::prefix("enc", "encoder.")?])?;
    /// assert!(plan.assign(&["decoder.w"]).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn assign<S: AsRef<str>>(&self, params: &[S]) -> Result<Assignment, Error> {
        let mut members = vec![Vec::new(); self.groups.len()];
        let mut unassigned = Vec::new();
        for p in params {
            let p = p.as_ref();
            match self.group_of(p) {
                Some(i) => members[i].push(p.to_owned()),
                None => unassigned.push(p.to_owned()),
            }
        }
        if let Some(i) = members.iter().position(Vec::is_empty) {
            return Err(Error::EmptyGroup {
                group: self.groups[i].name.clone(),
            });
        }
        Ok(Assignment {
            members,
            unassigned,
        })
    }

    /// Whether group `index` is frozen at `step`.
    ///
    /// # Panics
    /// When `index` is not a group of the plan.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::{Group, GroupPlan};
    /// let plan = GroupPlan::new(vec![Group::prefix("a", "a.")?.join_at(3)])?;
    /// assert!(plan.is_frozen(0, 2));
    /// assert!(!plan.is_frozen(0, 3));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn is_frozen(&self, index: usize, step: u64) -> bool {
        step < self.groups[index].join_step
    }

    /// Group `index` at `step`, given the global LR at that step: its LR (0 while frozen).
    /// A per-group schedule ignores `global_lr`; in a [`Runtime`](crate::Runtime) it is
    /// multiplied by the LR controllers' scale.
    ///
    /// # Panics
    /// When `index` is not a group of the plan.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::{Group, GroupPlan};
    /// let plan = GroupPlan::new(vec![Group::prefix("a", "a.")?.multiplier(0.1)?])?;
    /// assert!((plan.value(0, 1_000, 3e-4).lr - 3e-5).abs() < 1e-20);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn value(&self, index: usize, step: u64, global_lr: f64) -> GroupValue<'_> {
        self.value_scaled(index, step, global_lr, 1.0)
    }

    /// As [`GroupPlan::value`], with the scale the global controllers apply to own
    /// schedules.
    pub(crate) fn value_scaled(
        &self,
        index: usize,
        step: u64,
        global_lr: f64,
        scale: f64,
    ) -> GroupValue<'_> {
        let g = &self.groups[index];
        let frozen = step < g.join_step;
        let lr = if frozen {
            0.0
        } else {
            match &g.lr {
                GroupLr::Multiplier(m) => m * global_lr,
                GroupLr::Schedule(s, GroupClock::Global) => s.value(step) * scale,
                GroupLr::Schedule(s, GroupClock::SinceJoin) => s.value(step - g.join_step) * scale,
            }
        };
        GroupValue {
            name: &g.name,
            lr,
            frozen,
        }
    }

    /// Every group at `step`, bottom to top, without allocating.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cadence::{Group, GroupPlan};
    /// let plan = GroupPlan::new(vec![Group::prefix("a", "a.")?, Group::prefix("b", "b.")?.join_at(5)])?;
    /// let frozen: Vec<bool> = plan.values(0, 0.1).map(|g| g.frozen).collect();
    /// assert_eq!(frozen, [false, true]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn values(&self, step: u64, global_lr: f64) -> impl Iterator<Item = GroupValue<'_>> + '_ {
        (0..self.groups.len()).map(move |i| self.value(i, step, global_lr))
    }

    /// A stable fingerprint of the plan's configuration.
    pub(crate) fn fingerprint(&self) -> String {
        let text: Vec<String> = self.groups.iter().map(Group::describe).collect();
        crate::fingerprint::fnv1a_hex(text.join("\n").as_bytes())
    }
}

impl fmt::Display for GroupValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.frozen {
            write!(f, "{}: frozen", self.name)
        } else {
            write!(f, "{}: lr {}", self.name, self.lr)
        }
    }
}

/// Multipliers for geometric layer-wise decay: `decay^(n-1), ..., decay, 1` (bottom to top).
///
/// # Errors
/// [`Error::InvalidParameter`] unless `decay` is in `(0, 1]` and `n >= 1`.
///
/// # Examples
///
/// ```
/// assert_eq!(cadence::groups::geometric_decay(0.5, 3)?, [0.25, 0.5, 1.0]);
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn geometric_decay(decay: f64, n: usize) -> Result<Vec<f64>, Error> {
    if !(decay.is_finite() && decay > 0.0 && decay <= 1.0) {
        return Err(Error::invalid("decay", decay, "must be in (0, 1]"));
    }
    check::at_least_one("n", n as u64)?;
    Ok((0..n).map(|k| decay.powi((n - 1 - k) as i32)).collect())
}

/// `n` values evenly spaced on a log scale from `low` to `high` (fastai's `even_mults`):
/// `low * (high / low)^(k / (n - 1))`; one value gives `[high]`.
///
/// # Errors
/// [`Error::InvalidParameter`] unless `0 < low <= high` are finite and `n >= 1`.
///
/// # Examples
///
/// ```
/// let v = cadence::groups::log_spaced(1e-4, 1e-2, 3)?;
/// assert!((v[1] - 1e-3).abs() < 1e-18);
/// assert_eq!(cadence::groups::log_spaced(1e-4, 1e-2, 1)?, [1e-2]);
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn log_spaced(low: f64, high: f64, n: usize) -> Result<Vec<f64>, Error> {
    check::positive("low", low)?;
    check::positive("high", high)?;
    if low > high {
        return Err(Error::invalid(
            "low",
            low,
            format!("must be <= high = {high}"),
        ));
    }
    check::at_least_one("n", n as u64)?;
    if n == 1 {
        return Ok(vec![high]);
    }
    let ratio = high / low;
    Ok((0..n)
        .map(|k| {
            if k == n - 1 {
                high
            } else {
                low * ratio.powf(k as f64 / (n - 1) as f64)
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Linear;

    fn plan(groups: Vec<Group>) -> GroupPlan {
        GroupPlan::new(groups).unwrap()
    }

    #[test]
    fn glob_matching() {
        let cases = [
            ("*", "anything", true),
            ("a*c", "abc", true),
            ("a*c", "ac", true),
            ("a*c", "abd", false),
            ("*.bias", "encoder.layer.1.bias", true),
            ("*.bias", "encoder.layer.1.bias_hh", false),
            ("l?.w", "l12.w", false),
            ("**x", "yx", true),
            ("a*b*c", "aXbYbZc", true),
            ("", "", true),
        ];
        for (p, t, expected) in cases {
            assert_eq!(
                glob_match(p.as_bytes(), t.as_bytes()),
                expected,
                "{p} vs {t}"
            );
        }
    }

    #[test]
    fn prefix_matching() {
        let p = plan(vec![
            Group::prefix("enc", "encoder.").unwrap(),
            Group::prefix("dec", "decoder.").unwrap(),
        ]);
        assert_eq!(p.group_of("encoder.w"), Some(0));
        assert_eq!(p.group_of("decoder.w"), Some(1));
        assert_eq!(p.group_of("encoderx.w"), None);
        assert_eq!(p.group_of("head.w"), None);
    }

    #[test]
    fn precedence_when_patterns_overlap() {
        let p = plan(vec![
            Group::glob("all_bias", "*.bias").unwrap(), // 5 literal chars
            Group::prefix("encoder", "encoder.").unwrap(), // 8
            Group::glob("enc_layer_bias", "encoder.*.bias").unwrap(), // 13
            Group::prefix("layer11", "encoder.layer11.").unwrap(), // 16
            Group::names("pinned", &["encoder.layer11.bias", "x.bias"]).unwrap(),
            Group::prefix("head", "head.").unwrap(), // 5
        ]);
        assert_eq!(
            p.group_of("encoder.layer3.weight"),
            Some(1),
            "prefix beats shorter glob only by length"
        );
        assert_eq!(
            p.group_of("encoder.layer3.bias"),
            Some(2),
            "longer glob beats shorter prefix"
        );
        assert_eq!(p.group_of("encoder.layer11.weight"), Some(3));
        assert_eq!(
            p.group_of("encoder.layer11.norm.bias"),
            Some(3),
            "16 literal > 13"
        );
        assert_eq!(
            p.group_of("encoder.layer11.bias"),
            Some(4),
            "explicit names win"
        );
        assert_eq!(p.group_of("x.bias"), Some(4));
        assert_eq!(p.group_of("head.bias"), Some(0), "tie at 5: first declared");
        assert_eq!(p.group_of("decoder.bias"), Some(0));
    }

    #[test]
    fn plan_validation() {
        assert!(matches!(
            GroupPlan::new(vec![]),
            Err(Error::InvalidParameter { name: "groups", .. })
        ));
        let two_lists = GroupPlan::new(vec![
            Group::names("a", &["p"]).unwrap(),
            Group::names("b", &["q", "p"]).unwrap(),
        ]);
        assert!(matches!(two_lists, Err(Error::DuplicateName { name, .. }) if name == "p"));
        assert!(matches!(
            Group::names("a", &[]),
            Err(Error::EmptyGroup { .. })
        ));
        assert!(matches!(
            Group::glob("a", ""),
            Err(Error::EmptyGroup { .. })
        ));
        assert!(Group::prefix("", "a.").is_err());
        let p = plan(vec![
            Group::prefix("enc", "encoder.").unwrap(),
            Group::prefix("enc_l0", "encoder.l0.").unwrap(),
        ]);
        // All of encoder.l0.* goes to the more specific group, leaving "enc" empty.
        assert_eq!(
            p.assign(&["encoder.l0.w"]),
            Err(Error::EmptyGroup {
                group: "enc".into()
            })
        );
        assert!(matches!(
            p.index_of("nope"),
            Err(Error::UnknownName { kind: "group", .. })
        ));
    }

    #[test]
    fn unfreezing_at_planned_steps() {
        let p = plan(vec![
            Group::prefix("l0", "l0.").unwrap(),
            Group::prefix("l1", "l1.").unwrap(),
            Group::prefix("l2", "l2.").unwrap(),
        ])
        .gradual_unfreezing(100);
        let frozen_at = |step| p.values(step, 1.0).map(|g| g.frozen).collect::<Vec<_>>();
        assert_eq!(frozen_at(0), [true, true, false]);
        assert_eq!(frozen_at(99), [true, true, false]);
        assert_eq!(frozen_at(100), [true, false, false]);
        assert_eq!(frozen_at(199), [true, false, false]);
        assert_eq!(frozen_at(200), [false, false, false]);
        assert_eq!(frozen_at(u64::MAX), [false, false, false]);
        for g in p.values(150, 1.0) {
            assert_eq!(g.lr == 0.0, g.frozen, "{g}");
        }
    }

    #[test]
    fn own_schedule_on_join_clock() {
        let p = plan(vec![
            Group::prefix("new", "new.")
                .unwrap()
                .schedule(Linear::new(0.0, 1.0, 10).unwrap(), GroupClock::SinceJoin)
                .join_at(50),
            Group::prefix("old", "old.")
                .unwrap()
                .schedule(Linear::new(0.0, 1.0, 10).unwrap(), GroupClock::Global)
                .join_at(50),
        ]);
        assert_eq!(p.value(0, 49, 9.0).lr, 0.0);
        assert_eq!(p.value(0, 50, 9.0).lr, 0.0);
        assert_eq!(p.value(0, 55, 9.0).lr, 0.5);
        assert_eq!(p.value(1, 55, 9.0).lr, 1.0);
    }

    #[test]
    fn discriminative_rates() {
        let p = plan(
            (0..4)
                .map(|k| Group::prefix(&format!("l{k}"), &format!("l{k}.")).unwrap())
                .collect(),
        )
        .layer_decay(0.5)
        .unwrap();
        let lrs: Vec<f64> = p.values(0, 0.1).map(|g| g.lr).collect();
        assert_eq!(lrs, [0.0125, 0.025, 0.05, 0.1]);
        let fastai = log_spaced(1e-5, 1e-3, 5).unwrap();
        assert_eq!(fastai[0], 1e-5);
        assert_eq!(fastai[4], 1e-3);
        for w in fastai.windows(2) {
            assert!((w[1] / w[0] - 10f64.sqrt()).abs() < 1e-12);
        }
        assert!(geometric_decay(0.0, 3).is_err());
        assert!(geometric_decay(0.5, 0).is_err());
        assert!(log_spaced(1e-3, 1e-5, 3).is_err());
        assert!(log_spaced(-1.0, 1.0, 3).is_err());
    }
}
