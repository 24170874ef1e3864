//! Parameter groups from the core's per-group policies ([`cadence::GroupPlan`]).

use crate::{Error, GroupMode, ParamGroup};
use cadence::GroupPlan;
use cadence::ScheduleExt;
use cadence::groups::{GroupClock, GroupLr};
use candle_core::Var;
use candle_nn::VarMap;
use std::sync::Arc;

/// The [`ParamGroup`]s of a [`GroupPlan`] over named variables, one per plan group in the
/// plan's order, then one more holding the variables no group selects (only if there are
/// any; they train with the optimizer's own schedules, as the plan prescribes).
///
/// Each plan group maps to:
///
/// ```text
/// Multiplier(m)             -> lr_scale = m   (layer_decay / log_spaced included)
/// Schedule(s, Global)       -> the group's own lr schedule s
/// Schedule(s, SinceJoin)    -> s delayed by the join step (s(t - join) from the join on)
/// join_at(k), k > 0         -> GroupMode::FrozenUntil(k): no update and no state before k
/// ```
///
/// Weight decay and every other hyperparameter come from the optimizer's config. Within a
/// group the variables keep the order given; names matter only for selection.
///
/// # Errors
///
/// [`Error::Schedule`] wrapping the core's `DuplicateName` when a variable name is given
/// twice, or its `EmptyGroup` when a plan group selects none of the variables (as
/// [`GroupPlan::assign`]); [`Error::InvalidParameter`] for a multiplier the optimizer
/// cannot use (negative or not finite).
///
/// # Examples
///
/// ```
/// use cadence::{Group, GroupPlan};
/// use cadence_candle::{GroupMode, SgdConfig, ScheduledOptimizer, groups_from_plan};
/// use candle_core::{DType, Device, Var};
///
/// let dev = Device::Cpu;
/// let vars = [
///     ("embed.w", Var::ones(4, DType::F32, &dev)?),
///     ("body.w", Var::ones(4, DType::F32, &dev)?),
///     ("head.w", Var::ones(4, DType::F32, &dev)?),
///     ("other", Var::ones(2, DType::F32, &dev)?),
/// ];
/// let plan = GroupPlan::new(vec![
///     Group::prefix("embed", "embed.")?.join_at(100),
///     Group::prefix("body", "body.")?,
///     Group::prefix("head", "head.")?,
/// ])?
/// .layer_decay(0.5)?; // multipliers 0.25, 0.5, 1
/// let groups = groups_from_plan(&plan, &vars)?;
/// assert_eq!(groups.len(), 4); // three plan groups and the unselected `other`
/// assert_eq!(groups[0].mode(), GroupMode::FrozenUntil(100));
/// let opt = ScheduledOptimizer::with_groups(groups, SgdConfig::new(0.1))?;
/// assert_eq!(opt.learning_rates(), [0.025, 0.05, 0.1, 0.1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn groups_from_plan<S: AsRef<str>>(
    plan: &GroupPlan,
    vars: &[(S, Var)],
) -> Result<Vec<ParamGroup>, Error> {
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_ref()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(cadence::Error::DuplicateName {
            kind: "variable",
            name: w[0].to_owned(),
        }
        .into());
    }
    // Fails if a group selects none of the variables.
    plan.assign(&names)?;
    let mut members: Vec<Vec<Var>> = vec![Vec::new(); plan.groups().len()];
    let mut rest = Vec::new();
    for (name, var) in vars {
        match plan.group_of(name.as_ref()) {
            Some(i) => members[i].push(var.clone()),
            None => rest.push(var.clone()),
        }
    }
    let mut groups = plan
        .groups()
        .iter()
        .zip(members)
        .map(|(g, vars)| {
            let join = g.join_step();
            let group = ParamGroup::new(vars);
            let group = match g.lr_policy() {
                GroupLr::Multiplier(m) => group.with_lr_scale(*m)?,
                GroupLr::Schedule(s, GroupClock::Global) => group.with_lr(Arc::clone(s)),
                GroupLr::Schedule(s, GroupClock::SinceJoin) => {
                    group.with_lr(Arc::clone(s).delay(join))
                }
            };
            Ok(if join > 0 {
                group.with_mode(GroupMode::FrozenUntil(join))
            } else {
                group
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    if !rest.is_empty() {
        groups.push(ParamGroup::new(rest));
    }
    Ok(groups)
}

/// [`groups_from_plan`] over the variables of a [`candle_nn::VarMap`], taken in name
/// order (a `VarMap` has no order of its own, and a fixed order keeps checkpoints of the
/// optimizer state stable).
///
/// # Errors
///
/// As [`groups_from_plan`].
///
/// # Examples
///
/// ```
/// use cadence::{Group, GroupPlan};
/// use cadence_candle::{AdamConfig, ScheduledOptimizer, groups_from_varmap};
/// use candle_core::{DType, Device};
/// use candle_nn::{VarBuilder, VarMap};
///
/// let map = VarMap::new();
/// let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
/// let _l1 = candle_nn::linear(4, 8, vb.pp("l1"))?;
/// let _l2 = candle_nn::linear(8, 2, vb.pp("l2"))?;
/// let plan = GroupPlan::new(vec![Group::glob("biases", "*.bias")?.multiplier(2.0)?])?;
/// let groups = groups_from_varmap(&plan, &map)?;
/// assert_eq!(groups[0].vars().len(), 2); // l1.bias, l2.bias
/// assert_eq!(groups[1].vars().len(), 2); // the weights: not selected, global LR
/// let opt = ScheduledOptimizer::with_groups(groups, AdamConfig::adamw(1e-3))?;
/// assert_eq!(opt.learning_rates(), [2e-3, 1e-3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn groups_from_varmap(plan: &GroupPlan, varmap: &VarMap) -> Result<Vec<ParamGroup>, Error> {
    let mut vars: Vec<(String, Var)> = varmap
        .data()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    groups_from_plan(plan, &vars)
}
