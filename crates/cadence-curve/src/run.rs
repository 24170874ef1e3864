//! Logged runs: reading `step,lr,loss` CSVs and pairing them with their per-step learning rate.

use std::path::Path;

use cadence::Schedule;

use crate::error::{CsvProblem, Error};

/// A logged training run: the loss (and the learning rate) at some optimizer steps.
///
/// Steps are strictly increasing, every value finite, `lr >= 0`, `loss > 0`.
///
/// ```
/// use cadence_curve::Run;
/// let run = Run::new("tiny", vec![10, 20], vec![1e-3, 1e-3], vec![3.0, 2.9])?;
/// assert_eq!(run.len(), 2);
/// # Ok::<(), cadence_curve::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Run {
    name: String,
    steps: Vec<u64>,
    lr: Vec<f64>,
    loss: Vec<f64>,
}

impl Run {
    /// Builds a run from its columns.
    ///
    /// # Errors
    /// [`Error::InvalidRun`] if the columns differ in length, are empty, steps do not
    /// increase strictly, or a value is not finite / `lr < 0` / `loss <= 0`.
    ///
    /// ```
    /// use cadence_curve::Run;
    /// assert!(Run::new("bad", vec![2, 1], vec![1e-3; 2], vec![3.0; 2]).is_err());
    /// ```
    pub fn new(
        name: impl Into<String>,
        steps: Vec<u64>,
        lr: Vec<f64>,
        loss: Vec<f64>,
    ) -> Result<Self, Error> {
        let name = name.into();
        if steps.len() != lr.len() || steps.len() != loss.len() {
            return Err(Error::run(
                &name,
                format!(
                    "columns differ in length: {} steps, {} lr, {} loss",
                    steps.len(),
                    lr.len(),
                    loss.len()
                ),
            ));
        }
        if steps.is_empty() {
            return Err(Error::run(&name, "the run has no rows"));
        }
        if let Some(w) = steps.windows(2).find(|w| w[1] <= w[0]) {
            return Err(Error::run(
                &name,
                format!(
                    "steps must increase strictly, found {} after {}",
                    w[1], w[0]
                ),
            ));
        }
        if let Some(x) = lr.iter().find(|x| !x.is_finite() || **x < 0.0) {
            return Err(Error::run(&name, format!("lr {x} is not finite and >= 0")));
        }
        if let Some(x) = loss.iter().find(|x| !x.is_finite() || **x <= 0.0) {
            return Err(Error::run(&name, format!("loss {x} is not finite and > 0")));
        }
        Ok(Self {
            name,
            steps,
            lr,
            loss,
        })
    }

    /// The run's name (the file stem for [`load_run_csv`]).
    ///
    /// ```
    /// # let run = cadence_curve::Run::new("a", vec![1], vec![0.1], vec![1.0])?;
    /// assert_eq!(run.name(), "a");
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The logged optimizer steps (strictly increasing).
    ///
    /// ```
    /// # let run = cadence_curve::Run::new("a", vec![1, 5], vec![0.1; 2], vec![1.0; 2])?;
    /// assert_eq!(run.steps(), &[1, 5]);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn steps(&self) -> &[u64] {
        &self.steps
    }

    /// The logged learning rates.
    ///
    /// ```
    /// # let run = cadence_curve::Run::new("a", vec![1], vec![0.1], vec![1.0])?;
    /// assert_eq!(run.lr(), &[0.1]);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn lr(&self) -> &[f64] {
        &self.lr
    }

    /// The logged losses.
    ///
    /// ```
    /// # let run = cadence_curve::Run::new("a", vec![1], vec![0.1], vec![1.5])?;
    /// assert_eq!(run.loss(), &[1.5]);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn loss(&self) -> &[f64] {
        &self.loss
    }

    /// Number of logged rows.
    ///
    /// ```
    /// # let run = cadence_curve::Run::new("a", vec![1], vec![0.1], vec![1.5])?;
    /// assert_eq!(run.len(), 1);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Always `false`: a run has at least one row.
    ///
    /// ```
    /// # let run = cadence_curve::Run::new("a", vec![1], vec![0.1], vec![1.5])?;
    /// assert!(!run.is_empty());
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Keeps only the rows whose step is `< end` (e.g. the published protocol's `< 24000`).
    ///
    /// # Errors
    /// [`Error::InvalidRun`] if no row is left.
    ///
    /// ```
    /// # let run = cadence_curve::Run::new("a", vec![1, 5, 9], vec![0.1; 3], vec![1.0; 3])?;
    /// assert_eq!(run.truncated(9)?.steps(), &[1, 5]);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn truncated(&self, end: u64) -> Result<Self, Error> {
        let n = self.steps.partition_point(|&s| s < end);
        Self::new(
            self.name.clone(),
            self.steps[..n].to_vec(),
            self.lr[..n].to_vec(),
            self.loss[..n].to_vec(),
        )
    }
}

/// Reads a `step,lr,loss` CSV (a header naming the three columns in any order; extra columns
/// are ignored; blank lines are skipped). The run is named after the file stem.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Csv`] with the 1-based line number for
/// a missing column or field, a non-number, NaN/infinite/negative values, or steps that do
/// not increase strictly.
///
/// ```
/// let dir = std::env::temp_dir().join("cadence-curve-doc-load");
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("demo.csv");
/// std::fs::write(&path, "step,lr,loss\n0,0.001,4.0\n10,0.001,NaN\n").unwrap();
/// let err = cadence_curve::load_run_csv(&path).unwrap_err();
/// assert!(err.to_string().contains("demo.csv:3:"), "{err}");
/// ```
pub fn load_run_csv(path: impl AsRef<Path>) -> Result<Run, Error> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_run_csv(&name, &text).map_err(|(line, problem)| Error::Csv {
        path: path.to_owned(),
        line,
        problem,
    })
}

/// Parses CSV text; errors carry the 1-based line number.
pub(crate) fn parse_run_csv(name: &str, text: &str) -> Result<Run, (usize, CsvProblem)> {
    const COLUMNS: [&str; 3] = ["step", "lr", "loss"];
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let (header_line, header) = lines.next().ok_or((1, CsvProblem::Empty))?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let mut index = [0usize; 3];
    for (slot, column) in index.iter_mut().zip(COLUMNS) {
        *slot = names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(column))
            .ok_or((header_line, CsvProblem::MissingColumn { column }))?;
    }
    let (mut steps, mut lr, mut loss) = (Vec::new(), Vec::new(), Vec::new());
    for (line, row) in lines {
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
        let field = |k: usize| {
            fields
                .get(index[k])
                .copied()
                .ok_or((line, CsvProblem::MissingField { column: COLUMNS[k] }))
        };
        let step_text = field(0)?;
        let step = parse_step(step_text).ok_or((
            line,
            CsvProblem::NotANumber {
                column: "step",
                text: step_text.to_owned(),
            },
        ))?;
        let number = |k: usize| -> Result<f64, (usize, CsvProblem)> {
            let text = field(k)?;
            let value: f64 = text.parse().map_err(|_| {
                (
                    line,
                    CsvProblem::NotANumber {
                        column: COLUMNS[k],
                        text: text.to_owned(),
                    },
                )
            })?;
            let ok = value.is_finite() && if k == 2 { value > 0.0 } else { value >= 0.0 };
            if ok {
                Ok(value)
            } else {
                Err((
                    line,
                    CsvProblem::OutOfDomain {
                        column: COLUMNS[k],
                        value,
                    },
                ))
            }
        };
        let (r, l) = (number(1)?, number(2)?);
        if let Some(&previous) = steps.last()
            && step <= previous
        {
            return Err((line, CsvProblem::UnsortedStep { step, previous }));
        }
        steps.push(step);
        lr.push(r);
        loss.push(l);
    }
    if steps.is_empty() {
        return Err((header_line, CsvProblem::NoRows));
    }
    Ok(Run {
        name: name.to_owned(),
        steps,
        lr,
        loss,
    })
}

/// A step field: a non-negative integer, also written as an integral float (`128.0`).
fn parse_step(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().or_else(|| {
        let x: f64 = text.parse().ok()?;
        (x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x < u64::MAX as f64).then_some(x as u64)
    })
}

/// A run paired with the learning rate of every optimizer step from 0 to its last logged step:
/// what a schedule-aware law is fitted to.
///
/// `lrs[k]` is the learning rate used at optimizer step `k`; the loss logged at step `s`
/// is modelled from `lrs[0..=s]`.
///
/// ```
/// use cadence_curve::{Run, TrainingRun};
/// let run = Run::new("flat", vec![100, 200], vec![1e-3; 2], vec![3.0, 2.9])?;
/// let tr = TrainingRun::from_schedule(run, &1e-3)?;
/// assert_eq!(tr.lrs().len(), 201);
/// # Ok::<(), cadence_curve::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingRun {
    run: Run,
    lrs: Vec<f64>,
}

impl TrainingRun {
    /// Pairs a run with an explicit per-step learning-rate sequence.
    ///
    /// # Errors
    /// [`Error::InvalidRun`] if `lrs` does not cover the last logged step or holds a value
    /// that is not finite and `>= 0`.
    ///
    /// ```
    /// use cadence_curve::{Run, TrainingRun};
    /// let run = Run::new("r", vec![0, 2], vec![1e-3; 2], vec![3.0, 2.9])?;
    /// assert!(TrainingRun::new(run.clone(), vec![1e-3; 2]).is_err());
    /// assert!(TrainingRun::new(run, vec![1e-3; 3]).is_ok());
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn new(run: Run, lrs: Vec<f64>) -> Result<Self, Error> {
        let last = *run.steps.last().unwrap_or(&0);
        if (lrs.len() as u64) <= last {
            return Err(Error::run(
                &run.name,
                format!(
                    "the learning-rate sequence has {} steps but the run logs step {last}",
                    lrs.len()
                ),
            ));
        }
        if let Some(x) = lrs.iter().find(|x| !x.is_finite() || **x < 0.0) {
            return Err(Error::run(
                &run.name,
                format!("learning rate {x} is not finite and >= 0"),
            ));
        }
        Ok(Self { run, lrs })
    }

    /// Pairs a run with the schedule it was trained with (`lrs[k] = schedule.value(k)`).
    ///
    /// # Errors
    /// As [`TrainingRun::new`].
    ///
    /// ```
    /// use cadence_curve::{Run, TrainingRun};
    /// let run = Run::new("r", vec![5], vec![2e-3], vec![3.0])?;
    /// let tr = TrainingRun::from_schedule(run, &2e-3)?;
    /// assert_eq!(tr.lrs(), &[2e-3; 6]);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn from_schedule(run: Run, schedule: &dyn Schedule) -> Result<Self, Error> {
        let last = *run.steps.last().unwrap_or(&0);
        let lrs = lr_sequence(schedule, last + 1);
        Self::new(run, lrs)
    }

    /// Rebuilds the per-step learning rate from the logged `lr` column alone by linear
    /// interpolation between logged steps (held constant before the first logged step).
    /// Exact when the run logs every step; an approximation otherwise (warmup before the
    /// first logged row is lost), so prefer [`TrainingRun::from_schedule`] when the schedule
    /// is known.
    ///
    /// # Errors
    /// As [`TrainingRun::new`].
    ///
    /// ```
    /// use cadence_curve::{Run, TrainingRun};
    /// let run = Run::new("r", vec![0, 4], vec![4e-3, 0.0], vec![3.0, 2.9])?;
    /// let tr = TrainingRun::from_logged_lr(run)?;
    /// assert!((tr.lrs()[1] - 3e-3).abs() < 1e-15);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn from_logged_lr(run: Run) -> Result<Self, Error> {
        let last = *run.steps.last().unwrap_or(&0);
        let mut lrs = Vec::with_capacity(last as usize + 1);
        let mut j = 0;
        for k in 0..=last {
            while j + 1 < run.steps.len() && run.steps[j + 1] <= k {
                j += 1;
            }
            let value = if k <= run.steps[0] {
                run.lr[0]
            } else if j + 1 == run.steps.len() {
                run.lr[j]
            } else {
                let (s0, s1) = (run.steps[j] as f64, run.steps[j + 1] as f64);
                let f = (k as f64 - s0) / (s1 - s0);
                run.lr[j] + f * (run.lr[j + 1] - run.lr[j])
            };
            lrs.push(value);
        }
        Self::new(run, lrs)
    }

    /// The logged run.
    ///
    /// ```
    /// # use cadence_curve::{Run, TrainingRun};
    /// # let tr = TrainingRun::from_schedule(Run::new("r", vec![1], vec![0.1], vec![2.0])?, &0.1)?;
    /// assert_eq!(tr.run().name(), "r");
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn run(&self) -> &Run {
        &self.run
    }

    /// The learning rate of every optimizer step `0..=last logged step`.
    ///
    /// ```
    /// # use cadence_curve::{Run, TrainingRun};
    /// # let tr = TrainingRun::from_schedule(Run::new("r", vec![1], vec![0.1], vec![2.0])?, &0.1)?;
    /// assert_eq!(tr.lrs().len(), 2);
    /// # Ok::<(), cadence_curve::Error>(())
    /// ```
    pub fn lrs(&self) -> &[f64] {
        &self.lrs
    }
}

/// `schedule.value(k)` for `k in 0..len`: the per-step learning rate a law sums over.
///
/// ```
/// let lrs = cadence_curve::lr_sequence(&cadence::Linear::new(1.0, 0.0, 4)?, 5);
/// assert_eq!(lrs, vec![1.0, 0.75, 0.5, 0.25, 0.0]);
/// # Ok::<(), cadence::Error>(())
/// ```
pub fn lr_sequence(schedule: &dyn Schedule, len: u64) -> Vec<f64> {
    (0..len).map(|k| schedule.value(k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> (usize, CsvProblem) {
        parse_run_csv("t", text).unwrap_err()
    }

    #[test]
    fn parses_columns_in_any_order() {
        let run = parse_run_csv("t", "loss,step,lr\n3.0,0,0.1\n\n2.5,10,0.05\n").unwrap();
        assert_eq!(run.steps(), &[0, 10]);
        assert_eq!(run.lr(), &[0.1, 0.05]);
        assert_eq!(run.loss(), &[3.0, 2.5]);
    }

    #[test]
    fn errors_carry_line_numbers() {
        assert_eq!(problem(""), (1, CsvProblem::Empty));
        assert_eq!(
            problem("step,loss\n1,2\n"),
            (1, CsvProblem::MissingColumn { column: "lr" })
        );
        assert_eq!(
            problem("step,lr,loss\n1,0.1,3\n2,0.1\n"),
            (3, CsvProblem::MissingField { column: "loss" })
        );
        assert!(matches!(
            problem("step,lr,loss\n1,0.1,3\n2,0.1,3\n3,0.1,NaN\n"),
            (4, CsvProblem::OutOfDomain { column: "loss", .. })
        ));
        assert!(matches!(
            problem("step,lr,loss\n1,x,3\n"),
            (2, CsvProblem::NotANumber { column: "lr", .. })
        ));
        assert_eq!(
            problem("step,lr,loss\n5,0.1,3\n5,0.1,3\n"),
            (
                3,
                CsvProblem::UnsortedStep {
                    step: 5,
                    previous: 5
                }
            )
        );
        assert_eq!(problem("step,lr,loss\n"), (1, CsvProblem::NoRows));
        assert!(matches!(
            problem("step,lr,loss\n-1,0.1,3\n"),
            (2, CsvProblem::NotANumber { column: "step", .. })
        ));
    }

    #[test]
    fn step_may_be_an_integral_float() {
        let run = parse_run_csv("t", "step,lr,loss\n128.0,0.1,3\n").unwrap();
        assert_eq!(run.steps(), &[128]);
        assert!(parse_run_csv("t", "step,lr,loss\n12.5,0.1,3\n").is_err());
    }

    #[test]
    fn load_reports_path_and_line() {
        let dir = std::env::temp_dir().join("cadence-curve-test-load");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("unsorted.csv");
        std::fs::write(&path, "step,lr,loss\n10,0.1,3\n5,0.1,3\n").unwrap();
        let err = load_run_csv(&path).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unsorted.csv:3:"), "{text}");
        assert!(matches!(
            load_run_csv(dir.join("absent.csv")),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn logged_lr_interpolates() {
        let run = Run::new("r", vec![2, 6], vec![1.0, 0.0], vec![3.0, 2.0]).unwrap();
        let tr = TrainingRun::from_logged_lr(run).unwrap();
        let want = [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0];
        assert_eq!(tr.lrs().len(), want.len());
        for (a, b) in tr.lrs().iter().zip(want) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
