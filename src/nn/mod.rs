//! The two networks of the method: the classifier under audit and the VAE that maps probes to
//! a latent space. Model code is backend-neutral (burn 0.22 picks the device at run time);
//! [`ComputeDevice`] chooses it.

pub mod classifier;
pub mod vae;

use std::sync::Mutex;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use crate::data::Images;
use crate::error::{Error, Result};

/// Where the networks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDevice {
    /// burn's Flex backend: pure-Rust CPU, multi-threaded.
    #[default]
    Cpu,
    /// burn's CUDA backend (built with the `cuda` feature).
    Cuda,
}

impl ComputeDevice {
    /// The burn device for inference (no autodiff).
    pub fn device(self) -> Result<Device> {
        match self {
            ComputeDevice::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            ComputeDevice::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            ComputeDevice::Cuda => Err(Error::param(
                "device",
                "cuda: this build has no CUDA support (rebuild with `--features cuda`)",
            )),
        }
    }
}

/// Serialises weight initialisation: burn seeds its random generator per backend, not per
/// model, so two models initialised at once on two threads would race for it.
static INIT_LOCK: Mutex<()> = Mutex::new(());

struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Builds a module with weights drawn from `seed`. burn initialises parameters lazily; they
/// are materialised here, inside the lock, so that the draw cannot interleave with another.
pub(crate) fn seeded_init<M: Module>(device: &Device, seed: u64, build: impl FnOnce() -> M) -> M {
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    let module = build();
    module.visit(&mut Materialize);
    module
}

/// A batch of images as a `[batch, channels, height, width]` tensor.
pub(crate) fn images_tensor(images: &Images, device: &Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(
            images.data.clone(),
            [images.count, images.channels, images.height, images.width],
        ),
        device,
    )
}

/// A `[rows, cols]` tensor.
pub(crate) fn matrix(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// Reads a tensor back as `f32` values.
pub(crate) fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Model(format!("reading a tensor back: {e:?}")))
}

/// Reads a scalar tensor back.
pub(crate) fn scalar(t: Tensor<1>) -> Result<f64> {
    Ok(to_vec(t)?[0] as f64)
}

/// Saves a module's weights as safetensors (atomically), with `metadata` in the header.
pub fn save_weights<M: Module>(
    module: &M,
    path: &std::path::Path,
    metadata: &[(&str, &str)],
) -> Result<()> {
    use burn::store::{ModuleSnapshot, SafetensorsStore};
    let mut store = SafetensorsStore::from_bytes(None);
    for (k, v) in metadata {
        store = store.metadata(*k, *v);
    }
    module
        .save_into(&mut store)
        .map_err(|e| Error::Model(format!("saving {}: {e}", path.display())))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| Error::Model(format!("saving {}: {e}", path.display())))?;
    crate::atomic::write(path, &bytes)
}

/// Loads safetensors weights into `module` (which fixes the expected names and shapes).
pub fn load_weights<M: Module>(mut module: M, path: &std::path::Path) -> Result<M> {
    use burn::store::{ModuleSnapshot, SafetensorsStore};
    let bytes = crate::data::read_file(path)?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    module
        .load_from(&mut store)
        .map_err(|e| Error::data(path, format!("not weights for this model: {e}")))?;
    Ok(module)
}
