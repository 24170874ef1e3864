//! [`HyperParams`]: named schedules (lr, momentum, betas, weight decay, temperatures...)
//! evaluated together per step.

use std::fmt;
use std::ops::Index;
use std::sync::Arc;

use crate::error::Error;
use crate::schedule::Schedule;
use crate::spec::ScheduleSpec;

/// A set of named hyperparameter schedules, evaluated together at a step.
///
/// Names are free-form (a temperature, a noise level, a resolution, a dropout rate); the
/// usual ones have constants: [`HyperParams::LR`], [`HyperParams::MOMENTUM`],
/// [`HyperParams::BETA1`], [`HyperParams::BETA2`], [`HyperParams::WEIGHT_DECAY`]. Order is
/// the order of insertion. A schedule added with [`HyperParams::with_spec`] carries a
/// fingerprint of its serialised spec, so a saved runtime state can only be restored into
/// a runtime with the same schedule.
///
/// # Errors
/// [`HyperParams::with`]: [`Error::DuplicateName`] for a name given twice,
/// [`Error::InvalidParameter`] for an empty name.
///
/// # Examples
///
/// ```
/// use cadence::{HyperParams, Linear};
///
/// let hp = HyperParams::new()
///     .with(HyperParams::LR, Linear::new(1e-3, 1e-4, 100)?)?
///     .with(HyperParams::MOMENTUM, Linear::new(0.85, 0.95, 100)?)?
///     .with("temperature", 0.07)?;
/// let mut values = hp.values();
/// hp.evaluate_into(50, &mut values); // no allocation per step
/// assert!((values["lr"] - 5.5e-4).abs() < 1e-15);
/// assert_eq!(values.get("temperature"), Some(0.07));
/// assert_eq!(values.get("beta2"), None);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct HyperParams {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    name: String,
    schedule: Arc<dyn Schedule>,
    fingerprint: Option<String>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("schedule", &self.schedule)
            .finish()
    }
}

impl HyperParams {
    /// The learning rate.
    pub const LR: &'static str = "lr";
    /// SGD momentum.
    pub const MOMENTUM: &'static str = "momentum";
    /// Adam's first-moment coefficient.
    pub const BETA1: &'static str = "beta1";
    /// Adam's second-moment coefficient.
    pub const BETA2: &'static str = "beta2";
    /// Weight decay.
    pub const WEIGHT_DECAY: &'static str = "weight_decay";

    /// An empty set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::HyperParams::new().is_empty());
    /// ```
    pub fn new() -> Self {
        HyperParams::default()
    }

    /// Adds a schedule under `name` (no fingerprint: closures and custom types cannot be
    /// serialised).
    ///
    /// # Errors
    /// [`Error::DuplicateName`] if `name` is taken; [`Error::InvalidParameter`] if empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{HyperParams, from_fn};
    ///
    /// let hp = HyperParams::new().with("lr", from_fn(|t| 0.1 / (1.0 + t as f64)))?;
    /// assert!(hp.clone_names().contains(&"lr".to_string()));
    /// assert!(hp.with("lr", 0.1).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with(self, name: &str, schedule: impl Schedule + 'static) -> Result<Self, Error> {
        self.push(name, Arc::new(schedule), None)
    }

    /// Adds a [`ScheduleSpec`] under `name`, with a fingerprint of its serialised form
    /// (with the `serde` feature) that saved states are checked against.
    ///
    /// # Errors
    /// As [`HyperParams::with`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{HyperParams, Linear, ScheduleSpec};
    ///
    /// let hp = HyperParams::new().with_spec("lr", ScheduleSpec::from(Linear::new(0.1, 0.0, 10)?))?;
    /// assert_eq!(hp.len(), 1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_spec(self, name: &str, spec: ScheduleSpec) -> Result<Self, Error> {
        #[cfg(feature = "serde")]
        let fingerprint = crate::fingerprint::of_serialize(&spec);
        #[cfg(not(feature = "serde"))]
        let fingerprint = None;
        self.push(name, Arc::new(spec), fingerprint)
    }

    fn push(
        mut self,
        name: &str,
        schedule: Arc<dyn Schedule>,
        fingerprint: Option<String>,
    ) -> Result<Self, Error> {
        if name.is_empty() {
            return Err(Error::invalid(
                "name",
                "\"\"",
                "a hyperparameter name must not be empty",
            ));
        }
        if self.entries.iter().any(|e| e.name == name) {
            return Err(Error::DuplicateName {
                kind: "hyperparameter",
                name: name.to_owned(),
            });
        }
        self.entries.push(Entry {
            name: name.to_owned(),
            schedule,
            fingerprint,
        });
        Ok(self)
    }

    /// The number of hyperparameters.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence::HyperParams::new().with("lr", 0.1)?.len(), 1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(cadence::HyperParams::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names, in insertion order.
    ///
    /// # Examples
    ///
    /// ```
    /// let hp = cadence::HyperParams::new().with("lr", 0.1)?.with("wd", 0.01)?;
    /// assert_eq!(hp.names().collect::<Vec<_>>(), ["lr", "wd"]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// The names, owned, in insertion order.
    ///
    /// # Examples
    ///
    /// ```
    /// let hp = cadence::HyperParams::new().with("lr", 0.1)?;
    /// assert_eq!(hp.clone_names(), ["lr"]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn clone_names(&self) -> Vec<String> {
        self.names().map(str::to_owned).collect()
    }

    /// The position of `name`, for allocation-free lookups in [`Values`].
    ///
    /// # Errors
    /// [`Error::UnknownName`] listing the known names.
    ///
    /// # Examples
    ///
    /// ```
    /// let hp = cadence::HyperParams::new().with("lr", 0.1)?.with("wd", 0.01)?;
    /// assert_eq!(hp.index_of("wd")?, 1);
    /// assert!(hp.index_of("beta1").is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn index_of(&self, name: &str) -> Result<usize, Error> {
        self.entries
            .iter()
            .position(|e| e.name == name)
            .ok_or_else(|| Error::UnknownName {
                kind: "hyperparameter",
                name: name.to_owned(),
                known: self.clone_names().join(", "),
            })
    }

    /// The schedule of `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::Schedule;
    ///
    /// let hp = cadence::HyperParams::new().with("lr", 0.1)?;
    /// assert_eq!(hp.schedule("lr").map(|s| s.value(7)), Some(0.1));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn schedule(&self, name: &str) -> Option<&dyn Schedule> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.schedule.as_ref())
    }

    /// The raw value of the `index`-th schedule at `step` (no controller scales).
    pub(crate) fn value_of(&self, index: usize, step: u64) -> f64 {
        self.entries[index].schedule.value(step)
    }

    /// The fingerprint of the `index`-th schedule, if it was added as a spec.
    pub(crate) fn fingerprint_of(&self, index: usize) -> Option<&str> {
        self.entries[index].fingerprint.as_deref()
    }

    /// A buffer holding every name, with the values at step 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let hp = cadence::HyperParams::new().with("lr", 0.1)?;
    /// assert_eq!(hp.values()["lr"], 0.1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn values(&self) -> Values {
        let mut v = Values {
            names: self.clone_names(),
            values: vec![0.0; self.len()],
        };
        self.evaluate_into(0, &mut v);
        v
    }

    /// Writes every value at `step` into `out` (a buffer from [`HyperParams::values`]);
    /// allocates nothing.
    ///
    /// # Panics
    /// Never; a buffer of another set is resized (allocating) and renamed.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{HyperParams, Linear};
    ///
    /// let hp = HyperParams::new().with("lr", Linear::new(1.0, 0.0, 10)?)?;
    /// let mut v = hp.values();
    /// hp.evaluate_into(5, &mut v);
    /// assert_eq!(v["lr"], 0.5);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn evaluate_into(&self, step: u64, out: &mut Values) {
        if out.names.len() != self.len() || !out.names.iter().zip(self.names()).all(|(a, b)| a == b)
        {
            out.names = self.clone_names();
            out.values.resize(self.len(), 0.0);
        }
        for (slot, entry) in out.values.iter_mut().zip(&self.entries) {
            *slot = entry.schedule.value(step);
        }
    }
}

/// The values of a [`HyperParams`] set at one step: look up by name or by position.
///
/// # Examples
///
/// ```
/// let hp = cadence::HyperParams::new().with("lr", 0.1)?.with("beta2", 0.999)?;
/// let v = hp.values();
/// assert_eq!(v[1], 0.999);
/// assert_eq!(v.iter().collect::<Vec<_>>(), [("lr", 0.1), ("beta2", 0.999)]);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    names: Vec<String>,
    values: Vec<f64>,
}

impl Values {
    /// The value of `name`, if present.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = cadence::HyperParams::new().with("lr", 0.1)?.values();
    /// assert_eq!(v.get("lr"), Some(0.1));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<f64> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.values[i])
    }

    /// `(name, value)` pairs in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = cadence::HyperParams::new().with("lr", 0.1)?.values();
    /// assert_eq!(v.iter().count(), 1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.values.iter().copied())
    }

    /// The values in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = cadence::HyperParams::new().with("lr", 0.1)?.values();
    /// assert_eq!(v.as_slice(), &[0.1]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn as_slice(&self) -> &[f64] {
        &self.values
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.values
    }
}

impl Index<usize> for Values {
    type Output = f64;

    fn index(&self, index: usize) -> &f64 {
        &self.values[index]
    }
}

impl Index<&str> for Values {
    type Output = f64;

    /// # Panics
    /// When `name` is not in the set (use [`Values::get`] to avoid that).
    fn index(&self, name: &str) -> &f64 {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no hyperparameter `{name}` in {:?}", self.names));
        &self.values[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Linear, from_fn};

    #[test]
    fn evaluates_all_together() {
        let hp = HyperParams::new()
            .with("lr", Linear::new(1.0, 0.0, 4).unwrap())
            .unwrap()
            .with("beta1", from_fn(|t| if t < 2 { 0.95 } else { 0.85 }))
            .unwrap();
        let mut v = hp.values();
        hp.evaluate_into(3, &mut v);
        assert_eq!(v.as_slice(), &[0.25, 0.85]);
        let cap = v.values.capacity();
        hp.evaluate_into(4, &mut v);
        assert_eq!(v.values.capacity(), cap);
        assert_eq!(v.as_slice(), &[0.0, 0.85]);
    }

    #[test]
    fn names_are_checked() {
        assert!(matches!(
            HyperParams::new().with("", 0.1),
            Err(Error::InvalidParameter { name: "name", .. })
        ));
        let hp = HyperParams::new().with("lr", 0.1).unwrap();
        let err = hp.index_of("momentum").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown hyperparameter `momentum`; known: [lr]"
        );
        let dup = hp.with("lr", 0.2).unwrap_err();
        assert_eq!(
            dup,
            Error::DuplicateName {
                kind: "hyperparameter",
                name: "lr".into()
            }
        );
    }

    #[test]
    fn foreign_buffer_is_adapted() {
        let a = HyperParams::new().with("lr", 0.1).unwrap();
        let b = HyperParams::new()
            .with("wd", 0.2)
            .unwrap()
            .with("t", 0.3)
            .unwrap();
        let mut v = a.values();
        b.evaluate_into(0, &mut v);
        assert_eq!(v.get("t"), Some(0.3));
        assert_eq!(v.get("lr"), None);
    }
}
