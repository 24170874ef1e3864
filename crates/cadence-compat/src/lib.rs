//! # cadence-compat
//!
//! Port a scheduler config from PyTorch, optax, Hugging Face transformers or timm to
//! cadence, with that library's exact semantics: where warmup starts, whether decay steps
//! include warmup, what happens after `T_max`, which step a milestone takes effect, how
//! fractional epochs are read.
//!
//! Every port is built from cadence's own families and combinators (a
//! [`ScheduleSpec`]), so the result can be plotted, serialised and composed like any
//! other schedule. Metric-driven peers (ReduceLROnPlateau, timm's plateau, transformers'
//! `greedy`) port to a schedule plus a controller.
//!
//! The input is the `config` object of a case in the golden format used by the tests
//! (`{"source": "torch", "config": {"scheduler": ..., "optimizer": {...}, "args": {...},
//! "driver": {...}}, "steps": N}`).
//!
//! ```
//! use cadence_compat::eval_case;
//!
//! let case = serde_json::json!({
//!     "source": "torch",
//!     "config": {"scheduler": "StepLR", "optimizer": {"type": "SGD", "lr": 0.1},
//!                "args": {"step_size": 2, "gamma": 0.5}},
//!     "steps": 5
//! });
//! let run = eval_case(&case)?;
//! assert_eq!(run.lr, vec![0.1, 0.1, 0.05, 0.05, 0.025]);
//! assert_eq!(run.momentum, None);
//! # Ok::<(), cadence_compat::CompatError>(())
//! ```

mod config;

use std::fmt;

use cadence::{Schedule, ScheduleSpec};
use serde_json::Value;

use config::Fields;

/// What can go wrong when porting a peer config. Every variant names the field by its full
/// path in the case file (e.g. `config.args.T_max`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CompatError {
    /// A required field is absent.
    #[error("missing field `{field}`")]
    Missing {
        /// Full path of the field.
        field: String,
    },
    /// A field has the wrong type or a value the peer itself would reject.
    #[error("invalid `{field}` = {value}: {reason}")]
    Invalid {
        /// Full path of the field.
        field: String,
        /// The value found, as JSON.
        value: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A scheduler, argument or value that this layer does not support.
    #[error("unsupported `{field}`: {detail}")]
    Unsupported {
        /// Full path of the field.
        field: String,
        /// What is unsupported and what is.
        detail: String,
    },
    /// The peer's parameters build a cadence schedule that cadence rejects.
    #[error("`{field}`: {source}")]
    Schedule {
        /// Full path of the config that produced the schedule.
        field: String,
        /// cadence's own error.
        source: cadence::Error,
    },
}

impl CompatError {
    pub(crate) fn invalid(field: &str, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        CompatError::Invalid {
            field: field.to_owned(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// The library a config comes from.
///
/// # Examples
///
/// ```
/// use cadence_compat::Source;
///
/// assert_eq!("optax".parse::<Source>()?, Source::Optax);
/// assert!("keras".parse::<Source>().is_err());
/// # Ok::<(), cadence_compat::CompatError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// `torch.optim.lr_scheduler`.
    Torch,
    /// `optax` schedule functions.
    Optax,
    /// Hugging Face `transformers.get_scheduler`.
    Transformers,
    /// `timm.scheduler`.
    Timm,
}

impl std::str::FromStr for Source {
    type Err = CompatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "torch" | "pytorch" => Ok(Source::Torch),
            "optax" => Ok(Source::Optax),
            "transformers" | "hf" => Ok(Source::Transformers),
            "timm" => Ok(Source::Timm),
            other => Err(CompatError::Unsupported {
                field: "source".to_owned(),
                detail: format!("`{other}` (supported: torch, optax, transformers, timm)"),
            }),
        }
    }
}

/// The values a peer produced over a run, one per step, as recorded in a golden case.
///
/// # Examples
///
/// ```
/// let t = cadence_compat::Trajectory { lr: vec![0.1, 0.05], momentum: None };
/// assert_eq!(serde_json::to_string(&t)?, r#"{"lr":[0.1,0.05],"momentum":null}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trajectory {
    /// The learning rate read at each step.
    pub lr: Vec<f64>,
    /// The momentum (SGD) or beta1 (Adam) read at each step, where the peer cycles it.
    pub momentum: Option<Vec<f64>>,
}

/// Evaluates a case in the golden format: reads `source`, `config` and `steps` (recorded
/// values, if present, are ignored) and returns what the peer library would have produced.
///
/// # Errors
/// A [`CompatError`] naming the field for a malformed or unsupported config.
///
/// # Examples
///
/// ```
/// let case = serde_json::json!({"source": "optax", "steps": 3,
///     "config": {"schedule": "linear_schedule",
///                "args": {"init_value": 1.0, "end_value": 0.0, "transition_steps": 2}}});
/// assert_eq!(cadence_compat::eval_case(&case)?.lr, vec![1.0, 0.5, 0.0]);
/// # Ok::<(), cadence_compat::CompatError>(())
/// ```
pub fn eval_case(case: &Value) -> Result<Trajectory, CompatError> {
    let top = Fields::new("", case)?;
    let source: Source = top.str("source")?.parse()?;
    let steps = top.u64("steps")?;
    let config = top.required("config")?;
    let ported = port(source, config)?;
    ported.run(&Fields::new("config", config)?, steps)
}

/// A peer config ported to cadence.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Ported {
    /// The learning rate as a pure schedule of the step (for metric-driven peers, the
    /// schedule the controller scales).
    pub lr: ScheduleSpec,
    /// The momentum / beta1 schedule, where the peer cycles it.
    pub momentum: Option<ScheduleSpec>,
}

impl Ported {
    /// Runs the port for `steps` reads following the peer's recording convention and the
    /// config's `driver` (metrics or fractional epochs).
    fn run(&self, config: &Fields<'_>, steps: u64) -> Result<Trajectory, CompatError> {
        let steps = usize::try_from(steps)
            .map_err(|_| CompatError::invalid("steps", steps, "too large"))?;
        let driver = config.object("driver")?;
        let times: Vec<f64> = match driver.as_ref().filter(|d| d.has("step_epochs")) {
            // torch's documented fractional form: the k-th scheduler.step(epoch) call sets
            // the value read at k + 1; the first read is the constructor's (time 0).
            Some(d) => {
                let epochs = d.f64_list("step_epochs")?;
                if epochs.len() + 1 < steps {
                    return Err(CompatError::invalid(
                        &d.path_of("step_epochs"),
                        epochs.len(),
                        format!("needs at least steps - 1 = {} entries", steps - 1),
                    ));
                }
                std::iter::once(0.0).chain(epochs).take(steps).collect()
            }
            None => (0..steps).map(|t| t as f64).collect(),
        };
        let read = |s: &ScheduleSpec| times.iter().map(|&t| s.value_at(t)).collect::<Vec<f64>>();
        Ok(Trajectory {
            lr: read(&self.lr),
            momentum: self.momentum.as_ref().map(read),
        })
    }
}

/// Ports a peer scheduler config (the `config` object of a golden case) to cadence.
///
/// # Errors
/// A [`CompatError`] naming the field for a malformed or unsupported config.
///
/// # Examples
///
/// ```
/// use cadence::Schedule;
/// use cadence_compat::{Source, port};
///
/// let config = serde_json::json!({"scheduler": "ExponentialLR",
///     "optimizer": {"type": "SGD", "lr": 0.1}, "args": {"gamma": 0.5}});
/// let ported = port(Source::Torch, &config)?;
/// assert_eq!(ported.lr.value(2), 0.025);
/// # Ok::<(), cadence_compat::CompatError>(())
/// ```
pub fn port(source: Source, config: &Value) -> Result<Ported, CompatError> {
    let _config = Fields::new("config", config)?;
    Err(CompatError::Unsupported {
        field: "source".to_owned(),
        detail: format!("{source:?} is not ported yet"),
    })
}
