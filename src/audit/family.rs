//! One probe set's run within an audit, the method's steps in order: classify every probe
//! (step 3), train the VAE on a sample of the fitted part (step 2), encode every probe, then
//! the per-class search and the held-out analysis ([`crate::pipeline`]). Probes stream
//! through the classifier and the encoder in bounded batches, so probe sets larger than
//! memory work.

use std::time::Instant;

use rand::seq::index;

use super::inputs::{branch, check_count};
use super::{Classifier, Holdout, HoldoutCaches};
use crate::config::{AuditConfig, Representation};
use crate::data::Images;
use crate::error::{Error, Result};
use crate::method::Latents;
use crate::method::causal::{CausalInput, draw_probes};
use crate::method::latent::fit_vae;
use crate::method::split::{HELD_SHARE, Split};
use crate::metrics::Probabilities;
use crate::nn::vae::{self, TrainedVae, VaeTraining};
use crate::pipeline::{self, Space};
use crate::probes::{ProbeFamily, ProbeSource, ProbeSpec};
use crate::progress::Progress;
use crate::results::{AuditRun, AuditTimings};
use crate::seed::{SeedPath, Stream};

/// What one probe set's run reads.
pub(super) struct FamilyRun<'a> {
    pub classifier: Classifier<'a>,
    pub source: &'a ProbeSource,
    pub holdout: Option<&'a Holdout>,
    /// The hold-out's caches and the model's key in them, when a model runs on it.
    pub caches: Option<(&'a HoldoutCaches, u64)>,
    pub config: &'a AuditConfig,
    /// The run's generators ([`super::inputs::family_seeds`]).
    pub seeds: SeedPath,
    /// The run's name (its family, or "folder"), and the folder of its files in the report
    /// (empty: the report's own).
    pub name: String,
    pub rel: String,
}

impl FamilyRun<'_> {
    /// Classifies, fits the VAE on one part, encodes, searches and tests.
    pub fn run(self, progress: &Progress, timings: &mut AuditTimings) -> Result<AuditRun> {
        let (config, source) = (self.config, self.source);
        let classes = self.classifier.class_names().len();
        let n = source.count();
        check_count(source, config)?;
        let split = Split::new(n, HELD_SHARE, &self.seeds);
        let use_vae = config.representation == Representation::Vae;

        let t = Instant::now();
        let vae_ids = if use_vae {
            self.vae_sample(&split)
        } else {
            Vec::new()
        };
        // Probabilities another audit of this model already computed for these probes come
        // from the hold-out's cache; the VAE's thumbnails are then drawn only if it trains.
        let key = self.probability_key();
        let cached = match (&key, self.caches) {
            (Some(k), Some((c, _))) => c.probabilities.get(k),
            _ => None,
        };
        let (probs, train_x) = match cached {
            Some(probs) => (probs, None),
            None => {
                let (probs, x) = self.classify(&vae_ids, progress)?;
                if let (Some(k), Some((c, _))) = (key, self.caches) {
                    c.probabilities.insert(k, probs.clone());
                }
                (probs, Some(x))
            }
        };
        timings.inference += t.elapsed().as_secs_f64();

        // Step 2: the VAE on the fitted part (plain by default; `--vae guided` also learns to
        // predict their probabilities), then every probe's latent. The baselines skip both.
        let t = Instant::now();
        let trained = if use_vae {
            Some(self.train_vae(&vae_ids, train_x, &probs, progress)?)
        } else {
            None
        };
        timings.vae += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let latents = match &trained {
            Some((vae, _)) => self.encode(vae, progress)?,
            None => Latents::new(classes, probs.values.clone())?,
        };
        timings.inference += t.elapsed().as_secs_f64();

        // Step 4 and the analysis, on the held-out part.
        progress.check()?;
        let classifier = self.classifier;
        let predict = |imgs: &Images| match classifier {
            Classifier::Model(model) => model.predict(imgs),
            Classifier::Scores(_) => {
                Err(Error::Invalid("no model to run: scores were given".into()))
            }
        };
        let causal = self.causal_input(&split, &predict)?;
        let decode = |z: &[f32]| match &trained {
            Some((vae, _)) => vae.decode(z),
            None => Err(Error::Invalid("no decoder".into())),
        };
        let probe_images = |ids: &[usize]| source.get(ids);
        let (run, times) = pipeline::run_space(Space {
            rel: self.rel.clone(),
            label: format!("{} probes, latent dim {}", self.name, latents.dim()),
            class_names: self.classifier.class_names(),
            probs: &probs,
            latents,
            split: &split,
            method: &config.method,
            top_probes: config.representation == Representation::TopProbes,
            seeds: self.seeds.clone(),
            decode: trained
                .as_ref()
                .map(|_| &decode as &dyn Fn(&[f32]) -> Result<Images>),
            probe_images: &probe_images,
            probe_part: &|i| source.mixed_part(i).map(ProbeFamily::name),
            causal: causal.as_ref(),
            vae: trained.as_ref().map(|(v, _)| v.save()).transpose()?,
            vae_training: trained.as_ref().map(|(_, t)| t.clone()),
        })?;
        timings.clustering += times.search;
        timings.report += times.analysis;
        let mut argmax = vec![0usize; classes];
        for i in 0..n {
            argmax[probs.argmax(i)] += 1;
        }
        Ok(AuditRun {
            family: self.name,
            probes: source.describe(),
            probe_count: n,
            probe_mean_probability: (0..classes).map(|c| probs.mean(c)).collect(),
            probe_argmax_counts: argmax,
            run,
        })
    }

    /// The probes the VAE trains on, sorted: a seeded sample of the fitted part of at most
    /// `vae_train_probes` (all of it when it is small).
    fn vae_sample(&self, split: &Split) -> Vec<usize> {
        let m = split.fit.len().min(self.config.vae_train_probes);
        let mut ids: Vec<usize> = if m == split.fit.len() {
            split.fit.clone()
        } else {
            index::sample(
                &mut self.seeds.child(branch::SAMPLE).rng(Stream::VaeTraining),
                split.fit.len(),
                m,
            )
            .into_iter()
            .map(|i| split.fit[i])
            .collect()
        };
        ids.sort_unstable();
        ids
    }

    /// What identifies this run's probabilities in the hold-out's cache: the model, the
    /// generated probe set and the batch size (none for a folder, or without a cache).
    fn probability_key(&self) -> Option<(u64, ProbeSpec, usize)> {
        match (self.caches, self.source) {
            (Some((_, model)), ProbeSource::Generated(spec)) => Some((
                model,
                spec.clone(),
                self.config.batch_for(self.source.size()),
            )),
            _ => None,
        }
    }

    /// Step 3 for every probe, in bounded batches: every probe's probabilities, and the
    /// thumbnails of the probes `vae_ids` (sorted), in their order.
    fn classify(
        &self,
        vae_ids: &[usize],
        progress: &Progress,
    ) -> Result<(Probabilities, Vec<f32>)> {
        let (source, size) = (self.source, self.config.vae.size);
        let classes = self.classifier.class_names().len();
        let n = source.count();
        let batch_size = self.config.batch_for(source.size());
        let mut probs = Vec::with_capacity(n * classes);
        let mut thumbnails = Vec::with_capacity(vae_ids.len() * 3 * size * size);
        let mut sampled = 0; // vae_ids[..sampled] have their thumbnails
        let bar = progress.bar(n as u64, format!("classifying {} probes", self.name));
        for start in (0..n).step_by(batch_size) {
            let end = start + batch_size.min(n - start);
            let images = source.batch(start, end)?;
            match self.classifier {
                Classifier::Model(model) => probs.extend(model.predict(&images)?.values),
                Classifier::Scores(s) => {
                    probs.extend_from_slice(&s.probs.values[start * classes..end * classes])
                }
            }
            let upto = sampled + vae_ids[sampled..].partition_point(|&i| i < end);
            if upto > sampled {
                let local: Vec<usize> = vae_ids[sampled..upto].iter().map(|&i| i - start).collect();
                thumbnails.extend(vae::thumbnails(&images.select(&local), size));
            }
            sampled = upto;
            bar.set_position(end as u64)?;
        }
        bar.finish_and_clear();
        Ok((Probabilities::new(classes, probs)?, thumbnails))
    }

    /// Step 2: the VAE trained on the thumbnails of probes `ids` (a guided VAE also on their
    /// probabilities).
    fn train_vae(
        &self,
        ids: &[usize],
        thumbnails: Option<Vec<f32>>,
        probs: &Probabilities,
        progress: &Progress,
    ) -> Result<(TrainedVae, VaeTraining)> {
        let config = self.config;
        let classes = probs.classes;
        let guide: Vec<f32> = ids
            .iter()
            .flat_map(|&i| &probs.values[i * classes..(i + 1) * classes])
            .copied()
            .collect();
        let vae_config = config.vae.config(config.latent_dim, classes);
        let init_seed = self.seeds.derive(Stream::VaeInit);
        let batches = self.seeds.child(branch::VAE_BATCHES);
        let train = || {
            let thumbnails = match thumbnails {
                Some(x) => x,
                None => vae::thumbnails(&self.source.get(ids)?, config.vae.size),
            };
            fit_vae(
                &vae_config,
                &thumbnails,
                Some(&guide),
                &config.vae.training,
                &config.device.device()?,
                (init_seed, &mut batches.rng(Stream::VaeTraining)),
                progress,
                format!("training VAE on {} probes", self.name),
            )
        };
        match self.caches {
            Some((c, model)) => {
                let settings = serde_json::to_string(&(&config.vae, config.device))
                    .map_err(|e| Error::Invalid(format!("VAE settings: {e}")))?;
                let key = (
                    model,
                    format!("{}: {}", self.name, self.source.describe()),
                    settings,
                    config.latent_dim,
                    [init_seed, batches.derive(Stream::VaeTraining)],
                    ids.to_vec(),
                );
                c.vaes.get_or_try_insert(key, train)
            }
            None => train(),
        }
    }

    /// Every probe's latent: a second pass over the probes in bounded batches.
    fn encode(&self, vae: &TrainedVae, progress: &Progress) -> Result<Latents> {
        let (config, source) = (self.config, self.source);
        let n = source.count();
        let batch_size = config.batch_for(source.size());
        let mut rng = self.seeds.rng(Stream::LatentSample);
        let mut latents = Vec::with_capacity(n * config.latent_dim);
        let bar = progress.bar(n as u64, format!("encoding {} probes", self.name));
        for start in (0..n).step_by(batch_size) {
            let end = start + batch_size.min(n - start);
            let x = vae::thumbnails(&source.batch(start, end)?, config.vae.size);
            latents.extend(vae.encode(&x, config.method.latent, batch_size, &mut rng)?);
            bar.set_position(end as u64)?;
        }
        bar.finish_and_clear();
        Latents::new(config.latent_dim, latents)
    }

    /// The causal test's input: the held-out images, and random held-out probes for its null
    /// (none without a model to run or images to run it on).
    fn causal_input<'p>(
        &self,
        split: &Split,
        predict: &'p (dyn Fn(&Images) -> Result<Probabilities> + Sync),
    ) -> Result<Option<CausalInput<'p>>> {
        let Some(h) = self
            .holdout
            .filter(|_| matches!(self.classifier, Classifier::Model(_)))
        else {
            return Ok(None);
        };
        let settings = &self.config.causal;
        let ids = draw_probes(
            &split.held,
            settings.null_probes,
            &mut self.seeds.rng(Stream::CausalNull),
        );
        let images = self.source.get(&ids)?;
        Ok(Some(CausalInput::new(
            h.images(),
            h.description().to_string(),
            predict,
            (ids, images),
            settings.clone(),
            self.caches
                .map(|(c, model)| c.effects.get_or_default(model))
                .unwrap_or_default(),
        )?))
    }
}
