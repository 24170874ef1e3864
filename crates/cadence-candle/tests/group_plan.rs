//! Parameter groups from the core's `GroupPlan`: multipliers, own schedules on the
//! join clock, and frozen groups that take no update and keep no state.

use cadence::groups::GroupClock;
use cadence::{Group, GroupPlan, Linear};
use cadence_candle::{AdamConfig, GroupMode, ScheduledOptimizer, groups_from_plan};
use candle_core::{DType, Device, Tensor, Var};
use std::sync::Arc;

fn named(n: usize) -> Vec<(String, Var)> {
    ["embed.w", "body.w", "body.b", "head.w", "loose"]
        .iter()
        .enumerate()
        .take(n)
        .map(|(i, name)| {
            let v: Vec<f64> = (0..6).map(|j| 0.5 + 0.1 * (i * 6 + j) as f64).collect();
            (
                (*name).to_owned(),
                Var::from_vec(v, 6, &Device::Cpu).unwrap(),
            )
        })
        .collect()
}

fn values(v: &Var) -> Vec<f64> {
    v.as_tensor().to_vec1().unwrap()
}

/// Keys of the optimizer state that belong to group `g`'s variables.
fn state_keys(opt: &ScheduledOptimizer, g: usize) -> Vec<String> {
    let prefix = format!("g{g}.p");
    let mut keys: Vec<String> = opt
        .state_tensors()
        .unwrap()
        .into_keys()
        .filter(|k| k.starts_with(&prefix))
        .collect();
    keys.sort();
    keys
}

#[test]
fn frozen_groups_take_no_update_and_keep_no_state_until_they_join() {
    let vars = named(5);
    let plan = GroupPlan::new(vec![
        Group::prefix("embed", "embed.").unwrap().join_at(u64::MAX), // never joins
        Group::prefix("body", "body.").unwrap().join_at(3),
        Group::prefix("head", "head.")
            .unwrap()
            .schedule(Linear::new(0.1, 0.0, 10).unwrap(), GroupClock::SinceJoin),
    ])
    .unwrap()
    .layer_decay(0.5)
    .unwrap();
    let groups = groups_from_plan(&plan, &vars).unwrap();
    assert_eq!(groups.len(), 4);
    assert_eq!(groups[0].mode(), GroupMode::FrozenUntil(u64::MAX));
    assert_eq!(groups[1].mode(), GroupMode::FrozenUntil(3));
    assert_eq!(groups[2].mode(), GroupMode::Trainable);
    assert_eq!(groups[1].vars().len(), 2);
    assert_eq!(groups[3].vars().len(), 1); // "loose": selected by no group

    let mut opt = ScheduledOptimizer::with_groups(groups, AdamConfig::adamw(0.01)).unwrap();
    // Multipliers 0.25, 0.5 (layer decay over three groups), the head's own schedule.
    let lrs = opt.learning_rates();
    assert!((lrs[0] - 0.0025).abs() < 1e-15 && (lrs[1] - 0.005).abs() < 1e-15);
    assert!((lrs[2] - 0.1).abs() < 1e-15 && (lrs[3] - 0.01).abs() < 1e-15);

    let start: Vec<Vec<f64>> = vars.iter().map(|(_, v)| values(v)).collect();
    let target = Tensor::zeros(6, DType::F64, &Device::Cpu).unwrap();
    let step = |opt: &mut ScheduledOptimizer| {
        let mut loss = Tensor::zeros((), DType::F64, &Device::Cpu).unwrap();
        for (_, v) in &vars {
            let d = (v.as_tensor() - &target).unwrap();
            loss = (loss + d.sqr().unwrap().sum_all().unwrap()).unwrap();
        }
        opt.apply(&loss.backward().unwrap()).unwrap();
    };
    for _ in 0..3 {
        step(&mut opt);
    }
    // Steps 0..3: the embed and body groups are frozen.
    for ((name, var), start) in vars.iter().zip(&start).take(3) {
        assert_eq!(&values(var), start, "{name} moved");
    }
    assert!(state_keys(&opt, 0).is_empty() && state_keys(&opt, 1).is_empty());
    assert_ne!(values(&vars[3].1), start[3]);
    assert_ne!(values(&vars[4].1), start[4]);
    assert!(!state_keys(&opt, 2).is_empty());

    for _ in 0..2 {
        step(&mut opt);
    }
    // The body joined at step 3: it moved and keeps state counted from its join.
    assert_ne!(values(&vars[1].1), start[1]);
    let count = opt.state_tensors().unwrap()["g1.p0.count"]
        .flatten_all()
        .unwrap()
        .to_vec1::<i64>()
        .unwrap();
    assert_eq!(count, [2]);
    // The embed group never joins.
    assert_eq!(values(&vars[0].1), start[0]);
    assert!(state_keys(&opt, 0).is_empty());
}

#[test]
fn own_schedules_on_the_join_clock_start_at_the_join() {
    let vars = named(2);
    let warm = Arc::new(Linear::new(0.0, 1.0, 10).unwrap());
    let plan = GroupPlan::new(vec![
        Group::prefix("embed", "embed.")
            .unwrap()
            .schedule(Arc::clone(&warm), GroupClock::SinceJoin)
            .join_at(5),
        Group::prefix("body", "body.")
            .unwrap()
            .schedule(warm, GroupClock::Global),
    ])
    .unwrap();
    let groups = groups_from_plan(&plan, &vars).unwrap();
    let since_join = groups[0].lr().unwrap();
    let global = groups[1].lr().unwrap();
    use cadence::Schedule;
    for t in [5, 7, 15] {
        assert!((since_join.value(t) - plan.value(0, t, 1.0).lr).abs() < 1e-15);
        assert!((global.value(t) - plan.value(1, t, 1.0).lr).abs() < 1e-15);
    }
    assert!((since_join.value(7) - 0.2).abs() < 1e-15);
    assert!((global.value(7) - 0.7).abs() < 1e-15);
}

#[test]
fn duplicate_names_are_rejected() {
    let mut vars = named(2);
    vars.push(vars[0].clone());
    let plan = GroupPlan::new(vec![Group::prefix("embed", "embed.").unwrap()]).unwrap();
    let err = groups_from_plan(&plan, &vars).unwrap_err();
    assert!(matches!(
        err,
        cadence_candle::Error::Schedule(cadence::Error::DuplicateName { .. })
    ));
}
