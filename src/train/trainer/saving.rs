//! Writing a run directory: the manifest, each network's weights, the optimisers' state and
//! the sample grid, crash-safely.

use super::{Nets, Trainer};
use crate::checkpoint::{self, DataInfo, Manifest};
use crate::model::Generator;
use burn::optim::ModuleOptimizer;
use std::path::Path;

impl Trainer {
    /// Write the run directory (atomically).
    pub fn save(&self, dir: &Path) -> Result<(), crate::checkpoint::CheckpointError> {
        self.save_expecting(dir, None).map(drop)
    }

    /// [`Trainer::save`], refusing to replace what is at `dir` unless it is still `expect`
    /// (what this process last read or wrote there); returns what is there now.
    pub fn save_expecting(
        &self,
        dir: &Path,
        expect: Option<checkpoint::replace::Seen>,
    ) -> Result<checkpoint::replace::Seen, crate::checkpoint::CheckpointError> {
        if !self.weights_finite() {
            return Err(checkpoint::CheckpointError::NonFinite {
                step: self.step,
                detail: "the weights hold NaN or infinite values".into(),
            });
        }
        let manifest = Manifest {
            format_version: checkpoint::FORMAT_VERSION,
            crate_version: env!("CARGO_PKG_VERSION").into(),
            created_unix_secs: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            step: self.step,
            examples_seen: self.examples_seen,
            train: self.config.clone(),
            data: DataInfo {
                name: self.data.name.clone(),
                source: self.data_source.clone(),
                len: self.data.len(),
                height: self.data.height,
                width: self.data.width,
                channels: self.data.channels,
            },
            class_names: self.data.class_names.clone(),
            history: self.history.clone(),
        };
        let optim = |o: &ModuleOptimizer| {
            o.into_bytes()
                .map(|b| b.to_vec())
                .map_err(|e| checkpoint::CheckpointError::Encode {
                    what: "optimiser state",
                    detail: e.to_string(),
                })
        };
        let mut files = match &self.nets {
            Nets::Gan {
                g,
                d,
                opt_g,
                opt_d,
                ema,
            } => {
                let mut files = vec![
                    (checkpoint::GENERATOR, checkpoint::module_bytes(g)?),
                    (checkpoint::DISCRIMINATOR, checkpoint::module_bytes(d)?),
                    (checkpoint::OPTIM_G, optim(opt_g)?),
                    (checkpoint::OPTIM_D, optim(opt_d)?),
                ];
                if let Some(e) = ema {
                    files.push((checkpoint::GENERATOR_EMA, checkpoint::module_bytes(e)?));
                }
                files
            }
            Nets::Vae { net, opt } => vec![
                (
                    checkpoint::GENERATOR,
                    checkpoint::module_bytes(&Generator::Vae(net.decoder.clone()))?,
                ),
                (checkpoint::ENCODER, checkpoint::module_bytes(&net.encoder)?),
                (checkpoint::OPTIM_G, optim(opt)?),
            ],
            Nets::Boltzmann { net, state } => vec![
                (
                    checkpoint::GENERATOR,
                    checkpoint::module_bytes(&Generator::Boltzmann(net.clone()))?,
                ),
                (checkpoint::OPTIM_G, checkpoint::module_bytes(state)?),
            ],
        };
        files.push((checkpoint::SAMPLES, self.samples_png()?));
        checkpoint::write_run_dir(dir, &manifest, &files, expect)
    }

    /// The fixed-noise grid as PNG bytes, saved beside the weights for a quick look.
    fn samples_png(&self) -> Result<Vec<u8>, checkpoint::CheckpointError> {
        let encode = |detail: String| checkpoint::CheckpointError::Encode {
            what: "sample grid",
            detail,
        };
        let grid = self.sample_grid().map_err(|e| encode(e.to_string()))?;
        crate::export::png_bytes(&grid, &[("step", self.step.to_string())])
            .map_err(|e| encode(e.to_string()))
    }
}
