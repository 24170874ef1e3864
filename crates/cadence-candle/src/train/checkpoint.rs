//! Checkpoints: model weights, optimizer state and the position of the run in one
//! safetensors file, written atomically.
//!
//! Layout of the file:
//! - tensors `model.<parameter name>` and `optimizer.<state name>`;
//! - metadata key `cadence.checkpoint`: a JSON [`RunState`] (position, seed, data shape,
//!   optimizer scalars, callback states, the running epoch sums and the history).
//!
//! The file is written to a temporary sibling, synced, then renamed over the target, so a
//! kill at any moment leaves either the previous checkpoint or the new one, never a torn
//! file.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use candle_core::{Device, Tensor};

use crate::train::{History, OptimizerState, TrainError};

const META_KEY: &str = "cadence.checkpoint";
const MODEL_PREFIX: &str = "model.";
const OPTIMIZER_PREFIX: &str = "optimizer.";
/// The version of the checkpoint layout.
pub(crate) const FORMAT: u32 = 1;

/// Where a run stands: optimizer steps taken, the current epoch and the next batch in it.
///
/// Together with the run's seed this is the whole "random number generator position":
/// the batch order of an epoch is a pure function of `(seed, epoch)`.
///
/// # Examples
///
/// ```
/// use cadence_candle::train::Position;
/// let p = Position { step: 30, epoch: 1, batch: 7 };
/// assert_eq!(p, Position { step: 30, epoch: 1, batch: 7 });
/// assert_eq!(Position::default().step, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// Optimizer steps taken (the 0-based index of the next update).
    pub step: u64,
    /// The epoch in progress (0-based).
    pub epoch: u64,
    /// The next batch of that epoch (0-based).
    pub batch: u64,
}

/// Sums over the mini-batches of the epoch in progress, for the running training
/// metrics of its evaluation record.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct EpochSums {
    /// Sum over batches of `mean batch loss * batch size`.
    pub loss: f64,
    /// Correctly classified samples.
    pub correct: u64,
    /// Samples seen.
    pub seen: u64,
}

/// Everything about a run besides tensors, as stored in the checkpoint's metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunState {
    pub(crate) format: u32,
    pub(crate) position: Position,
    pub(crate) seed: u64,
    pub(crate) batch_size: usize,
    pub(crate) train_len: usize,
    pub(crate) groups: usize,
    pub(crate) optimizer: serde_json::Value,
    pub(crate) callbacks: Vec<serde_json::Value>,
    pub(crate) sums: EpochSums,
    pub(crate) best_loss: Option<f64>,
    pub(crate) history: History,
}

impl RunState {
    /// The position of the run.
    ///
    /// # Examples
    ///
    /// See [`Checkpoint`].
    pub fn position(&self) -> Position {
        self.position
    }

    /// The run's records up to the checkpoint.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// A loaded (or about to be saved) checkpoint.
///
/// [`Trainer`](crate::train::Trainer) writes and reads these itself; the type is public
/// for tools that inspect checkpoints (e.g. a curvature advisor loading trained weights).
///
/// # Examples
///
/// ```no_run
/// use cadence_candle::train::Checkpoint;
/// use candle_core::Device;
///
/// let ckpt = Checkpoint::load("run/checkpoint.safetensors".as_ref(), &Device::Cpu)?;
/// println!("step {} of epoch {}", ckpt.state.position().step, ckpt.state.position().epoch);
/// for (name, t) in &ckpt.model {
///     println!("{name}: {:?}", t.dims());
/// }
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The model's parameters by name, in the model's order.
    pub model: Vec<(String, Tensor)>,
    /// The optimizer's state.
    pub optimizer: OptimizerState,
    /// Position, configuration fingerprint, callback states and history.
    pub state: RunState,
}

impl Checkpoint {
    /// Writes the checkpoint to `path` atomically (temporary file, sync, rename).
    ///
    /// # Errors
    /// [`TrainError::Io`] or [`TrainError::Format`] if it cannot be encoded or written.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let mut tensors: Vec<(String, &Tensor)> = Vec::new();
        for (name, t) in &self.model {
            tensors.push((format!("{MODEL_PREFIX}{name}"), t));
        }
        for (name, t) in &self.optimizer.tensors {
            tensors.push((format!("{OPTIMIZER_PREFIX}{name}"), t));
        }
        let mut state = self.state.clone();
        state.optimizer = self.optimizer.meta.clone();
        let meta = serde_json::to_string(&state).map_err(|e| TrainError::format(path, e))?;
        let bytes = safetensors::serialize(tensors, Some(HashMap::from([(META_KEY.into(), meta)])))
            .map_err(|e| TrainError::format(path, e))?;
        write_atomically(path, &bytes)
    }

    /// Reads a checkpoint from `path`, placing its tensors on `device`.
    ///
    /// # Errors
    /// [`TrainError::Io`] if the file cannot be read, [`TrainError::Format`] if it is not a
    /// cadence checkpoint of a known format.
    pub fn load(path: &Path, device: &Device) -> Result<Self, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
        let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| TrainError::format(path, e))?;
        let meta = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| TrainError::format(path, format!("no `{META_KEY}` metadata")))?;
        let state: RunState =
            serde_json::from_str(meta).map_err(|e| TrainError::format(path, e))?;
        if state.format != FORMAT {
            return Err(TrainError::format(
                path,
                format!(
                    "checkpoint format {} (this build reads {FORMAT})",
                    state.format
                ),
            ));
        }
        let mut tensors: Vec<(String, Tensor)> =
            candle_core::safetensors::load_buffer(&bytes, device)
                .map_err(|e| TrainError::format(path, e))?
                .into_iter()
                .collect();
        // safetensors sorts by name; the model's order is restored by the trainer by name.
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let (mut model, mut optimizer) = (Vec::new(), Vec::new());
        for (name, t) in tensors {
            if let Some(n) = name.strip_prefix(MODEL_PREFIX) {
                model.push((n.to_string(), t));
            } else if let Some(n) = name.strip_prefix(OPTIMIZER_PREFIX) {
                optimizer.push((n.to_string(), t));
            } else {
                return Err(TrainError::format(
                    path,
                    format!("unexpected tensor `{name}`"),
                ));
            }
        }
        Ok(Checkpoint {
            model,
            optimizer: OptimizerState {
                tensors: optimizer,
                meta: state.optimizer.clone(),
            },
            state,
        })
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced and
/// renamed over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        TrainError::io(path, e)
    })
}

/// Writes `tensors` as a plain safetensors file (no metadata), atomically: the format
/// candle's `VarBuilder::from_mmaped_safetensors` and PyTorch's `safetensors.torch.load_file`
/// read.
///
/// # Errors
/// [`TrainError::Io`] or [`TrainError::Format`] if it cannot be encoded or written.
///
/// # Examples
///
/// ```
/// use cadence_candle::model::{Mlp, MlpConfig, Model};
/// use cadence_candle::train::save_weights;
/// use candle_core::Device;
///
/// let m = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu)?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("model.safetensors");
/// save_weights(&m, &path)?;
/// let back = candle_core::safetensors::load(&path, &Device::Cpu)?;
/// assert_eq!(back["layers.1.weight"].dims(), &[10, 128]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_weights<M: crate::model::Model + ?Sized>(
    model: &M,
    path: &Path,
) -> Result<(), TrainError> {
    let params = model.parameters();
    let tensors: Vec<(&str, &Tensor)> = params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_tensor()))
        .collect();
    let bytes = safetensors::serialize(tensors, None).map_err(|e| TrainError::format(path, e))?;
    write_atomically(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bin");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn rejects_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.safetensors");
        let t = Tensor::zeros(2, candle_core::DType::F32, &Device::Cpu).unwrap();
        let bytes = safetensors::serialize([("a", &t)], None).unwrap();
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(
            Checkpoint::load(&path, &Device::Cpu),
            Err(TrainError::Format { .. })
        ));
        assert!(matches!(
            Checkpoint::load(&dir.path().join("missing"), &Device::Cpu),
            Err(TrainError::Io { .. })
        ));
    }
}
