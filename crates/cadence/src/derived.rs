//! [`Derived`]: a value computed from a schedule's parameters once, kept with them.

use std::sync::OnceLock;

/// A value derived from a schedule's parameters (a logarithm, a table of cycle starts),
/// computed once so that evaluation does not pay for it at every step.
///
/// It is never state: it compares equal to any other `Derived` (the owner compares the
/// parameters), prints without its contents, and the owner's serde skips it. The owner
/// fills it in its `Validate::validate`, which every constructor and builder runs and
/// which every deserialised spec runs (a builder must [`reset`](Self::reset) it before
/// validating, since `..self` carries the old parameters' value along). Where it is
/// empty, as after deserialising a family type directly without validation, the owner
/// computes the value on the spot, so results never depend on whether it is filled.
#[derive(Clone)]
pub(crate) struct Derived<T>(OnceLock<T>);

impl<T> Default for Derived<T> {
    fn default() -> Self {
        Derived(OnceLock::new())
    }
}

impl<T> Derived<T> {
    /// The value, if filled.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        self.0.get()
    }

    /// Fills the value with `compute()` unless it is filled already.
    pub(crate) fn fill(&self, compute: impl FnOnce() -> T) {
        self.0.get_or_init(compute);
    }

    /// Empties it (the parameters changed).
    pub(crate) fn reset(&mut self) {
        self.0 = OnceLock::new();
    }
}

impl<T> PartialEq for Derived<T> {
    /// Always: the value follows from the parameters, which the owner compares.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for Derived<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.get().is_some() {
            "Derived(filled)"
        } else {
            "Derived(empty)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_once_resets_and_never_compares() {
        let mut d = Derived::default();
        assert_eq!(d.get(), None);
        d.fill(|| 2.0);
        d.fill(|| 3.0);
        assert_eq!(d.get(), Some(&2.0));
        assert_eq!(d, Derived::default());
        assert_eq!(format!("{d:?}"), "Derived(filled)");
        let copy = d.clone();
        d.reset();
        assert_eq!((d.get(), copy.get()), (None, Some(&2.0)));
    }
}
