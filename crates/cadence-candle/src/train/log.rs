//! Training records and their CSV/JSONL logs.
//!
//! Two streams: one [`StepRecord`] per optimizer step (`steps.csv`, `steps.jsonl`) and one
//! [`EvalRecord`] per evaluation (`evals.csv`, `evals.jsonl`). Records hold no wall-clock
//! time, so the logs of a resumed run are byte-identical to those of an uninterrupted one.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::train::TrainError;

/// One optimizer step: its index, the epoch it belongs to, the learning rate of every
/// parameter group and the mini-batch loss before the update.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::StepRecord;
/// let r = StepRecord { step: 3, epoch: 0, lr: vec![0.1], loss: 2.25 };
/// assert_eq!(serde_json::to_string(&r)?, r#"{"step":3,"epoch":0,"lr":[0.1],"loss":2.25}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    /// The 0-based optimizer step.
    pub step: u64,
    /// The 0-based epoch.
    pub epoch: u64,
    /// The learning rate of each parameter group for this update.
    pub lr: Vec<f64>,
    /// The mini-batch training loss, computed before the update.
    pub loss: f64,
}

/// One evaluation, after `step` optimizer steps and `epoch` completed epochs.
///
/// `train_*` are the means over the epoch's mini-batches as they were trained (the
/// running figures PyTorch scripts print) or a full pass after the epoch, as
/// [`TrainMetrics`](crate::train::TrainMetrics) chooses; `val_*` are a full pass over the
/// validation set, absent without one.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::EvalRecord;
/// let r = EvalRecord { step: 23, epoch: 1, train_loss: 0.5, train_accuracy: 0.9,
///                      val_loss: Some(0.4), val_accuracy: Some(0.93) };
/// assert_eq!(r.val_accuracy, Some(0.93));
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalRecord {
    /// Optimizer steps taken so far.
    pub step: u64,
    /// Epochs completed so far.
    pub epoch: u64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy in `[0, 1]`.
    pub train_accuracy: f64,
    /// Mean validation loss.
    pub val_loss: Option<f64>,
    /// Validation accuracy in `[0, 1]`.
    pub val_accuracy: Option<f64>,
}

/// Every record of a run, in order.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::History;
/// let h = History::default();
/// assert!(h.steps.is_empty() && h.last_eval().is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct History {
    /// One record per optimizer step.
    pub steps: Vec<StepRecord>,
    /// One record per evaluation.
    pub evals: Vec<EvalRecord>,
}

impl History {
    /// The latest evaluation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::train::{EvalRecord, History};
    /// let e = EvalRecord { step: 1, epoch: 1, train_loss: 1.0, train_accuracy: 0.5,
    ///                      val_loss: None, val_accuracy: None };
    /// let h = History { steps: vec![], evals: vec![e.clone()] };
    /// assert_eq!(h.last_eval(), Some(&e));
    /// ```
    pub fn last_eval(&self) -> Option<&EvalRecord> {
        self.evals.last()
    }
}

/// Writes the records of a run to `steps.{csv,jsonl}` and `evals.{csv,jsonl}` in a
/// directory.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::{LogWriter, StepRecord};
///
/// let dir = tempfile::tempdir()?;
/// let mut log = LogWriter::create(dir.path(), 1)?;
/// log.step(&StepRecord { step: 0, epoch: 0, lr: vec![0.1], loss: 2.5 })?;
/// log.flush()?;
/// let csv = std::fs::read_to_string(dir.path().join("steps.csv"))?;
/// assert_eq!(csv, "step,epoch,lr,loss\n0,0,0.1,2.5\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LogWriter {
    dir: PathBuf,
    steps_csv: BufWriter<File>,
    steps_jsonl: BufWriter<File>,
    evals_csv: BufWriter<File>,
    evals_jsonl: BufWriter<File>,
}

impl LogWriter {
    /// Creates (or truncates) the four log files in `dir`, creating the directory, with
    /// one learning-rate column per group (`lr` for one group, `lr_0`, `lr_1`, ...
    /// otherwise).
    ///
    /// # Errors
    /// [`TrainError::Io`] if the directory or a file cannot be created.
    pub fn create(dir: &Path, groups: usize) -> Result<Self, TrainError> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let open = |name: &str| -> Result<BufWriter<File>, TrainError> {
            let path = dir.join(name);
            File::create(&path)
                .map(BufWriter::new)
                .map_err(|e| TrainError::io(path, e))
        };
        let mut log = LogWriter {
            dir: dir.to_path_buf(),
            steps_csv: open("steps.csv")?,
            steps_jsonl: open("steps.jsonl")?,
            evals_csv: open("evals.csv")?,
            evals_jsonl: open("evals.jsonl")?,
        };
        let lr_columns = if groups == 1 {
            "lr".to_string()
        } else {
            (0..groups)
                .map(|g| format!("lr_{g}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let header = format!("step,epoch,{lr_columns},loss");
        writeln!(log.steps_csv, "{header}").map_err(|e| log.err("steps.csv", e))?;
        writeln!(
            log.evals_csv,
            "step,epoch,train_loss,train_accuracy,val_loss,val_accuracy"
        )
        .map_err(|e| log.err("evals.csv", e))?;
        Ok(log)
    }

    /// Creates the logs and writes every record of `history` (used on resume, so the logs
    /// end exactly at the checkpoint).
    ///
    /// # Errors
    /// As [`LogWriter::create`] and [`LogWriter::step`].
    pub fn replay(dir: &Path, groups: usize, history: &History) -> Result<Self, TrainError> {
        let mut log = LogWriter::create(dir, groups)?;
        for r in &history.steps {
            log.step(r)?;
        }
        for r in &history.evals {
            log.eval(r)?;
        }
        Ok(log)
    }

    fn err(&self, file: &str, e: std::io::Error) -> TrainError {
        TrainError::io(self.dir.join(file), e)
    }

    /// Appends a step record.
    ///
    /// # Errors
    /// [`TrainError::Io`] if writing fails.
    pub fn step(&mut self, r: &StepRecord) -> Result<(), TrainError> {
        let mut line = format!("{},{}", r.step, r.epoch);
        for lr in &r.lr {
            line.push_str(&format!(",{lr}"));
        }
        line.push_str(&format!(",{}", r.loss));
        writeln!(self.steps_csv, "{line}").map_err(|e| self.err("steps.csv", e))?;
        let json = serde_json::to_string(r).map_err(|e| TrainError::format(&self.dir, e))?;
        writeln!(self.steps_jsonl, "{json}").map_err(|e| self.err("steps.jsonl", e))
    }

    /// Appends an evaluation record.
    ///
    /// # Errors
    /// [`TrainError::Io`] if writing fails.
    pub fn eval(&mut self, r: &EvalRecord) -> Result<(), TrainError> {
        let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        writeln!(
            self.evals_csv,
            "{},{},{},{},{},{}",
            r.step,
            r.epoch,
            r.train_loss,
            r.train_accuracy,
            opt(r.val_loss),
            opt(r.val_accuracy)
        )
        .map_err(|e| self.err("evals.csv", e))?;
        let json = serde_json::to_string(r).map_err(|e| TrainError::format(&self.dir, e))?;
        writeln!(self.evals_jsonl, "{json}").map_err(|e| self.err("evals.jsonl", e))
    }

    /// Flushes the four files.
    ///
    /// # Errors
    /// [`TrainError::Io`] if writing fails.
    pub fn flush(&mut self) -> Result<(), TrainError> {
        self.steps_csv
            .flush()
            .map_err(|e| TrainError::io(self.dir.join("steps.csv"), e))?;
        self.steps_jsonl
            .flush()
            .map_err(|e| TrainError::io(self.dir.join("steps.jsonl"), e))?;
        self.evals_csv
            .flush()
            .map_err(|e| TrainError::io(self.dir.join("evals.csv"), e))?;
        self.evals_jsonl
            .flush()
            .map_err(|e| TrainError::io(self.dir.join("evals.jsonl"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_jsonl_agree() {
        let dir = tempfile::tempdir().unwrap();
        let history = History {
            steps: vec![
                StepRecord {
                    step: 0,
                    epoch: 0,
                    lr: vec![0.1, 0.01],
                    loss: 2.0,
                },
                StepRecord {
                    step: 1,
                    epoch: 0,
                    lr: vec![0.2, 0.02],
                    loss: 1.5,
                },
            ],
            evals: vec![EvalRecord {
                step: 2,
                epoch: 1,
                train_loss: 1.75,
                train_accuracy: 0.5,
                val_loss: None,
                val_accuracy: None,
            }],
        };
        let mut log = LogWriter::replay(dir.path(), 2, &history).unwrap();
        log.flush().unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(
            read("steps.csv"),
            "step,epoch,lr_0,lr_1,loss\n0,0,0.1,0.01,2\n1,0,0.2,0.02,1.5\n"
        );
        assert_eq!(
            read("evals.csv"),
            "step,epoch,train_loss,train_accuracy,val_loss,val_accuracy\n2,1,1.75,0.5,,\n"
        );
        let steps: Vec<StepRecord> = read("steps.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(steps, history.steps);
        let evals: Vec<EvalRecord> = read("evals.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(evals, history.evals);
    }
}
