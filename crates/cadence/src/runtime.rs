//! [`Runtime`]: the object a training loop holds — the step counter, the hyperparameter
//! schedules, the controllers and the per-group plan — with exact, validated resume.

use crate::controllers::{Controller, ControllerState, Decision, Observation};
use crate::error::Error;
use crate::groups::{GroupPlan, GroupValue};
use crate::hparams::{HyperParams, Values};

/// The version of [`RuntimeState`]'s format written by this crate; a state of another
/// version is refused by [`Runtime::restore`].
///
/// # Examples
///
/// ```
/// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
/// assert_eq!(rt.state().version(), cadence::runtime::STATE_VERSION);
/// # Ok::<(), cadence::Error>(())
/// ```
pub const STATE_VERSION: u32 = 1;

/// What to do after a micro-batch under gradient accumulation ([`Runtime::micro_step`]).
///
/// # Examples
///
/// ```
/// use cadence::{HyperParams, Runtime, runtime::MicroStep};
///
/// let mut rt = Runtime::new(HyperParams::new().with("lr", 0.1)?).with_accumulation(2)?;
/// assert_eq!(rt.micro_step(), MicroStep::Accumulate);
/// assert_eq!(rt.micro_step(), MicroStep::Update);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MicroStep {
    /// Keep accumulating gradients; do not step the optimizer.
    Accumulate,
    /// The accumulation is complete: step the optimizer, then call [`Runtime::advance`]
    /// (or [`Runtime::skip`] if the step was skipped, e.g. on a gradient overflow).
    Update,
}

#[derive(Debug)]
struct Attached {
    controller: Box<dyn Controller>,
    /// The index of the hyperparameter the controller scales; `None` for a monitor.
    target: Option<usize>,
}

/// The scheduler object of a training loop.
///
/// - The clock counts *optimizer* steps: [`Runtime::advance`] after each step the optimizer
///   took, [`Runtime::skip`] for one it did not take (an overflow-skipped mixed-precision
///   step), which leaves every schedule where it was. With gradient accumulation,
///   [`Runtime::micro_step`] after each micro-batch says when to step.
/// - [`Runtime::values`] are the hyperparameters at the current step: each schedule's value
///   times the scale of every controller attached to it. They are recomputed when the clock
///   or a scale changes, into a buffer allocated once.
/// - [`Runtime::observe`] feeds a metric to the controllers, in the order they were
///   attached; a `Rollback` or `Stop` ends the round (later controllers do not see a metric
///   from a step that is being discarded or is final), and the most severe decision is
///   returned. Attach a [`DivergenceGuard`](crate::controllers::DivergenceGuard) first so
///   that it sees non-finite losses before anything else.
/// - [`Runtime::groups`] evaluates the per-group plan at the current step.
/// - [`Runtime::state`] / [`Runtime::restore`] save and resume exactly; the state is
///   versioned and checked against this runtime's configuration.
///
/// # Errors
/// The builders fail on unknown names and invalid counts; [`Runtime::observe`] on a
/// metric no controller can take; [`Runtime::restore`] on a state that does not fit.
///
/// # Examples
///
/// ```
/// use cadence::controllers::{PlateauConfig, ReduceOnPlateau};
/// use cadence::{HyperParams, Linear, Runtime};
///
/// let hp = HyperParams::new()
///     .with("lr", Linear::new(0.0, 0.1, 10)?)?   // warmup to 0.1
///     .with("momentum", 0.9)?;
/// let plateau = ReduceOnPlateau::new(PlateauConfig { factor: 0.5, patience: 0, ..Default::default() })?;
/// let mut rt = Runtime::new(hp).with_controller("lr", plateau)?;
/// for loss in [1.0, 0.9, 0.9, 0.8] {
///     // train one step with rt.values()["lr"], rt.values()["momentum"]...
///     rt.advance();
///     rt.observe(loss)?;
/// }
/// assert_eq!(rt.step(), 4);
/// assert!((rt.values()["lr"] - 0.04 * 0.5).abs() < 1e-15); // warmup value, halved once
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug)]
pub struct Runtime {
    hparams: HyperParams,
    controllers: Vec<Attached>,
    groups: Option<GroupPlan>,
    lr_index: Option<usize>,
    accumulation: u32,
    step: u64,
    micro: u32,
    skipped: u64,
    values: Values,
}

impl Runtime {
    /// A runtime at step 0 over `hparams`, with no controllers, no groups and no
    /// gradient accumulation.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert_eq!(rt.step(), 0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn new(hparams: HyperParams) -> Self {
        let values = hparams.values();
        let lr_index = hparams.index_of(HyperParams::LR).ok();
        Runtime {
            hparams,
            controllers: Vec::new(),
            groups: None,
            lr_index,
            accumulation: 1,
            step: 0,
            micro: 0,
            skipped: 0,
            values,
        }
    }

    /// Attaches a controller whose scale multiplies the hyperparameter `target`.
    ///
    /// # Errors
    /// [`Error::UnknownName`] if `target` is not a hyperparameter of the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{PlateauConfig, ReduceOnPlateau};
    ///
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert!(rt.with_controller("momentum", ReduceOnPlateau::new(PlateauConfig::default())?).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_controller(
        mut self,
        target: &str,
        controller: impl Controller + 'static,
    ) -> Result<Self, Error> {
        let target = self.hparams.index_of(target)?;
        self.controllers.push(Attached {
            controller: Box::new(controller),
            target: Some(target),
        });
        self.refresh();
        Ok(self)
    }

    /// Attaches a controller whose scale is not applied to anything (early stopping).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::EarlyStopping;
    ///
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?)
    ///     .with_monitor(EarlyStopping::new(Default::default())?);
    /// assert_eq!(rt.controllers().count(), 1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_monitor(mut self, controller: impl Controller + 'static) -> Self {
        self.controllers.push(Attached {
            controller: Box::new(controller),
            target: None,
        });
        self
    }

    /// Adds a per-group plan, evaluated on the `"lr"` hyperparameter.
    ///
    /// # Errors
    /// [`Error::UnknownName`] if the set has no `"lr"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Group, GroupPlan, HyperParams, Runtime};
    ///
    /// let plan = GroupPlan::new(vec![Group::prefix("head", "head.")?.multiplier(10.0)?])?;
    /// let rt = Runtime::new(HyperParams::new().with("lr", 1e-4)?).with_groups(plan)?;
    /// assert!((rt.groups().next().unwrap().lr - 1e-3).abs() < 1e-18);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_groups(mut self, plan: GroupPlan) -> Result<Self, Error> {
        self.lr_index = Some(self.hparams.index_of(HyperParams::LR)?);
        self.groups = Some(plan);
        Ok(self)
    }

    /// Gradient accumulation over `micro_steps` micro-batches per optimizer step.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert!(rt.with_accumulation(0).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn with_accumulation(mut self, micro_steps: u32) -> Result<Self, Error> {
        if micro_steps == 0 {
            return Err(Error::invalid("micro_steps", 0, "must be at least 1"));
        }
        self.accumulation = micro_steps;
        Ok(self)
    }

    /// Optimizer steps taken (the schedules' clock).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// rt.advance();
    /// assert_eq!(rt.step(), 1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Micro-batches accumulated towards the next optimizer step.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?).with_accumulation(4)?;
    /// rt.micro_step();
    /// assert_eq!(rt.micro(), 1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn micro(&self) -> u32 {
        self.micro
    }

    /// Optimizer steps skipped so far ([`Runtime::skip`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// rt.skip();
    /// assert_eq!((rt.step(), rt.skipped()), (0, 1));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The hyperparameter values at the current step, controller scales applied.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert_eq!(rt.values()["lr"], 0.1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// The hyperparameter set.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert_eq!(rt.hyperparams().len(), 1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn hyperparams(&self) -> &HyperParams {
        &self.hparams
    }

    /// The controllers, in the order attached.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert_eq!(rt.controllers().count(), 0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn controllers(&self) -> impl Iterator<Item = &dyn Controller> + '_ {
        self.controllers.iter().map(|a| a.controller.as_ref())
    }

    /// The product of the scales of the controllers attached to hyperparameter `name`
    /// (1 when there are none or the name is unknown).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert_eq!(rt.scale("lr"), 1.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn scale(&self, name: &str) -> f64 {
        match self.hparams.index_of(name) {
            Ok(i) => self.scale_of(i, None),
            Err(_) => 1.0,
        }
    }

    /// The product of the scales on hyperparameter `index`, leaving out controller `skip`.
    fn scale_of(&self, index: usize, skip: Option<usize>) -> f64 {
        self.controllers
            .iter()
            .enumerate()
            .filter(|&(j, a)| a.target == Some(index) && Some(j) != skip)
            .map(|(_, a)| a.controller.scale())
            .product()
    }

    fn refresh(&mut self) {
        self.hparams.evaluate_into(self.step, &mut self.values);
        for a in &self.controllers {
            if let Some(t) = a.target {
                self.values.as_mut_slice()[t] *= a.controller.scale();
            }
        }
    }

    /// After a micro-batch: whether the optimizer should step now.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::runtime::MicroStep;
    ///
    /// let mut rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?).with_accumulation(3)?;
    /// let plan: Vec<MicroStep> = (0..3).map(|_| rt.micro_step()).collect();
    /// assert_eq!(plan, [MicroStep::Accumulate, MicroStep::Accumulate, MicroStep::Update]);
    /// rt.advance();
    /// assert_eq!((rt.step(), rt.micro()), (1, 0));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn micro_step(&mut self) -> MicroStep {
        self.micro = self.micro.saturating_add(1).min(self.accumulation);
        if self.micro == self.accumulation {
            MicroStep::Update
        } else {
            MicroStep::Accumulate
        }
    }

    /// The optimizer took a step: the clock moves on and the values are recomputed.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{HyperParams, Linear, Runtime};
    ///
    /// let mut rt = Runtime::new(HyperParams::new().with("lr", Linear::new(1.0, 0.0, 4)?)?);
    /// rt.advance();
    /// assert_eq!(rt.values()["lr"], 0.75);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn advance(&mut self) {
        self.step = self.step.saturating_add(1);
        self.micro = 0;
        self.refresh();
    }

    /// The optimizer did not take the step (e.g. skipped on a gradient overflow): the clock
    /// and the values stay, the accumulated micro-batches are dropped, the skip is counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{HyperParams, Linear, Runtime};
    ///
    /// let mut rt = Runtime::new(HyperParams::new().with("lr", Linear::new(1.0, 0.0, 4)?)?);
    /// rt.skip();
    /// assert_eq!(rt.values()["lr"], 1.0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn skip(&mut self) {
        self.skipped = self.skipped.saturating_add(1);
        self.micro = 0;
    }

    /// Moves the clock back to `step` after restoring a checkpoint taken at that step
    /// (the answer to a [`Decision::Rollback`]). Controllers keep their state, so a
    /// divergence guard's retries and cut survive the rollback.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `step` is ahead of the current step.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// rt.advance();
    /// rt.advance();
    /// rt.rewind(1)?;
    /// assert_eq!(rt.step(), 1);
    /// assert!(rt.rewind(5).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn rewind(&mut self, step: u64) -> Result<(), Error> {
        if step > self.step {
            let rule = format!("must be <= the current step {}", self.step);
            return Err(Error::invalid("step", step, rule));
        }
        self.step = step;
        self.micro = 0;
        self.refresh();
        Ok(())
    }

    /// Feeds `metric`, measured after [`Runtime::step`] optimizer steps, to the controllers
    /// (in the order attached) and returns the most severe [`Decision`].
    ///
    /// Each controller sees as base the value its scale multiplies at the current step
    /// (its hyperparameter's schedule times the other controllers' scales on it). A
    /// `Rollback` or `Stop` ends the round. A non-finite metric goes to the controllers that
    /// accept it (a divergence guard); the others skip it unchanged.
    ///
    /// # Errors
    /// [`Error::NonFiniteMetric`] if the metric is not finite and no controller accepts it.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::controllers::{Decision, DivergenceGuard, PlateauConfig, ReduceOnPlateau};
    /// use cadence::{HyperParams, Runtime};
    ///
    /// let mut rt = Runtime::new(HyperParams::new().with("lr", 0.1)?)
    ///     .with_controller("lr", ReduceOnPlateau::new(PlateauConfig::default())?)?;
    /// assert!(rt.observe(f64::NAN).is_err());
    /// let mut guarded = Runtime::new(HyperParams::new().with("lr", 0.1)?)
    ///     .with_controller("lr", DivergenceGuard::new(Default::default())?)?
    ///     .with_controller("lr", ReduceOnPlateau::new(PlateauConfig::default())?)?;
    /// assert!(matches!(guarded.observe(f64::NAN)?, Decision::Rollback { .. }));
    /// assert_eq!(guarded.values()["lr"], 0.05);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn observe(&mut self, metric: f64) -> Result<Decision, Error> {
        let mut worst = Decision::Continue;
        let mut first_refusal = None;
        let mut accepted = false;
        for i in 0..self.controllers.len() {
            let base = match self.controllers[i].target {
                Some(t) => self.hparams.value_of(t, self.step) * self.scale_of(t, Some(i)),
                None => 1.0,
            };
            let obs = Observation {
                step: self.step,
                metric,
                base,
            };
            match self.controllers[i].controller.observe(obs) {
                Ok(d) => {
                    accepted = true;
                    let ends_round = matches!(d, Decision::Rollback { .. } | Decision::Stop(_));
                    if d.severity() > worst.severity() {
                        worst = d;
                    }
                    if ends_round {
                        break;
                    }
                }
                Err(e @ Error::NonFiniteMetric { .. }) if !metric.is_finite() => {
                    first_refusal.get_or_insert(e);
                }
                Err(e) => {
                    self.refresh();
                    return Err(e);
                }
            }
        }
        self.refresh();
        match first_refusal {
            Some(e) if !accepted => Err(e),
            _ => Ok(worst),
        }
    }

    /// The per-group LRs at the current step (empty without a plan): multipliers apply to
    /// the scaled global LR, per-group schedules are multiplied by the LR controllers' scale.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{Group, GroupPlan, HyperParams, Runtime};
    ///
    /// let plan = GroupPlan::new(vec![Group::prefix("body", "body.")?.join_at(2), Group::prefix("head", "head.")?])?;
    /// let mut rt = Runtime::new(HyperParams::new().with("lr", 0.1)?).with_groups(plan)?;
    /// assert_eq!(rt.groups().map(|g| g.frozen).collect::<Vec<_>>(), [true, false]);
    /// rt.advance();
    /// rt.advance();
    /// assert_eq!(rt.groups().map(|g| g.frozen).collect::<Vec<_>>(), [false, false]);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn groups(&self) -> impl Iterator<Item = GroupValue<'_>> + '_ {
        let (global, scale) = match self.lr_index {
            Some(i) => (self.values[i], self.scale_of(i, None)),
            None => (0.0, 1.0),
        };
        self.groups.iter().flat_map(move |plan| {
            (0..plan.groups().len()).map(move |i| plan.value_scaled(i, self.step, global, scale))
        })
    }

    /// The group plan, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert!(rt.group_plan().is_none());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn group_plan(&self) -> Option<&GroupPlan> {
        self.groups.as_ref()
    }

    /// A snapshot of everything that changes during training, with what is needed to
    /// recognise the configuration it belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// rt.advance();
    /// assert_eq!(rt.state().step(), 1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn state(&self) -> RuntimeState {
        let names = self.hparams.clone_names();
        RuntimeState {
            version: STATE_VERSION,
            step: self.step,
            micro: self.micro,
            skipped: self.skipped,
            accumulation: self.accumulation,
            hyperparams: names
                .iter()
                .enumerate()
                .map(|(i, name)| ParamEntry {
                    name: name.clone(),
                    fingerprint: self.hparams.fingerprint_of(i).map(str::to_owned),
                })
                .collect(),
            groups: self.groups.as_ref().map(GroupPlan::fingerprint),
            controllers: self
                .controllers
                .iter()
                .map(|a| ControllerEntry {
                    target: a.target.map(|t| names[t].clone()),
                    fingerprint: a.controller.fingerprint(),
                    state: a.controller.state(),
                })
                .collect(),
        }
    }

    /// Restores a snapshot taken by [`Runtime::state`] of an identically configured
    /// runtime; afterwards this runtime behaves exactly as the original did from then on.
    /// All or nothing: on error nothing changes.
    ///
    /// # Errors
    /// [`Error::StateMismatch`] naming the field (`version`, `hyperparams[1].name`,
    /// `controllers[0].fingerprint`, `groups`, `accumulation`...) when the state belongs to
    /// another format version or configuration; [`Error::CorruptState`] naming the field
    /// when a value breaks an invariant (`micro`, `controllers[2].cooldown_left`...).
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence::{HyperParams, Runtime};
    ///
    /// let mut a = Runtime::new(HyperParams::new().with("lr", 0.1)?);
    /// a.advance();
    /// let mut b = Runtime::new(HyperParams::new().with("lr", 0.1)?);
    /// b.restore(&a.state())?;
    /// assert_eq!(b.step(), 1);
    /// let mut c = Runtime::new(HyperParams::new().with("learning_rate", 0.1)?);
    /// assert!(c.restore(&a.state()).is_err());
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn restore(&mut self, state: &RuntimeState) -> Result<(), Error> {
        self.check_configuration(state)?;
        if state.micro > state.accumulation {
            let rule = format!("must be <= accumulation = {}", state.accumulation);
            return Err(Error::corrupt("micro", state.micro, rule));
        }
        let saved: Vec<ControllerState> = self
            .controllers
            .iter()
            .map(|a| a.controller.state())
            .collect();
        for (i, entry) in state.controllers.iter().enumerate() {
            if let Err(e) = self.controllers[i].controller.restore(&entry.state) {
                for (a, old) in self.controllers.iter_mut().zip(&saved).take(i) {
                    // Restoring a state this controller produced cannot fail.
                    let _ = a.controller.restore(old);
                }
                return Err(e.in_field(&format!("controllers[{i}]")));
            }
        }
        self.step = state.step;
        self.micro = state.micro;
        self.skipped = state.skipped;
        self.refresh();
        Ok(())
    }

    fn check_configuration(&self, state: &RuntimeState) -> Result<(), Error> {
        if state.version != STATE_VERSION {
            return Err(Error::mismatch("version", STATE_VERSION, state.version));
        }
        if state.accumulation != self.accumulation {
            return Err(Error::mismatch(
                "accumulation",
                self.accumulation,
                state.accumulation,
            ));
        }
        let names = self.hparams.clone_names();
        if state.hyperparams.len() != names.len() {
            let found: Vec<&str> = state.hyperparams.iter().map(|p| p.name.as_str()).collect();
            return Err(Error::mismatch(
                "hyperparams",
                format!("{names:?}"),
                format!("{found:?}"),
            ));
        }
        for (i, (p, name)) in state.hyperparams.iter().zip(&names).enumerate() {
            if &p.name != name {
                return Err(Error::mismatch(
                    format!("hyperparams[{i}].name"),
                    name,
                    &p.name,
                ));
            }
            let mine = self.hparams.fingerprint_of(i);
            if p.fingerprint.as_deref() != mine {
                return Err(Error::mismatch(
                    format!("hyperparams[{i}].fingerprint"),
                    show(mine),
                    show(p.fingerprint.as_deref()),
                ));
            }
        }
        let mine = self.groups.as_ref().map(GroupPlan::fingerprint);
        if state.groups != mine {
            return Err(Error::mismatch(
                "groups",
                show(mine.as_deref()),
                show(state.groups.as_deref()),
            ));
        }
        if state.controllers.len() != self.controllers.len() {
            return Err(Error::mismatch(
                "controllers",
                self.controllers.len(),
                state.controllers.len(),
            ));
        }
        for (i, (entry, a)) in state.controllers.iter().zip(&self.controllers).enumerate() {
            let target = a.target.and_then(|t| names.get(t).cloned());
            if entry.target != target {
                return Err(Error::mismatch(
                    format!("controllers[{i}].target"),
                    show(target.as_deref()),
                    show(entry.target.as_deref()),
                ));
            }
            let own = a.controller.state();
            let kind = own.kind();
            if entry.state.kind() != kind {
                return Err(Error::mismatch(
                    format!("controllers[{i}].kind"),
                    kind,
                    entry.state.kind(),
                ));
            }
            let fingerprint = a.controller.fingerprint();
            if entry.fingerprint != fingerprint {
                return Err(Error::mismatch(
                    format!("controllers[{i}].fingerprint"),
                    show(fingerprint.as_deref()),
                    show(entry.fingerprint.as_deref()),
                ));
            }
        }
        Ok(())
    }
}

fn show(x: Option<&str>) -> String {
    x.map_or_else(|| "none".to_owned(), str::to_owned)
}

/// The saved state of a [`Runtime`]: versioned, serialisable (JSON with the `serde`
/// feature), checked on [`Runtime::restore`].
///
/// It holds the clock (`step`, `micro`, `skipped`), each controller's state, and what
/// identifies the configuration: the hyperparameter names in order with the fingerprints
/// of the ones given as a [`ScheduleSpec`](crate::ScheduleSpec), the accumulation count,
/// the group plan's fingerprint and each controller's target, kind and configuration
/// fingerprint. Schedules given as closures have no fingerprint: only their name is checked.
///
/// # Examples
///
/// ```
/// use cadence::{HyperParams, Runtime, RuntimeState};
///
/// let mut rt = Runtime::new(HyperParams::new().with("lr", 0.1)?);
/// rt.advance();
/// let json = rt.state().to_json();
/// let back = RuntimeState::from_json(&json)?;
/// assert_eq!(back, rt.state());
/// assert_eq!(back.version(), cadence::runtime::STATE_VERSION);
/// # Ok::<(), cadence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct RuntimeState {
    version: u32,
    step: u64,
    micro: u32,
    skipped: u64,
    accumulation: u32,
    hyperparams: Vec<ParamEntry>,
    groups: Option<String>,
    controllers: Vec<ControllerEntry>,
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
struct ParamEntry {
    name: String,
    fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
struct ControllerEntry {
    target: Option<String>,
    fingerprint: Option<String>,
    state: ControllerState,
}

impl RuntimeState {
    /// The format version.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert_eq!(rt.state().version(), 1);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The optimizer step saved.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert_eq!(rt.state().step(), 0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The controllers' states, in the order attached.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert_eq!(rt.state().controllers().count(), 0);
    /// # Ok::<(), cadence::Error>(())
    /// ```
    pub fn controllers(&self) -> impl Iterator<Item = &ControllerState> + '_ {
        self.controllers.iter().map(|c| &c.state)
    }

    /// The state as JSON text.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = cadence::Runtime::new(cadence::HyperParams::new().with("lr", 0.1)?);
    /// assert!(rt.state().to_json().starts_with("{\"version\":1,"));
    /// # Ok::<(), cadence::Error>(())
    /// ```
    #[cfg(feature = "serde")]
    pub fn to_json(&self) -> String {
        // Every field is a number, a string, an option, a list or a plain struct: this
        // cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses JSON text written by [`RuntimeState::to_json`]. Unknown fields are
    /// rejected; whether the state fits a runtime is checked by [`Runtime::restore`].
    ///
    /// # Errors
    /// [`Error::StateFormat`] with the parser's message (which names the missing, unknown or
    /// mistyped field and its position).
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cadence::RuntimeState::from_json("{\"version\":1}").unwrap_err();
    /// assert!(err.to_string().contains("missing field `step`"), "{err}");
    /// ```
    #[cfg(feature = "serde")]
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error::StateFormat {
            detail: e.to_string(),
        })
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use crate::controllers::{
        CustomState, DivergenceCause, DivergenceConfig, DivergenceGuard, EarlyStopping,
        PlateauConfig, ReduceOnPlateau,
    };
    use crate::groups::{Group, GroupClock};
    use crate::{Linear, ScheduleSpec};
    use serde_json::{Value, json};

    fn plateau(factor: f64, patience: u64) -> ReduceOnPlateau {
        ReduceOnPlateau::new(PlateauConfig {
            factor,
            patience,
            cooldown: 2,
            ..Default::default()
        })
        .unwrap()
    }

    fn runtime(lr_steps: u64, factor: f64) -> Runtime {
        let hp = HyperParams::new()
            .with_spec(
                "lr",
                ScheduleSpec::from(Linear::new(0.1, 0.0, lr_steps).unwrap()),
            )
            .unwrap()
            .with("momentum", 0.9)
            .unwrap();
        Runtime::new(hp)
            .with_controller("lr", plateau(factor, 1))
            .unwrap()
            .with_monitor(EarlyStopping::new(Default::default()).unwrap())
    }

    fn edited(rt: &Runtime, edit: impl FnOnce(&mut Value)) -> Result<RuntimeState, Error> {
        let mut v: Value = serde_json::from_str(&rt.state().to_json()).unwrap();
        edit(&mut v);
        RuntimeState::from_json(&v.to_string())
    }

    fn mismatch_field(err: Error) -> String {
        match err {
            Error::StateMismatch { field, .. } | Error::CorruptState { field, .. } => field,
            other => panic!("expected a state error, got {other}"),
        }
    }

    #[test]
    fn skipped_steps_do_not_move_the_clock() {
        let mut rt = runtime(10, 0.5);
        rt.advance();
        rt.skip();
        rt.skip();
        rt.advance();
        assert_eq!((rt.step(), rt.skipped()), (2, 2));
        assert!((rt.values()["lr"] - 0.08).abs() < 1e-15);
    }

    #[test]
    fn accumulation_counts_micro_steps() {
        let mut rt = runtime(10, 0.5).with_accumulation(3).unwrap();
        assert_eq!(rt.micro_step(), MicroStep::Accumulate);
        assert_eq!(rt.micro_step(), MicroStep::Accumulate);
        assert_eq!(rt.micro_step(), MicroStep::Update);
        assert_eq!(
            rt.micro_step(),
            MicroStep::Update,
            "saturates until the step is taken"
        );
        rt.skip();
        assert_eq!((rt.step(), rt.micro()), (0, 0));
        for _ in 0..3 {
            rt.micro_step();
        }
        rt.advance();
        assert_eq!((rt.step(), rt.micro()), (1, 0));
    }

    #[test]
    fn json_round_trip_and_exact_resume() {
        let mut rt = runtime(100, 0.5);
        for m in [1.0, 0.9, 0.9, 0.9, 0.8] {
            rt.advance();
            rt.observe(m).unwrap();
        }
        let json = rt.state().to_json();
        let mut back = runtime(100, 0.5);
        back.restore(&RuntimeState::from_json(&json).unwrap())
            .unwrap();
        assert_eq!(back.state(), rt.state());
        assert_eq!(back.values(), rt.values());
        assert!(rt.scale("lr") < 1.0);
    }

    #[test]
    fn restore_rejects_other_configurations() {
        let mut rt = runtime(100, 0.5);
        rt.advance();
        rt.observe(1.0).unwrap();
        let state = rt.state();

        let mut other_schedule = runtime(200, 0.5);
        let err = other_schedule.restore(&state).unwrap_err();
        assert_eq!(mismatch_field(err), "hyperparams[0].fingerprint");

        let mut other_controller = runtime(100, 0.1);
        let err = other_controller.restore(&state).unwrap_err();
        assert_eq!(mismatch_field(err), "controllers[0].fingerprint");

        let hp = HyperParams::new()
            .with("lr", 0.1)
            .unwrap()
            .with("beta1", 0.9)
            .unwrap();
        let err = Runtime::new(hp).restore(&state).unwrap_err();
        assert_eq!(mismatch_field(err), "hyperparams[0].fingerprint");
        let hp = HyperParams::new()
            .with_spec(
                "lr",
                ScheduleSpec::from(Linear::new(0.1, 0.0, 100).unwrap()),
            )
            .unwrap()
            .with("beta1", 0.9)
            .unwrap();
        let err = Runtime::new(hp).restore(&state).unwrap_err();
        assert_eq!(mismatch_field(err), "hyperparams[1].name");
        let err = Runtime::new(HyperParams::new().with("lr", 0.1).unwrap())
            .restore(&state)
            .unwrap_err();
        assert_eq!(mismatch_field(err), "hyperparams");

        let mut swapped = runtime(100, 0.5);
        swapped.controllers.swap(0, 1);
        assert_eq!(
            mismatch_field(swapped.restore(&state).unwrap_err()),
            "controllers[0].target"
        );

        let mut accumulating = runtime(100, 0.5).with_accumulation(4).unwrap();
        assert_eq!(
            mismatch_field(accumulating.restore(&state).unwrap_err()),
            "accumulation"
        );

        let plan = GroupPlan::new(vec![Group::prefix("a", "a.").unwrap()]).unwrap();
        let mut grouped = runtime(100, 0.5).with_groups(plan).unwrap();
        assert_eq!(
            mismatch_field(grouped.restore(&state).unwrap_err()),
            "groups"
        );
    }

    #[test]
    fn restore_rejects_corrupt_state_atomically() {
        let mut rt = runtime(100, 0.5);
        rt.advance();
        rt.observe(1.0).unwrap();
        let mut target = runtime(100, 0.5);
        target.advance();
        let before = target.state();

        let version = edited(&rt, |v| v["version"] = json!(2)).unwrap();
        assert_eq!(
            mismatch_field(target.restore(&version).unwrap_err()),
            "version"
        );

        let micro = edited(&rt, |v| v["micro"] = json!(5)).unwrap();
        assert_eq!(mismatch_field(target.restore(&micro).unwrap_err()), "micro");

        // The first controller is valid, the second corrupt: neither is applied.
        let bad_best = edited(&rt, |v| {
            v["controllers"][1]["state"]["best"] = json!(null);
            v["controllers"][1]["state"]["bad"] = json!(3);
        })
        .unwrap();
        let err = target.restore(&bad_best).unwrap_err();
        assert_eq!(mismatch_field(err), "controllers[1].bad");
        let too_patient = edited(&rt, |v| v["controllers"][0]["state"]["bad"] = json!(7)).unwrap();
        assert_eq!(
            mismatch_field(target.restore(&too_patient).unwrap_err()),
            "controllers[0].bad"
        );
        let kind = edited(&rt, |v| {
            v["controllers"][0]["state"]["type"] = json!("divergence")
        });
        assert!(matches!(kind, Err(Error::StateFormat { .. })), "{kind:?}");
        assert_eq!(target.state(), before, "failed restores change nothing");

        let unknown = edited(&rt, |v| v["extra"] = json!(1));
        assert!(
            matches!(unknown, Err(Error::StateFormat { detail }) if detail.contains("unknown field `extra`"))
        );
        let missing = edited(&rt, |v| {
            v.as_object_mut().unwrap().remove("step");
        });
        assert!(
            matches!(missing, Err(Error::StateFormat { detail }) if detail.contains("missing field `step`"))
        );
        assert!(matches!(
            RuntimeState::from_json("{not json"),
            Err(Error::StateFormat { .. })
        ));
    }

    #[test]
    fn rollback_and_rewind_keep_the_guard_state() {
        let hp = HyperParams::new().with("lr", 0.1).unwrap();
        let guard = DivergenceGuard::new(DivergenceConfig {
            warmup: 1,
            max_retries: 1,
            ..Default::default()
        })
        .unwrap();
        let mut rt = Runtime::new(hp)
            .with_controller("lr", guard)
            .unwrap()
            .with_controller("lr", plateau(0.5, 0))
            .unwrap();
        for m in [1.0, 0.9] {
            rt.advance();
            rt.observe(m).unwrap();
        }
        rt.advance();
        rt.advance();
        let d = rt.observe(f64::NAN).unwrap();
        assert_eq!(
            d,
            Decision::Rollback {
                last_good_step: Some(2),
                cause: DivergenceCause::NonFinite
            }
        );
        rt.rewind(2).unwrap();
        assert_eq!(rt.step(), 2);
        assert!((rt.values()["lr"] - 0.05).abs() < 1e-15);
        rt.advance();
        let d = rt.observe(50.0).unwrap();
        assert!(d.is_stop(), "{d:?}");
    }

    #[test]
    fn non_finite_metrics_without_a_guard_are_errors() {
        let mut rt = runtime(10, 0.5);
        let before = rt.state();
        let err = rt.observe(f64::INFINITY).unwrap_err();
        assert!(matches!(err, Error::NonFiniteMetric { step: 0, .. }));
        assert_eq!(rt.state(), before);
    }

    #[test]
    fn groups_follow_the_lr_controllers() {
        let plan = GroupPlan::new(vec![
            Group::prefix("body", "body.")
                .unwrap()
                .multiplier(0.1)
                .unwrap(),
            Group::prefix("head", "head.")
                .unwrap()
                .schedule(0.02, GroupClock::Global),
        ])
        .unwrap();
        let hp = HyperParams::new().with("lr", 0.1).unwrap();
        let mut rt = Runtime::new(hp)
            .with_controller("lr", plateau(0.5, 0))
            .unwrap()
            .with_groups(plan)
            .unwrap();
        rt.observe(1.0).unwrap();
        rt.observe(1.0).unwrap();
        let lrs: Vec<f64> = rt.groups().map(|g| g.lr).collect();
        assert!(
            (lrs[0] - 0.005).abs() < 1e-15 && (lrs[1] - 0.01).abs() < 1e-15,
            "{lrs:?}"
        );
        assert!(
            Runtime::new(HyperParams::new().with("eta", 0.1).unwrap())
                .with_groups(GroupPlan::new(vec![Group::prefix("a", "a.").unwrap()]).unwrap())
                .is_err()
        );
    }

    /// A controller defined outside the crate: halves the scale every second observation.
    #[derive(Debug)]
    struct Halving {
        scale: f64,
        seen: u64,
    }

    impl Controller for Halving {
        fn observe(&mut self, obs: Observation) -> Result<Decision, Error> {
            if !obs.metric.is_finite() {
                return Err(Error::NonFiniteMetric {
                    step: obs.step,
                    value: obs.metric,
                });
            }
            self.seen += 1;
            if self.seen % 2 == 1 {
                return Ok(Decision::Continue);
            }
            let from = self.scale;
            self.scale *= 0.5;
            Ok(Decision::Rescaled {
                from,
                to: self.scale,
            })
        }

        fn scale(&self) -> f64 {
            self.scale
        }

        fn state(&self) -> ControllerState {
            let mut s = CustomState::new("halving");
            s.numbers.insert("scale".into(), self.scale);
            s.counts.insert("seen".into(), self.seen);
            ControllerState::Custom(s)
        }

        fn restore(&mut self, state: &ControllerState) -> Result<(), Error> {
            let ControllerState::Custom(s) = state else {
                return Err(Error::mismatch("kind", "halving", state.kind()));
            };
            let (scale, seen) = (s.number("scale")?, s.count("seen")?);
            (self.scale, self.seen) = (scale, seen);
            Ok(())
        }
    }

    #[test]
    fn custom_controllers_are_saved_too() {
        let build = || {
            let hp = HyperParams::new().with("lr", 0.1).unwrap();
            Runtime::new(hp)
                .with_controller(
                    "lr",
                    Halving {
                        scale: 1.0,
                        seen: 0,
                    },
                )
                .unwrap()
        };
        let mut rt = build();
        for m in [1.0, 1.0, 1.0] {
            rt.observe(m).unwrap();
        }
        let mut back = build();
        back.restore(&RuntimeState::from_json(&rt.state().to_json()).unwrap())
            .unwrap();
        assert_eq!(back.values(), rt.values());
        assert_eq!(back.observe(1.0).unwrap(), rt.observe(1.0).unwrap());
        assert!((rt.values()["lr"] - 0.025).abs() < 1e-15);
        let missing = edited(&rt, |v| {
            v["controllers"][0]["state"]["counts"] = json!({});
        })
        .unwrap();
        let err = build().restore(&missing).unwrap_err();
        assert_eq!(mismatch_field(err), "controllers[0].seen");
        let renamed = edited(&rt, |v| {
            v["controllers"][0]["state"]["kind"] = json!("other")
        });
        assert_eq!(
            mismatch_field(build().restore(&renamed.unwrap()).unwrap_err()),
            "controllers[0].kind"
        );
    }
}
