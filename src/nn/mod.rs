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
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
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

/// A trained network as files: safetensors weights and its config as pretty JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedModel {
    pub weights: Vec<u8>,
    pub config_json: Vec<u8>,
}

impl SavedModel {
    /// Serialises `module` and `config` in memory.
    pub(crate) fn of<M: burn::module::Module>(
        module: &M,
        config: &impl serde::Serialize,
        kind: &str,
    ) -> Result<Self> {
        Ok(SavedModel {
            weights: weights_bytes(module, &[("spurion", kind)])?,
            config_json: serde_json::to_vec_pretty(config)
                .map_err(|e| Error::Invalid(format!("serialising a config: {e}")))?,
        })
    }
}

/// A module's weights as safetensors bytes, with `metadata` in the header.
pub fn weights_bytes<M: Module>(module: &M, metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    use burn::store::{ModuleSnapshot, SafetensorsStore};
    let mut store = SafetensorsStore::from_bytes(None);
    for (k, v) in metadata {
        store = store.metadata(*k, *v);
    }
    module
        .save_into(&mut store)
        .map_err(|e| Error::Model(format!("serialising weights: {e}")))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| Error::Model(format!("serialising weights: {e}")))?;
    canonical_safetensors(&bytes)
}

/// The same safetensors file with its header's keys sorted: burn writes the metadata from a
/// hash map, in a different order every run, and a report must be the same for the same seed.
fn canonical_safetensors(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::collections::BTreeMap;
    let bad = || Error::Model("serialising weights: malformed safetensors header".into());
    let n = u64::from_le_bytes(
        bytes
            .get(..8)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    );
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(8))
        .ok_or_else(bad)?;
    let header: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(bytes.get(8..end).ok_or_else(bad)?).map_err(|_| bad())?;
    let sorted: BTreeMap<String, serde_json::Value> = header
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::Object(m) => {
                let inner: BTreeMap<String, serde_json::Value> = m.into_iter().collect();
                (k, serde_json::to_value(inner).unwrap_or_default())
            }
            other => (k, other),
        })
        .collect();
    let mut json = serde_json::to_vec(&sorted).map_err(|_| bad())?;
    // The data starts on an 8-byte boundary, as safetensors writers pad it.
    while !(8 + json.len()).is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[end..]);
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::vae::{Vae, VaeConfig};

    #[test]
    fn weights_serialise_the_same_every_time_and_load_back() {
        let device = ComputeDevice::Cpu.device().unwrap();
        let config = VaeConfig {
            channels: 3,
            size: 4,
            latent_dim: 2,
            hidden: 8,
            guide_classes: Some(2),
        };
        let vae = seeded_init(&device, 3, || Vae::new(&config, &device));
        let meta = [("spurion", "vae"), ("a", "1"), ("b", "2"), ("c", "3")];
        let first = weights_bytes(&vae, &meta).unwrap();
        for _ in 0..5 {
            assert_eq!(weights_bytes(&vae, &meta).unwrap(), first);
        }
        let n = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
        assert_eq!((8 + n) % 8, 0, "data not aligned");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vae.safetensors");
        std::fs::write(&path, &first).unwrap();
        let fresh = seeded_init(&device, 4, || Vae::new(&config, &device));
        let loaded = load_weights(fresh, &path).unwrap();
        assert_eq!(weights_bytes(&loaded, &meta).unwrap(), first);
    }
}
