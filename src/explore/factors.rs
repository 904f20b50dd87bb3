//! Which known factor of the shapes data set a latent direction moves: the table Explore and
//! `latentlab directions` show for runs on `--data shapes` in colour.
//!
//! The factors of a generated picture are read back from its pixels: the background's colour
//! is the mean of the one-pixel border; the shape is every pixel brighter than the midpoint of
//! the set's two brightness levels (shapes are drawn at value 0.95, backgrounds at 0.25); its
//! hue is that of its mean colour, its position the mask's centroid and its size the square
//! root of its area (fractions of the side). The shape class is the quality meter's
//! prediction, when a meter is at hand. Rotation is not read (a circle has none, a square's
//! repeats every quarter turn).
//!
//! A direction's effect on a factor is the mean, over base latents, of how far the factor
//! differs between the images at -2 and +2 sigma along the direction, as a share of the
//! factor's range in the data set (hues: half a turn, the farthest two hues are; size: 0.3;
//! position: 0.4 of the side; shape: the share of images whose class changes).

use super::directions::{DirSpace, Direction};
use crate::model::style::NoiseMode;
use crate::model::{Generator, ModelConfig, ReadbackError, generate_with};
use crate::types::noise;
use burn::prelude::*;

/// The factors a table reports, in its column order.
pub const FACTORS: [&str; 6] = ["shape", "object hue", "background hue", "size", "x", "y"];
/// Each factor's range in the data set, the unit of an effect (see the module docs).
const RANGES: [f32; 6] = [1.0, 0.5, 0.5, 0.3, 0.4, 0.4];
/// Steps along a direction to either side, in units of its sigma.
const REACH: f32 = 2.0;
/// Base latents a table averages over.
pub const SAMPLES: usize = 64;

/// Why a factor table could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error("loading the shapes set to read the shape class: {0}")]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// The mean of [`FactorRow::share_of_most`] over `rows`: how cleanly a set of directions moves
/// one factor each (the number `directions` prints to compare W with z).
pub fn mean_share_of_most(rows: &[FactorRow]) -> Option<f32> {
    let shares: Vec<f32> = rows.iter().filter_map(FactorRow::share_of_most).collect();
    (!shares.is_empty()).then(|| shares.iter().sum::<f32>() / shares.len() as f32)
}

/// Class predictions for pictures (`[n, channels, side, side]`), one per picture.
pub type Classify<'a> = &'a dyn Fn(&[f32]) -> Result<Vec<usize>, ReadbackError>;

/// One row: a direction and its effect on each of [`FACTORS`].
#[derive(Debug, Clone, PartialEq)]
pub struct FactorRow {
    pub direction: String,
    /// Shares of each factor's range ([`FACTORS`] order); shape is `None` without a meter.
    pub effects: [Option<f32>; 6],
}

impl FactorRow {
    /// How much of this direction's effect falls on the factor it moves most: the largest
    /// effect over their sum (1: it moves that factor alone; 1/6: all six equally).
    pub fn share_of_most(&self) -> Option<f32> {
        let known: Vec<f32> = self.effects.iter().flatten().copied().collect();
        let sum: f32 = known.iter().sum();
        (sum > 0.0).then(|| known.iter().copied().fold(0.0, f32::max) / sum)
    }

    /// The factor this direction moves most, and by how much.
    pub fn most(&self) -> Option<(&'static str, f32)> {
        self.effects
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.map(|e| (FACTORS[i], e)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// The five pixel-read factors of one colour picture (`[3, side, side]` in [-1, 1]): object
/// hue, background hue, size, x, y. `None` when no pixel stands out as a shape.
pub fn read(img: &[f32], side: usize) -> Option<[f32; 5]> {
    let plane = side * side;
    if side < 3 || img.len() != 3 * plane {
        return None;
    }
    let rgb = |i: usize| {
        [img[i], img[plane + i], img[2 * plane + i]].map(|v| (v.clamp(-1.0, 1.0) + 1.0) / 2.0)
    };
    let border: Vec<usize> = (0..plane)
        .filter(|i| {
            let (y, x) = (i / side, i % side);
            y == 0 || x == 0 || y == side - 1 || x == side - 1
        })
        .collect();
    let mean = |idx: &[usize]| {
        let mut m = [0.0f32; 3];
        for &i in idx {
            for (a, b) in m.iter_mut().zip(rgb(i)) {
                *a += b;
            }
        }
        m.map(|v| v / idx.len().max(1) as f32)
    };
    let background = mean(&border);
    let mask: Vec<usize> = (0..plane)
        .filter(|&i| rgb(i).iter().copied().fold(0.0, f32::max) > 0.6)
        .collect();
    if mask.is_empty() {
        return None;
    }
    let object = mean(&mask);
    let n = mask.len() as f32;
    let cx = mask.iter().map(|&i| (i % side) as f32 + 0.5).sum::<f32>() / n / side as f32;
    let cy = mask.iter().map(|&i| (i / side) as f32 + 0.5).sum::<f32>() / n / side as f32;
    Some([hue(object), hue(background), n.sqrt() / side as f32, cx, cy])
}

/// The hue of an RGB colour, in [0, 1).
fn hue([r, g, b]: [f32; 3]) -> f32 {
    let max = r.max(g).max(b);
    let d = max - r.min(g).min(b);
    if d <= 1e-6 {
        return 0.0;
    }
    let h = if max == r {
        ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        (b - r) / d + 2.0
    } else {
        (r - g) / d + 4.0
    };
    h / 6.0
}

/// How far apart two hues are around the circle, 0 to 0.5.
fn hue_distance(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(1.0);
    d.min(1.0 - d)
}

/// The factor table of `dirs` for `g` (a colour model of the shapes set): `n` base latents
/// drawn from `seed` (for W directions, their w), `cond` the fixed condition rows of a
/// conditional model (one per base), and `classify` the meter's class predictions for
/// pictures (`None`: no shape column).
#[allow(clippy::too_many_arguments)]
pub fn table(
    g: &Generator,
    model: &ModelConfig,
    space: DirSpace,
    dirs: &[Direction],
    cond: Option<&[f32]>,
    classify: Option<Classify<'_>>,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<FactorRow>, ReadbackError> {
    let side = model.image_size;
    let n = n.max(1);
    let z = noise::gaussian(seed, n * model.latent_dim);
    // The base latents in the directions' space, and how a batch of them becomes pictures.
    let (base, dim) = match (space, g) {
        (DirSpace::W, Generator::Style(sg)) => {
            let zt = Tensor::<2>::from_data(TensorData::new(z, [n, model.latent_dim]), device);
            let label = cond.map(|c| {
                Tensor::<2>::from_data(TensorData::new(c.to_vec(), [n, c.len() / n]), device)
            });
            (crate::model::readback(sg.to_w(zt, label))?, sg.w_dim())
        }
        _ => (z, model.latent_dim),
    };
    let render = |rows: Vec<f32>| -> Result<Vec<f32>, ReadbackError> {
        match (space, g) {
            (DirSpace::W, Generator::Style(sg)) => {
                let m = rows.len() / dim;
                let w = Tensor::<2>::from_data(TensorData::new(rows, [m, dim]), device); // [m, w_dim]
                let ws = vec![w; sg.num_levels()];
                crate::model::readback(sg.synthesize(&ws, &NoiseMode::seeded(0)))
            }
            _ => {
                let cond2 = cond.map(|c| [c, c].concat());
                generate_with(g, model, device, &rows, cond2.as_deref())
            }
        }
    };
    let len = model.image_len();
    let mut rows = Vec::with_capacity(dirs.len());
    for d in dirs {
        // Rows 0..n at -REACH sigma, n..2n at +REACH sigma.
        let mut moved = Vec::with_capacity(2 * n * dim);
        for sign in [-REACH, REACH] {
            for row in base.chunks_exact(dim) {
                moved.extend(
                    row.iter()
                        .zip(&d.vector)
                        .map(|(a, v)| a + sign * d.sigma * v),
                );
            }
        }
        let images = render(moved)?;
        let (lo, hi) = images.split_at(n * len);
        let mut sums = [0.0f32; 5];
        let mut counted = 0usize;
        for (a, b) in lo.chunks_exact(len).zip(hi.chunks_exact(len)) {
            let (Some(fa), Some(fb)) = (read(a, side), read(b, side)) else {
                continue;
            };
            counted += 1;
            sums[0] += hue_distance(fa[0], fb[0]);
            sums[1] += hue_distance(fa[1], fb[1]);
            for k in 2..5 {
                sums[k] += (fa[k] - fb[k]).abs();
            }
        }
        let shape = match classify {
            Some(f) => {
                let (ca, cb) = (f(lo)?, f(hi)?);
                let flips = ca.iter().zip(&cb).filter(|(a, b)| a != b).count();
                Some(flips as f32 / ca.len().max(1) as f32)
            }
            None => None,
        };
        let mut effects = [shape, None, None, None, None, None];
        for k in 0..5 {
            effects[k + 1] = (counted > 0).then(|| sums[k] / counted as f32 / RANGES[k + 1]);
        }
        rows.push(FactorRow {
            direction: d.name.clone(),
            effects,
        });
    }
    Ok(rows)
}

/// The factor table of `dirs` (moving `space`) for a colour model `g` of the shapes set:
/// [`SAMPLES`] base latents from `seed`, `cond` one condition row held for all of them
/// (conditional models), the shape class read by the set's quality meter (its column is left
/// out when no meter can be had).
#[allow(clippy::too_many_arguments)]
pub fn shapes_table(
    g: &Generator,
    model: &ModelConfig,
    space: DirSpace,
    dirs: &[Direction],
    cond: Option<&[f32]>,
    seed: u64,
    device: &Device,
) -> Result<Vec<FactorRow>, FactorError> {
    let real = crate::data::DataSource::Shapes.load_shaped(model.image_size, model.channels)?;
    let meter = crate::train::meter::meter_for(None, &real, device, |_, _| {})
        .map(|(m, _)| m)
        .ok();
    let cond = cond.map(|c| c.repeat(SAMPLES));
    let rows = match &meter {
        Some(meter) => {
            let classify = |px: &[f32]| {
                crate::quality::classify(&meter.classifier, px, device).map(|(_, p)| p)
            };
            table(
                g,
                model,
                space,
                dirs,
                cond.as_deref(),
                Some(&classify),
                SAMPLES,
                seed,
                device,
            )?
        }
        None => table(
            g,
            model,
            space,
            dirs,
            cond.as_deref(),
            None,
            SAMPLES,
            seed,
            device,
        )?,
    };
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::shapes;

    #[test]
    fn the_share_of_the_most_moved_factor_measures_cleanliness() {
        let row = |effects| FactorRow {
            direction: "d".into(),
            effects,
        };
        let clean = row([None, Some(0.8), Some(0.0), Some(0.0), Some(0.0), Some(0.0)]);
        let mixed = row([None, Some(0.5), Some(0.5), Some(0.5), Some(0.5), Some(0.5)]);
        assert_eq!(clean.share_of_most(), Some(1.0));
        assert_eq!(mixed.share_of_most(), Some(0.2));
        let still = row([None, Some(0.0), None, None, None, None]);
        assert_eq!(still.share_of_most(), None);
        let mean = mean_share_of_most(&[clean, mixed, still]).unwrap_or(0.0);
        assert!((mean - 0.6).abs() < 1e-6);
    }

    /// The factors read from drawn shapes are the ones they were drawn with.
    #[test]
    fn factors_read_back_from_drawn_shapes() {
        let side = 64;
        for i in 0..20 {
            let f = shapes::factors(3, i);
            let bytes = shapes::draw(&f, side);
            let planar = crate::data::planar_from_interleaved(&bytes, 3);
            let img: Vec<f32> = planar.iter().map(|&p| p as f32 / 127.5 - 1.0).collect();
            let r = read(&img, side).expect("a shape stands out");
            assert!(
                hue_distance(r[0], f.object_hue) < 0.02,
                "{i}: object hue {r:?} {f:?}"
            );
            assert!(
                hue_distance(r[1], f.background_hue) < 0.02,
                "{i}: background hue"
            );
            assert!((r[3] - f.x).abs() < 0.03, "{i}: x {} against {}", r[3], f.x);
            assert!((r[4] - f.y).abs() < 0.03, "{i}: y {} against {}", r[4], f.y);
            assert!(r[2] > 0.5 * f.scale && r[2] < 2.0 * f.scale, "{i}: size");
        }
    }

    #[test]
    fn the_most_moved_factor_wins() {
        let row = FactorRow {
            direction: "pc1".into(),
            effects: [None, Some(0.1), Some(0.7), Some(0.2), None, Some(0.0)],
        };
        assert_eq!(row.most(), Some(("background hue", 0.7)));
    }
}
