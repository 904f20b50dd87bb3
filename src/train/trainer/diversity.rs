//! The mode-collapse alarm's always-on signal: how varied the fixed-noise samples of the
//! trained weights are, as a share of how varied the data is ([`crate::quality::collapse`]).

use super::Trainer;
use crate::quality::collapse::mean_pairwise_distance;
use crate::train::TrainError;

/// Real images the data's diversity is measured on (chosen by the run's seed).
const REAL_IMAGES: usize = 256;

impl Trainer {
    /// The samples' mean pairwise distance over the data's, for a GAN that draws from noise
    /// (`None` for other models). The trained weights, not their average: the average lags
    /// a collapse by hundreds of steps.
    pub fn diversity(&self) -> Result<Option<f32>, TrainError> {
        let kind = self.config.model.kind;
        if !kind.is_gan() || kind.is_image_to_image() {
            return Ok(None);
        }
        let len = self.config.model.image_len();
        let real = *self.real_spread.get_or_init(|| {
            let n = self.data.len();
            let idx: Vec<usize> = (0..REAL_IMAGES.min(n))
                // A prime stride spreads them over the set, a folder read class by class too.
                .map(|i| (i * 7919 + self.config.seed as usize) % n.max(1))
                .collect();
            mean_pairwise_distance(&self.data.pixels(&idx), len)
        });
        if real <= 0.0 {
            return Ok(None);
        }
        let g = self.live_generator();
        let samples = self.generate_by(&g, &self.fixed_z, self.fixed_labels.as_deref())?;
        Ok(Some(mean_pairwise_distance(&samples, len) / real))
    }
}
