//! The run's discriminator as a real/fake detector, during training: its scores on real and
//! fresh generated images, and its verdict on images a user hands it.

use super::{Nets, Trainer};
use crate::detect::{self, Detection, Judged, auc};
use crate::model::{Discriminator, generate_with};
use crate::train::TrainError;
use crate::types::noise;
use burn::prelude::*;

impl Trainer {
    /// An inference copy of D (`None` for the VAE and Boltzmann machines).
    fn discriminator(&self) -> Option<Discriminator> {
        match &self.nets {
            Nets::Gan { d, .. } => Some(d.valid()),
            Nets::Vae { .. } | Nets::Boltzmann { .. } => None,
        }
    }

    /// P(real) from `d` for images `[n * 784]`; `labels` (`[n]`) go into a D that takes them.
    fn p_real(
        &self,
        d: &Discriminator,
        images: &[f32],
        labels: &[u8],
    ) -> Result<Vec<f32>, TrainError> {
        let device = self.device.clone().without_autodiff();
        Ok(detect::scores(
            d,
            &self.config.model,
            images,
            labels,
            &device,
        )?)
    }

    /// `n` fresh samples of the trained generator (what D is up against) and their labels.
    fn fresh_fakes(&self, n: usize, salt: u64) -> Result<(Vec<f32>, Vec<u8>), TrainError> {
        let m = &self.config.model;
        let z = noise::gaussian(
            self.config.seed ^ salt ^ self.step.rotate_left(17),
            n * m.latent_dim,
        );
        let labels = noise::cycling_labels(n, m.num_classes);
        let cond = (m.cond_dim() > 0).then(|| noise::cycling_conditions(n, m.num_classes, m.codes));
        let device = self.device.clone().without_autodiff();
        let fakes = generate_with(&self.live_generator(), m, &device, &z, cond.as_deref())?;
        Ok((fakes, labels))
    }

    /// D's scores on up to `n` real images (every 10th of the data set) and on `n` fresh
    /// samples; `None` for the VAE.
    pub fn detection(&self, n: usize) -> Result<Option<Detection>, TrainError> {
        let Some(d) = self.discriminator() else {
            return Ok(None);
        };
        // Its fakes would be upscales of noise, not what it makes.
        if self.config.model.kind.is_image_to_image() {
            return Ok(None);
        }
        let (_, held) = crate::quality::split(self.data.len());
        let held = &held[..held.len().min(n)];
        let real_labels: Vec<u8> = held.iter().map(|&i| self.data.labels[i]).collect();
        let real = self.p_real(&d, &self.data.pixels(held), &real_labels)?;
        let (fakes, labels) = self.fresh_fakes(n, 0xde7e)?;
        let fake = self.p_real(&d, &fakes, &labels)?;
        Ok(Some(Detection {
            step: self.step,
            auc: auc(&real, &fake),
            real,
            fake,
        }))
    }

    /// D's verdict on `images` (`[n * 784]`), or, when there are none, on `n` random data
    /// images and `n` fresh samples. A D that takes a label judges each image for every class
    /// and keeps the most real-looking.
    pub fn judge(
        &self,
        names: Vec<String>,
        images: Vec<f32>,
        n: usize,
    ) -> Result<Option<Judged>, TrainError> {
        let Some(d) = self.discriminator() else {
            return Ok(None);
        };
        let (names, images) = if images.is_empty() {
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(self.config.seed ^ self.step ^ 0x9d9e);
            let len = self.data.len().max(1);
            let idx: Vec<usize> = (0..n).map(|_| rng.random_range(0..len)).collect();
            let (fakes, _) = self.fresh_fakes(n, 0x5a3e)?;
            let mut images = self.data.pixels(&idx);
            images.extend(fakes);
            let names = idx
                .iter()
                .map(|i| format!("data image {i}"))
                .chain((0..n).map(|i| format!("generated sample {}", i + 1)))
                .collect();
            (names, images)
        } else {
            (names, images)
        };
        let device = self.device.clone().without_autodiff();
        let verdicts = detect::verdicts(&d, &self.config.model, &images, None, &device)?;
        Ok(Some(Judged {
            names,
            images,
            shape: (self.config.model.image_size, self.config.model.channels),
            verdicts,
        }))
    }
}
