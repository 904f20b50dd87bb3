//! Rendering a style generator under the explorer's controls: two style sources (A and B),
//! which levels take B's style, truncation toward `w_avg` below a cutoff level, directions
//! in W, and the per-level noise (a seed and a strength each). Plain data in, pixels out, so
//! the explorer thread, `sample` and the tests share one path.

use crate::model::style::{NoiseMode, StyleGenerator};
use crate::model::{ModelConfig, ReadbackError, readback};
use burn::prelude::*;
use std::ops::Range;

/// The truncation ψ the controls accept (the StyleGAN papers show -1 to 2).
pub const PSI_RANGE: std::ops::RangeInclusive<f32> = -1.0..=2.0;

/// One style source: latent rows and their condition, or fixed per-level w rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Source {
    /// `[n * latent]`.
    pub z: Vec<f32>,
    /// `[n * cond_dim]` for a conditional generator.
    pub label: Option<Vec<f32>>,
    /// Instead of mapping `z`: one row of `[levels * w_dim]` (coarsest level first; a
    /// projected picture's W+, or a W repeated), the same for every image.
    pub ws: Option<Vec<f32>>,
}

/// Everything that decides the images.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleSpec {
    /// Source A: one image per row (per row of `ws`: one).
    pub a: Source,
    /// Added to A's w at every level (directions in W): `[w_dim]`, or empty.
    pub w_offset: Vec<f32>,
    /// Source B: one row (shared by all images) or as many rows as A.
    pub b: Option<Source>,
    /// The images: per layout, the levels whose style comes from B (missing levels: A).
    /// Images come out layout by layout, A's rows within each.
    pub layouts: Vec<Vec<bool>>,
    /// Truncation: w becomes `w_avg + psi (w - w_avg)` at the levels below `cutoff`.
    pub psi: f32,
    pub cutoff: Option<usize>,
    /// Per level: the noise's seed and strength multiplier.
    pub noise_seeds: Vec<u64>,
    pub noise_scales: Vec<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum StyleError {
    #[error("truncation {0} is outside -1 to 2")]
    Psi(f32),
    #[error("cutoff {cutoff}: this generator has {levels} levels (0-{})", levels - 1)]
    Cutoff { cutoff: usize, levels: usize },
    #[error("source {which}: {detail}")]
    Shape { which: char, detail: String },
    #[error("{0} levels named, this generator has {1}")]
    Layout(usize, usize),
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// The three groups of levels StyleGAN's figure 3 mixes: coarse (the first two levels, the
/// first only below four levels), fine (the last half of the rest, at least one level) and
/// middle between them (empty for two levels).
pub fn level_groups(levels: usize) -> [Range<usize>; 3] {
    let coarse = if levels >= 4 { 2 } else { 1 }.min(levels);
    let fine = levels - ((levels - coarse) / 2).max(1).min(levels - coarse);
    [0..coarse, coarse..fine, fine..levels]
}

/// The mixing figure's images: A, B, then coarse, middle and fine styles from B.
pub fn figure_layouts(levels: usize) -> Vec<(&'static str, Vec<bool>)> {
    let [c, m, f] = level_groups(levels);
    let take = |r: Range<usize>| (0..levels).map(|l| r.contains(&l)).collect::<Vec<_>>();
    vec![
        ("A", vec![false; levels]),
        ("B", vec![true; levels]),
        ("coarse from B", take(c)),
        ("middle from B", take(m)),
        ("fine from B", take(f)),
    ]
}

/// One `[rows, w_dim]` tensor per level for `src` (`n` rows wanted: 1 or `n` given rows).
fn level_ws(
    g: &StyleGenerator,
    model: &ModelConfig,
    src: &Source,
    name: char,
    n: usize,
    device: &Device,
) -> Result<Vec<Tensor<2>>, StyleError> {
    let (levels, wd, latent) = (g.num_levels(), g.w_dim(), model.latent_dim);
    let bad = |detail: String| StyleError::Shape {
        which: name,
        detail,
    };
    if let Some(ws) = &src.ws {
        if ws.len() != levels * wd {
            return Err(bad(format!(
                "{} style numbers, the generator takes {levels} levels of {wd}",
                ws.len()
            )));
        }
        let t = Tensor::<2>::from_data(TensorData::new(ws.clone(), [levels, wd]), device); // [levels, w_dim]
        return Ok((0..levels)
            .map(|l| t.clone().slice([l..l + 1, 0..wd]).expand([n, wd]))
            .collect());
    }
    let rows = src.z.len() / latent.max(1);
    if rows == 0 || src.z.len() != rows * latent || (rows != 1 && rows != n) {
        return Err(bad(format!(
            "{} latent numbers, want {n} (or 1) rows of {latent}",
            src.z.len()
        )));
    }
    let z = Tensor::<2>::from_data(TensorData::new(src.z.clone(), [rows, latent]), device);
    let cond = model.cond_dim();
    let label = match &src.label {
        Some(l) if cond > 0 && l.len() == rows * cond => Some(Tensor::<2>::from_data(
            TensorData::new(l.clone(), [rows, cond]),
            device,
        )),
        Some(l) if cond > 0 => {
            return Err(bad(format!(
                "{} condition numbers, want {rows} rows of {cond}",
                l.len()
            )));
        }
        _ => None,
    };
    let w = g.to_w(z, label).expand([n, wd]); // [n, w_dim]
    Ok(vec![w; levels])
}

/// The images of `spec`: `[layouts * n, channels, side, side]` values in [-1, 1], and A's w
/// per level for its first row (`[levels * w_dim]`, offset applied, before truncation: what an
/// export records).
pub fn render(
    g: &StyleGenerator,
    model: &ModelConfig,
    spec: &StyleSpec,
    device: &Device,
) -> Result<(Vec<f32>, Vec<f32>), StyleError> {
    let (levels, wd) = (g.num_levels(), g.w_dim());
    if !PSI_RANGE.contains(&spec.psi) {
        return Err(StyleError::Psi(spec.psi));
    }
    if let Some(c) = spec.cutoff.filter(|&c| c > levels) {
        return Err(StyleError::Cutoff { cutoff: c, levels });
    }
    if let Some(l) = spec.layouts.iter().find(|l| l.len() > levels) {
        return Err(StyleError::Layout(l.len(), levels));
    }
    let n = match &spec.a.ws {
        Some(_) => 1,
        None => (spec.a.z.len() / model.latent_dim.max(1)).max(1),
    };
    let mut a = level_ws(g, model, &spec.a, 'A', n, device)?;
    if spec.w_offset.len() == wd {
        let off = Tensor::<2>::from_data(TensorData::new(spec.w_offset.clone(), [1, wd]), device);
        a = a.into_iter().map(|w| w + off.clone()).collect();
    }
    let b = match &spec.b {
        Some(src) => Some(level_ws(g, model, src, 'B', n, device)?),
        None => None,
    };
    let a_first: Vec<Tensor<2>> = a.iter().map(|w| w.clone().slice([0..1, 0..wd])).collect();
    let a_ws = readback(Tensor::cat(a_first, 0))?; // [levels * w_dim]
    let layouts = if spec.layouts.is_empty() {
        vec![Vec::new()]
    } else {
        spec.layouts.clone()
    };
    let cutoff = spec.cutoff.unwrap_or(levels);
    let ws: Vec<Tensor<2>> = (0..levels)
        .map(|l| {
            let rows: Vec<Tensor<2>> = layouts
                .iter()
                .map(
                    |layout| match (&b, layout.get(l).copied().unwrap_or(false)) {
                        (Some(b), true) => b[l].clone(),
                        _ => a[l].clone(),
                    },
                )
                .collect();
            let w = Tensor::cat(rows, 0); // [layouts * n, w_dim]
            if l < cutoff && spec.psi != 1.0 {
                g.truncate(w, f64::from(spec.psi))
            } else {
                w
            }
        })
        .collect();
    let noise = NoiseMode::Fixed {
        seeds: spec.noise_seeds.clone(),
        scales: spec.noise_scales.iter().map(|&s| f64::from(s)).collect(),
    };
    let images = readback(g.synthesize(&ws, &noise))?; // [layouts * n, channels, side, side]
    Ok((images, a_ws))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_groups_split_every_depth() {
        assert_eq!(level_groups(3), [0..1, 1..2, 2..3]);
        assert_eq!(level_groups(4), [0..2, 2..3, 3..4]);
        assert_eq!(level_groups(5), [0..2, 2..4, 4..5]);
        assert_eq!(level_groups(6), [0..2, 2..4, 4..6]);
        assert_eq!(level_groups(2), [0..1, 1..1, 1..2]);
    }
}
