//! A Laplacian pyramid GAN's shape (LAPGAN): its levels and the noise each takes, with bounds.

use super::config::{MIN_LAP_SIDE, ModelConfig, ModelKind};

/// The coarse level's noise values (the finer levels take one noise plane each).
pub const COARSE_LATENT: usize = 100;
/// Levels unless told otherwise: 8 -> 16 -> 32 at 32 px, 7 -> 14 -> 28 at 28.
pub const DEFAULT_LEVELS: usize = 3;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PyramidError {
    #[error(
        "lapgan takes 2 or 3 levels, each halving the side, down to at least {MIN_LAP_SIDE} px; \
         got {levels} levels at {size} px"
    )]
    Levels { levels: usize, size: usize },
    #[error("only lapgan takes --levels (got {levels} for {kind})")]
    NotLapgan { kind: &'static str, levels: usize },
    #[error(
        "lapgan's input is {COARSE_LATENT} coarse noise values and one noise plane per finer level \
         ({want} in all), not {got}"
    )]
    Latent { got: usize, want: usize },
    #[error("lapgan has no class or code input (got {0})")]
    Conditional(usize),
}

impl ModelConfig {
    /// The sides of a pyramid's levels, coarsest first (`[8, 16, 32]` for 3 levels at 32 px);
    /// the image's side alone for other models.
    pub fn level_sides(&self) -> Vec<usize> {
        let levels = self.levels.max(1);
        (0..levels)
            .map(|k| self.image_size >> (levels - 1 - k).min(8))
            .collect()
    }

    /// The finer levels' noise planes: one value per pixel of each.
    pub fn pyramid_noise(&self) -> usize {
        self.level_sides().iter().skip(1).map(|s| s * s).sum()
    }

    pub(super) fn validate_pyramid(&self) -> Result<(), PyramidError> {
        if self.kind != ModelKind::Lapgan {
            if self.levels != 0 {
                return Err(PyramidError::NotLapgan {
                    kind: self.kind.name(),
                    levels: self.levels,
                });
            }
            return Ok(());
        }
        let (levels, size) = (self.levels, self.image_size);
        let halvings = levels.saturating_sub(1);
        let ok = (2..=3).contains(&levels)
            && size.is_multiple_of(1 << halvings)
            && size >> halvings >= MIN_LAP_SIDE;
        if !ok {
            return Err(PyramidError::Levels { levels, size });
        }
        let want = COARSE_LATENT + self.pyramid_noise();
        if self.latent_dim != want {
            return Err(PyramidError::Latent {
                got: self.latent_dim,
                want,
            });
        }
        if self.cond_dim() != 0 {
            return Err(PyramidError::Conditional(self.cond_dim()));
        }
        Ok(())
    }
}
