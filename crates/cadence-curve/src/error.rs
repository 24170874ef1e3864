//! The one error type of this crate.

use std::path::PathBuf;

/// What is wrong with one line of a run CSV (see [`Error::Csv`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CsvProblem {
    /// The file has no header line.
    Empty,
    /// A required column (`step`, `lr` or `loss`) is absent from the header.
    MissingColumn {
        /// The column that is missing.
        column: &'static str,
    },
    /// A row has fewer fields than the header needs.
    MissingField {
        /// The column whose field is missing.
        column: &'static str,
    },
    /// A field does not parse as a number.
    NotANumber {
        /// The column of the field.
        column: &'static str,
        /// The text found.
        text: String,
    },
    /// A field parses but is NaN, infinite, or out of its domain (negative lr, non-positive loss).
    OutOfDomain {
        /// The column of the field.
        column: &'static str,
        /// The value found.
        value: f64,
    },
    /// A step is not larger than the step on the previous row.
    UnsortedStep {
        /// The step on this row.
        step: u64,
        /// The step on the previous data row.
        previous: u64,
    },
    /// The file has a header but no data rows.
    NoRows,
}

impl std::fmt::Display for CsvProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => write!(f, "the file is empty (expected a header `step,lr,loss`)"),
            Self::MissingColumn { column } => write!(f, "the header has no `{column}` column"),
            Self::MissingField { column } => write!(f, "the row has no `{column}` field"),
            Self::NotANumber { column, text } => {
                write!(f, "`{column}` is {text:?}, which is not a number")
            }
            Self::OutOfDomain { column, value } => write!(
                f,
                "`{column}` is {value}, which is not allowed (finite, lr >= 0, loss > 0)"
            ),
            Self::UnsortedStep { step, previous } => write!(
                f,
                "step {step} is not larger than the previous step {previous} (steps must increase)"
            ),
            Self::NoRows => write!(f, "the file has a header but no data rows"),
        }
    }
}

/// Everything that can go wrong in this crate.
///
/// ```
/// use cadence_curve::Error;
/// fn is_send_sync<T: Send + Sync + 'static>() {}
/// is_send_sync::<Error>();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A run CSV is malformed; `line` is 1-based and counts the header.
    #[error("{path}:{line}: {problem}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The 1-based line number (the header is line 1).
        line: usize,
        /// What is wrong.
        problem: CsvProblem,
    },
    /// A parameter is outside its domain.
    #[error("invalid {name} = {value}: {rule}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// The offending value.
        value: String,
        /// The rule it breaks.
        rule: String,
    },
    /// A training run cannot be used (lengths differ, a logged step has no learning rate, ...).
    #[error("run {run:?}: {rule}")]
    InvalidRun {
        /// The run's name.
        run: String,
        /// The rule it breaks.
        rule: String,
    },
    /// A benchmark directory lacks a curve the protocol needs.
    #[error("{dir} has no {file} (the published protocol needs it)")]
    MissingCurve {
        /// The directory.
        dir: PathBuf,
        /// The missing file name.
        file: String,
    },
    /// Every start of a fit ended in a non-finite objective.
    #[error("fitting the {law} law failed: no start reached a finite objective")]
    FitFailed {
        /// The law being fitted.
        law: &'static str,
    },
}

impl Error {
    /// Builds [`Error::InvalidParameter`].
    ///
    /// ```
    /// let e = cadence_curve::Error::invalid("starts", 0, "must be at least 1");
    /// assert_eq!(e.to_string(), "invalid starts = 0: must be at least 1");
    /// ```
    pub fn invalid(
        name: &'static str,
        value: impl std::fmt::Display,
        rule: impl Into<String>,
    ) -> Self {
        Self::InvalidParameter {
            name,
            value: value.to_string(),
            rule: rule.into(),
        }
    }

    pub(crate) fn run(run: &str, rule: impl Into<String>) -> Self {
        Self::InvalidRun {
            run: run.to_owned(),
            rule: rule.into(),
        }
    }
}
