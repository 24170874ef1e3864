//! Small seeded models for the harness: a multilayer perceptron of any depth and a small
//! convolutional network for 8x8 images.
//!
//! Every model owns named [`Var`]s drawn from a seeded generator (see [`crate::init`]),
//! so the same seed gives the same network on every run. Both models take flat inputs of
//! shape `[batch, features]` and return logits `[batch, classes]`.
//!
//! ```
//! use cadence_candle::model::{Mlp, MlpConfig, Model};
//! use candle_core::{Device, Tensor};
//!
//! let mlp = Mlp::new(&MlpConfig::default(), 0, &Device::Cpu)?;
//! assert_eq!(mlp.parameter_count(), 64 * 128 + 128 + 128 * 10 + 10);
//! let logits = mlp.forward(&Tensor::zeros((5, 64), candle_core::DType::F32, &Device::Cpu)?)?;
//! assert_eq!(logits.dims(), &[5, 10]);
//! # Ok::<(), cadence_candle::TrainError>(())
//! ```

use candle_core::{Device, Tensor, Var};

use crate::init::{Init, SeededRng, stream, var};
use crate::train::TrainError;

/// Purpose tag of the initialisation stream (see [`crate::init::stream`]).
const INIT_STREAM: u64 = 0x494e_4954; // "INIT"

/// A trainable network: named parameters and a forward pass to logits.
///
/// Parameter names are stable and unique (`"layers.0.weight"`, ...); they name the
/// tensors in checkpoints and let optimizers form parameter groups by name. The order of
/// [`Model::parameters`] is fixed, so it can be zipped with an optimizer's variables.
///
/// # Examples
///
/// ```
/// use cadence_candle::model::{Model, Mlp, MlpConfig};
/// use candle_core::Device;
///
/// let model: Box<dyn Model> = Box::new(Mlp::new(&MlpConfig::new(vec![4, 3])?, 1, &Device::Cpu)?);
/// let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["layers.0.weight", "layers.0.bias"]);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
pub trait Model {
    /// The logits `[batch, classes]` for inputs `[batch, features]`.
    ///
    /// # Errors
    /// A candle error if `xs` has the wrong shape or type.
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor>;

    /// The named trainable parameters, in a fixed order.
    fn parameters(&self) -> Vec<(String, Var)>;

    /// The trainable variables in [`Model::parameters`] order, to hand to an optimizer.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::{Model, Mlp, MlpConfig};
    /// let m = Mlp::new(&MlpConfig::default(), 0, &candle_core::Device::Cpu)?;
    /// assert_eq!(m.vars().len(), 4);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    fn vars(&self) -> Vec<Var> {
        self.parameters().into_iter().map(|(_, v)| v).collect()
    }

    /// The total number of scalar parameters.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::{Model, Mlp, MlpConfig};
    /// let m = Mlp::new(&MlpConfig::new(vec![3, 2])?, 0, &candle_core::Device::Cpu)?;
    /// assert_eq!(m.parameter_count(), 8);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    fn parameter_count(&self) -> usize {
        self.parameters().iter().map(|(_, v)| v.elem_count()).sum()
    }
}

impl<M: Model + ?Sized> Model for &M {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        (**self).forward(xs)
    }

    fn parameters(&self) -> Vec<(String, Var)> {
        (**self).parameters()
    }
}

impl<M: Model + ?Sized> Model for Box<M> {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        (**self).forward(xs)
    }

    fn parameters(&self) -> Vec<(String, Var)> {
        (**self).parameters()
    }
}

/// The nonlinearity between layers.
///
/// # Examples
///
/// ```
/// assert_eq!(cadence_candle::model::Activation::default(), cadence_candle::model::Activation::Relu);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(x, 0)`.
    #[default]
    Relu,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    fn apply(self, xs: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Relu => xs.relu(),
            Activation::Tanh => xs.tanh(),
        }
    }
}

/// A fully connected layer `y = x W^T + b` with `W: [out, in]`, like PyTorch's
/// `nn.Linear`.
#[derive(Debug, Clone)]
struct Dense {
    weight: Var,
    bias: Var,
}

impl Dense {
    fn new(
        rng: &mut SeededRng,
        init: Init,
        fan_in: usize,
        fan_out: usize,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let (w, b) = init.draw(rng, fan_in, fan_out, fan_in * fan_out, fan_out);
        Ok(Dense {
            weight: var(w, &[fan_out, fan_in], device)?,
            bias: var(b, &[fan_out], device)?,
        })
    }

    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        xs.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)
    }

    fn push_parameters(&self, prefix: &str, out: &mut Vec<(String, Var)>) {
        out.push((format!("{prefix}.weight"), self.weight.clone()));
        out.push((format!("{prefix}.bias"), self.bias.clone()));
    }
}

/// The shape of a multilayer perceptron: layer widths from input to output, the
/// activation between layers, and the initialisation.
///
/// `widths = [64, 128, 10]` is `Linear(64, 128) -> ReLU -> Linear(128, 10)`. There is no
/// normalisation and no dropout, so a deep, wide configuration ([`MlpConfig::deep`]) is
/// a network that can diverge at a high learning rate.
///
/// # Examples
///
/// ```
/// use cadence_candle::model::MlpConfig;
/// assert_eq!(MlpConfig::default().widths(), &[64, 128, 10]);
/// assert_eq!(MlpConfig::deep(64, 256, 6, 10)?.widths().len(), 8);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    widths: Vec<usize>,
    #[serde(default)]
    activation: Activation,
    #[serde(default)]
    init: Init,
}

impl Default for MlpConfig {
    /// The digits MLP 64-128-10 with ReLU and PyTorch's default initialisation.
    fn default() -> Self {
        MlpConfig {
            widths: vec![64, 128, 10],
            activation: Activation::Relu,
            init: Init::TorchDefault,
        }
    }
}

impl MlpConfig {
    /// An MLP with these layer widths (input first, classes last), ReLU and PyTorch's
    /// default initialisation.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if there are fewer than two widths or a width is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::MlpConfig;
    /// assert!(MlpConfig::new(vec![64]).is_err());
    /// assert!(MlpConfig::new(vec![64, 0, 10]).is_err());
    /// ```
    pub fn new(widths: Vec<usize>) -> Result<Self, TrainError> {
        let config = MlpConfig {
            widths,
            ..MlpConfig::default()
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), TrainError> {
        if self.widths.len() < 2 || self.widths.contains(&0) {
            return Err(TrainError::invalid(
                "widths",
                format!("{:?}", self.widths),
                "needs an input and an output width, none of them 0",
            ));
        }
        Ok(())
    }

    /// `hidden_layers` hidden layers of `width` units between `input` and `classes`.
    ///
    /// # Errors
    /// As [`MlpConfig::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::MlpConfig;
    /// assert_eq!(MlpConfig::deep(64, 32, 3, 10)?.widths(), &[64, 32, 32, 32, 10]);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn deep(
        input: usize,
        width: usize,
        hidden_layers: usize,
        classes: usize,
    ) -> Result<Self, TrainError> {
        let mut widths = vec![input];
        widths.extend(std::iter::repeat_n(width, hidden_layers));
        widths.push(classes);
        MlpConfig::new(widths)
    }

    /// The same configuration with another activation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::{Activation, MlpConfig};
    /// let c = MlpConfig::default().with_activation(Activation::Tanh);
    /// assert_eq!(c.activation(), Activation::Tanh);
    /// ```
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// The same configuration with another initialisation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::init::Init;
    /// use cadence_candle::model::MlpConfig;
    /// let c = MlpConfig::default().with_init(Init::KaimingNormal);
    /// assert_eq!(c.init(), Init::KaimingNormal);
    /// ```
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// The layer widths, input first.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(cadence_candle::model::MlpConfig::default().widths()[0], 64);
    /// ```
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// The activation between layers.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::{Activation, MlpConfig};
    /// assert_eq!(MlpConfig::default().activation(), Activation::Relu);
    /// ```
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The initialisation scheme.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{init::Init, model::MlpConfig};
    /// assert_eq!(MlpConfig::default().init(), Init::TorchDefault);
    /// ```
    pub fn init(&self) -> Init {
        self.init
    }
}

/// A multilayer perceptron; see [`MlpConfig`].
///
/// Parameters are named `layers.{i}.weight` (`[out, in]`) and `layers.{i}.bias`.
///
/// # Examples
///
/// ```
/// use cadence_candle::model::{Mlp, MlpConfig, Model};
/// use candle_core::Device;
///
/// let a = Mlp::new(&MlpConfig::default(), 3, &Device::Cpu)?;
/// let b = Mlp::new(&MlpConfig::default(), 3, &Device::Cpu)?;
/// let w = |m: &Mlp| m.vars()[0].flatten_all().and_then(|t| t.to_vec1::<f32>());
/// assert_eq!(w(&a)?, w(&b)?);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mlp {
    layers: Vec<Dense>,
    activation: Activation,
}

impl Mlp {
    /// A freshly initialised MLP, its weights drawn from `seed`.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] for an invalid configuration (possible after
    /// deserialisation), [`TrainError::Candle`] if the tensors cannot be created on
    /// `device`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::{Mlp, MlpConfig, Model};
    /// let m = Mlp::new(&MlpConfig::deep(64, 16, 4, 10)?, 0, &candle_core::Device::Cpu)?;
    /// assert_eq!(m.parameters().len(), 10);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn new(config: &MlpConfig, seed: u64, device: &Device) -> Result<Self, TrainError> {
        config.validate()?;
        let mut rng = stream(seed, INIT_STREAM);
        let layers = config
            .widths
            .windows(2)
            .map(|w| Dense::new(&mut rng, config.init, w[0], w[1], device))
            .collect::<Result<_, _>>()?;
        Ok(Mlp {
            layers,
            activation: config.activation,
        })
    }
}

impl Model for Mlp {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let last = self.layers.len() - 1;
        let mut h = xs.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if i < last {
                h = self.activation.apply(&h)?;
            }
        }
        Ok(h)
    }

    fn parameters(&self) -> Vec<(String, Var)> {
        let mut out = Vec::with_capacity(2 * self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            layer.push_parameters(&format!("layers.{i}"), &mut out);
        }
        out
    }
}

/// The shape of the small convolutional network for square single-channel images.
///
/// ```text
/// [B, side*side] -> reshape [B, 1, side, side]
///   -> conv 3x3 (pad 1, 1 -> c1) -> ReLU
///   -> conv 3x3 (pad 1, c1 -> c2) -> ReLU -> max-pool 2x2
///   -> flatten [B, c2 * (side/2)^2] -> linear -> [B, classes]
/// ```
///
/// The default (`side = 8`, `c1 = 16`, `c2 = 32`, 10 classes) has 9,930 parameters.
///
/// # Examples
///
/// ```
/// use cadence_candle::model::{Cnn, CnnConfig, Model};
/// let cnn = Cnn::new(&CnnConfig::default(), 0, &candle_core::Device::Cpu)?;
/// assert_eq!(cnn.parameter_count(), 9_930);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnnConfig {
    side: usize,
    channels: [usize; 2],
    classes: usize,
    #[serde(default)]
    init: Init,
}

impl Default for CnnConfig {
    /// 8x8 digits, 16 and 32 channels, 10 classes, PyTorch's default initialisation.
    fn default() -> Self {
        CnnConfig {
            side: 8,
            channels: [16, 32],
            classes: 10,
            init: Init::TorchDefault,
        }
    }
}

impl CnnConfig {
    /// A network for `side x side` images with `channels` in its two convolutions.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] if `side` is odd or 0, or a channel count or
    /// `classes` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::CnnConfig;
    /// assert!(CnnConfig::new(8, [8, 16], 10).is_ok());
    /// assert!(CnnConfig::new(7, [8, 16], 10).is_err());
    /// ```
    pub fn new(side: usize, channels: [usize; 2], classes: usize) -> Result<Self, TrainError> {
        let config = CnnConfig {
            side,
            channels,
            classes,
            init: Init::TorchDefault,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), TrainError> {
        if self.side == 0 || !self.side.is_multiple_of(2) {
            return Err(TrainError::invalid(
                "side",
                self.side,
                "must be even and positive",
            ));
        }
        if self.channels.contains(&0) {
            return Err(TrainError::invalid(
                "channels",
                format!("{:?}", self.channels),
                "must be positive",
            ));
        }
        if self.classes == 0 {
            return Err(TrainError::invalid("classes", 0, "must be at least 1"));
        }
        Ok(())
    }

    /// The same configuration with another initialisation.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::{init::Init, model::CnnConfig};
    /// let c = CnnConfig::default().with_init(Init::KaimingNormal);
    /// assert_eq!(c, CnnConfig::default().with_init(Init::KaimingNormal));
    /// ```
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }
}

/// A convolution with a `[out, in, k, k]` kernel and a bias, stride 1.
#[derive(Debug, Clone)]
struct Conv {
    weight: Var,
    bias: Var,
    padding: usize,
}

impl Conv {
    fn new(
        rng: &mut SeededRng,
        init: Init,
        (c_in, c_out, k): (usize, usize, usize),
        device: &Device,
    ) -> Result<Self, TrainError> {
        let (w, b) = init.draw(
            rng,
            c_in * k * k,
            c_out * k * k,
            c_out * c_in * k * k,
            c_out,
        );
        Ok(Conv {
            weight: var(w, &[c_out, c_in, k, k], device)?,
            bias: var(b, &[c_out], device)?,
            padding: k / 2,
        })
    }

    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let out = xs.conv2d(&self.weight, self.padding, 1, 1, 1)?;
        out.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)
    }
}

/// The small convolutional network of [`CnnConfig`].
///
/// Parameters: `conv1.{weight,bias}`, `conv2.{weight,bias}`, `head.{weight,bias}`.
///
/// # Examples
///
/// ```
/// use cadence_candle::model::{Cnn, CnnConfig, Model};
/// use candle_core::{DType, Device, Tensor};
/// let cnn = Cnn::new(&CnnConfig::default(), 0, &Device::Cpu)?;
/// let logits = cnn.forward(&Tensor::ones((3, 64), DType::F32, &Device::Cpu)?)?;
/// assert_eq!(logits.dims(), &[3, 10]);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cnn {
    side: usize,
    conv1: Conv,
    conv2: Conv,
    head: Dense,
}

impl Cnn {
    /// A freshly initialised network, its weights drawn from `seed`.
    ///
    /// # Errors
    /// [`TrainError::InvalidParameter`] for an invalid configuration (possible after
    /// deserialisation), [`TrainError::Candle`] if the tensors cannot be created on
    /// `device`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::{Cnn, CnnConfig, Model};
    /// let c = Cnn::new(&CnnConfig::new(4, [2, 3], 5)?, 0, &candle_core::Device::Cpu)?;
    /// assert_eq!(c.parameters().len(), 6);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn new(config: &CnnConfig, seed: u64, device: &Device) -> Result<Self, TrainError> {
        config.validate()?;
        let mut rng = stream(seed, INIT_STREAM);
        let [c1, c2] = config.channels;
        let conv1 = Conv::new(&mut rng, config.init, (1, c1, 3), device)?;
        let conv2 = Conv::new(&mut rng, config.init, (c1, c2, 3), device)?;
        let pooled = c2 * (config.side / 2) * (config.side / 2);
        let head = Dense::new(&mut rng, config.init, pooled, config.classes, device)?;
        Ok(Cnn {
            side: config.side,
            conv1,
            conv2,
            head,
        })
    }
}

impl Model for Cnn {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let b = xs.dim(0)?;
        let h = xs.reshape((b, 1, self.side, self.side))?;
        let h = self.conv1.forward(&h)?.relu()?;
        let h = self.conv2.forward(&h)?.relu()?.max_pool2d(2)?;
        self.head.forward(&h.flatten_from(1)?)
    }

    fn parameters(&self) -> Vec<(String, Var)> {
        let mut out = Vec::with_capacity(6);
        for (name, conv) in [("conv1", &self.conv1), ("conv2", &self.conv2)] {
            out.push((format!("{name}.weight"), conv.weight.clone()));
            out.push((format!("{name}.bias"), conv.bias.clone()));
        }
        self.head.push_parameters("head", &mut out);
        out
    }
}

/// Any of the harness's models, as configuration: what a CLI flag or a lab experiment
/// names. Serialised with a `"type"` tag, like cadence's schedule specs.
///
/// # Examples
///
/// ```
/// use cadence_candle::model::{ModelSpec, Model};
///
/// let spec: ModelSpec = serde_json::from_str(r#"{"type": "mlp", "widths": [64, 32, 10]}"#)?;
/// let model = spec.build(0, &candle_core::Device::Cpu)?;
/// assert_eq!(model.parameter_count(), 64 * 32 + 32 + 32 * 10 + 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelSpec {
    /// A multilayer perceptron.
    Mlp(MlpConfig),
    /// The small convolutional network.
    Cnn(CnnConfig),
}

impl Default for ModelSpec {
    /// The digits MLP 64-128-10.
    fn default() -> Self {
        ModelSpec::Mlp(MlpConfig::default())
    }
}

impl ModelSpec {
    /// Builds the model with weights drawn from `seed`.
    ///
    /// # Errors
    /// [`TrainError::Candle`] if the tensors cannot be created on `device`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::{CnnConfig, ModelSpec, Model};
    /// let cnn = ModelSpec::Cnn(CnnConfig::default()).build(1, &candle_core::Device::Cpu)?;
    /// assert_eq!(cnn.parameters()[0].0, "conv1.weight");
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn build(&self, seed: u64, device: &Device) -> Result<Box<dyn Model>, TrainError> {
        Ok(match self {
            ModelSpec::Mlp(c) => Box::new(Mlp::new(c, seed, device)?),
            ModelSpec::Cnn(c) => Box::new(Cnn::new(c, seed, device)?),
        })
    }
}

/// A deep copy of a model's parameters, to put them back later (e.g. after a learning
/// rate range test).
///
/// # Examples
///
/// ```
/// use cadence_candle::model::{Mlp, MlpConfig, Model, Snapshot};
/// use candle_core::Device;
///
/// let m = Mlp::new(&MlpConfig::new(vec![2, 2])?, 0, &Device::Cpu)?;
/// let before = Snapshot::take(&m)?;
/// m.vars()[0].set(&m.vars()[0].zeros_like()?)?;
/// assert_ne!(Snapshot::take(&m)?, before);
/// before.restore(&m)?;
/// assert_eq!(Snapshot::take(&m)?, before);
/// # Ok::<(), cadence_candle::TrainError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Snapshot {
    tensors: Vec<(String, Tensor)>,
}

impl Snapshot {
    /// Copies every parameter of `model`.
    ///
    /// # Errors
    /// [`TrainError::Candle`] if a copy fails.
    pub fn take<M: Model + ?Sized>(model: &M) -> Result<Self, TrainError> {
        let tensors = model
            .parameters()
            .into_iter()
            .map(|(name, v)| Ok((name, v.as_tensor().copy()?)))
            .collect::<Result<_, TrainError>>()?;
        Ok(Snapshot { tensors })
    }

    /// Writes the copied values back into `model`'s parameters.
    ///
    /// # Errors
    /// [`TrainError::CheckpointMismatch`] if `model` has other parameter names or shapes.
    pub fn restore<M: Model + ?Sized>(&self, model: &M) -> Result<(), TrainError> {
        let params = model.parameters();
        if params.len() != self.tensors.len() {
            return Err(TrainError::mismatch(
                "parameter count",
                params.len(),
                self.tensors.len(),
            ));
        }
        for ((name, var), (saved_name, saved)) in params.iter().zip(&self.tensors) {
            if name != saved_name {
                return Err(TrainError::mismatch("parameter name", name, saved_name));
            }
            if var.dims() != saved.dims() {
                return Err(TrainError::mismatch(
                    name.clone(),
                    format!("{:?}", var.dims()),
                    format!("{:?}", saved.dims()),
                ));
            }
            var.set(saved)?;
        }
        Ok(())
    }

    /// The copied tensors with their names.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::{Mlp, MlpConfig, Snapshot};
    /// let m = Mlp::new(&MlpConfig::new(vec![2, 2])?, 0, &candle_core::Device::Cpu)?;
    /// assert_eq!(Snapshot::take(&m)?.tensors()[1].0, "layers.0.bias");
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn tensors(&self) -> &[(String, Tensor)] {
        &self.tensors
    }

    /// The Euclidean distance between two snapshots of the same model, over all
    /// parameters (e.g. how far training moved the weights from initialisation).
    ///
    /// # Errors
    /// [`TrainError::CheckpointMismatch`] if the snapshots have other names or shapes.
    ///
    /// # Examples
    ///
    /// ```
    /// use cadence_candle::model::{Mlp, MlpConfig, Model, Snapshot};
    /// let m = Mlp::new(&MlpConfig::new(vec![1, 1])?, 0, &candle_core::Device::Cpu)?;
    /// let a = Snapshot::take(&m)?;
    /// m.vars()[1].set(&(m.vars()[1].as_tensor() + 3.0)?)?;
    /// let d = a.distance(&Snapshot::take(&m)?)?;
    /// assert!((d - 3.0).abs() < 1e-6);
    /// # Ok::<(), cadence_candle::TrainError>(())
    /// ```
    pub fn distance(&self, other: &Snapshot) -> Result<f64, TrainError> {
        if self.tensors.len() != other.tensors.len() {
            return Err(TrainError::mismatch(
                "parameter count",
                self.tensors.len(),
                other.tensors.len(),
            ));
        }
        let mut sum = 0.0_f64;
        for ((name, a), (other_name, b)) in self.tensors.iter().zip(&other.tensors) {
            if name != other_name || a.dims() != b.dims() {
                return Err(TrainError::mismatch("parameter", name, other_name));
            }
            let d = (a - b)?
                .sqr()?
                .sum_all()?
                .to_dtype(candle_core::DType::F64)?;
            sum += d.to_scalar::<f64>()?;
        }
        Ok(sum.sqrt())
    }
}

impl PartialEq for Snapshot {
    /// Bit-for-bit equality of names, shapes and values.
    fn eq(&self, other: &Self) -> bool {
        fn bits(t: &Tensor) -> Option<Vec<u32>> {
            let v = t.flatten_all().ok()?.to_vec1::<f32>().ok()?;
            Some(v.into_iter().map(f32::to_bits).collect())
        }
        self.tensors.len() == other.tensors.len()
            && self
                .tensors
                .iter()
                .zip(&other.tensors)
                .all(|((n, a), (m, b))| {
                    n == m && a.dims() == b.dims() && bits(a).is_some() && bits(a) == bits(b)
                })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn seeds_change_weights() {
        let c = MlpConfig::default();
        let a = Snapshot::take(&Mlp::new(&c, 1, &Device::Cpu).unwrap()).unwrap();
        let b = Snapshot::take(&Mlp::new(&c, 2, &Device::Cpu).unwrap()).unwrap();
        let a2 = Snapshot::take(&Mlp::new(&c, 1, &Device::Cpu).unwrap()).unwrap();
        assert_eq!(a, a2);
        assert_ne!(a, b);
    }

    #[test]
    fn mlp_matches_a_hand_computed_forward() {
        let m = Mlp::new(&MlpConfig::new(vec![2, 2, 1]).unwrap(), 0, &Device::Cpu).unwrap();
        let p = Snapshot::take(&m).unwrap();
        let get = |i: usize| {
            p.tensors()[i]
                .1
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let (w0, b0, w1, b1) = (get(0), get(1), get(2), get(3));
        let x = [0.5_f32, -2.0];
        let h: Vec<f32> = (0..2)
            .map(|o| (w0[2 * o] * x[0] + w0[2 * o + 1] * x[1] + b0[o]).max(0.0))
            .collect();
        let y = w1[0] * h[0] + w1[1] * h[1] + b1[0];
        let xs = Tensor::new(&[x], &Device::Cpu).unwrap();
        let out = m
            .forward(&xs)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!((out[0] - y).abs() < 1e-6, "{out:?} vs {y}");
    }

    #[test]
    fn cnn_shapes_and_parameter_names() {
        let c = Cnn::new(&CnnConfig::default(), 0, &Device::Cpu).unwrap();
        let names: Vec<String> = c.parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "conv1.weight",
                "conv1.bias",
                "conv2.weight",
                "conv2.bias",
                "head.weight",
                "head.bias"
            ]
        );
        let x = Tensor::zeros((2, 64), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(c.forward(&x).unwrap().dims(), &[2, 10]);
    }

    #[test]
    fn model_spec_round_trips() {
        for spec in [
            ModelSpec::default(),
            ModelSpec::Cnn(CnnConfig::default()),
            ModelSpec::Mlp(
                MlpConfig::deep(64, 8, 3, 10)
                    .unwrap()
                    .with_init(Init::XavierUniform),
            ),
        ] {
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), spec);
        }
        assert!(
            serde_json::from_str::<ModelSpec>(r#"{"type":"mlp","widths":[1,2],"x":1}"#).is_err()
        );
    }
}
