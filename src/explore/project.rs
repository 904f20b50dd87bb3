//! Projecting a picture into a style generator's W (one w for every level) or W+ (one w per
//! level): Adam on w from several starts run as one batch (each the w of a random z), pixel
//! MSE against the picture with the noise fixed, keeping the best start. G is frozen.

use super::invert::{
    InvertError, InvertOptions, Search, best_restart, check_search, compute, per_image_mse,
};
use crate::checkpoint;
use crate::model::style::NoiseMode;
use crate::model::{Generator, ModelConfig, readback};
use crate::types::noise;
use burn::prelude::*;
use burn::tensor::Bytes;

/// Which latent a picture is projected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Space {
    /// The noise z (every generator).
    Z,
    /// One w for every level.
    W,
    /// One w per level (W+): more freedom, a closer fit, further from what G learned.
    #[value(name = "w+")]
    WPlus,
}

/// The w rows found and how well they reproduce the picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// `[w_dim]` for W, `[levels * w_dim]` (coarsest level first) for W+.
    pub ws: Vec<f32>,
    pub levels: usize,
    pub reconstruction: Vec<f32>,
    /// Mean squared error per pixel on [0, 1] intensities.
    pub pixel_mse: f32,
    pub steps: usize,
    pub restarts: usize,
}

/// The noise a projection holds fixed (the same as plain sampling's).
fn fixed_noise() -> NoiseMode {
    NoiseMode::seeded(0)
}

/// Project `target` (`[channels * side * side]` in [-1, 1]) into `space` (W or W+) of the style
/// generator `g`. `progress(step, best MSE so far)` returning false cancels.
pub fn project(
    g: &Generator,
    model: &ModelConfig,
    target: &[f32],
    cond: Option<&[f32]>,
    space: Space,
    opts: &InvertOptions,
    mut progress: impl FnMut(usize, f32) -> bool,
) -> Result<Projection, InvertError> {
    check_search(model, target, opts)?;
    let (side, channels, pixels) = (model.image_size, model.channels, model.image_len());
    let Generator::Style(plain_g) = g else {
        return Err(InvertError::Compute(format!(
            "only a style generator (stylegan) has a W space; {} takes --space z",
            model.kind.name()
        )));
    };
    let ad = Device::flex().autodiff();
    let bytes = checkpoint::module_bytes(g)?;
    let Generator::Style(g_ad) = checkpoint::load_module_bytes(
        Bytes::from_bytes_vec(bytes),
        std::path::Path::new("the explorer's generator"),
        model.init_generator(&ad),
    )?
    .freeze() else {
        return Err(compute("the generator changed family on loading"));
    };
    let r = opts.restarts;
    let levels = g_ad.num_levels();
    let per = match space {
        Space::WPlus => levels,
        _ => 1,
    };
    let label = |device: &Device| {
        cond.map(|c| {
            let rows: Vec<f32> = (0..r).flat_map(|_| c.iter().copied()).collect();
            Tensor::<2>::from_data(TensorData::new(rows, [r, c.len()]), device)
        })
    };
    // Starts: the w of r random z, repeated per level for W+.
    let z = noise::gaussian(opts.seed, r * model.latent_dim);
    let zt = Tensor::<2>::from_data(TensorData::new(z, [r, model.latent_dim]), &Device::flex());
    let w0 = readback(plain_g.to_w(zt, label(&Device::flex()))).map_err(compute)?; // [r * w_dim]
    let wd = w0.len() / r;
    let mut ws: Vec<f32> = w0
        .chunks(wd)
        .flat_map(|row| (0..per).flat_map(move |_| row.iter().copied()))
        .collect(); // [r, per, w_dim]
    let targets: Vec<f32> = (0..r).flat_map(|_| target.iter().copied()).collect();
    let x = Tensor::<4>::from_data(TensorData::new(targets, [r, channels, side, side]), &ad);
    let mut search = Search::new(ws.len(), opts.steps);
    for step in 1..=opts.steps {
        let wt =
            Tensor::<3>::from_data(TensorData::new(ws.clone(), [r, per, wd]), &ad).require_grad(); // [r, per, w_dim]
        let y = g_ad.synthesize(&level_rows(&wt, levels), &fixed_noise()); // [r, channels, side, side]
        let per_image = per_image_mse(y, x.clone()); // [r, 1, 1, 1]
        let grads = per_image.clone().sum().backward();
        search.step(&mut ws, &wt, &grads, per_image, step, &mut progress)?;
    }
    let device = Device::flex();
    let wt = Tensor::<3>::from_data(TensorData::new(ws.clone(), [r, per, wd]), &device);
    let images =
        readback(plain_g.synthesize(&level_rows(&wt, levels), &fixed_noise())).map_err(compute)?;
    let (i, err) = best_restart(&images, pixels, target)?;
    Ok(Projection {
        ws: ws[i * per * wd..(i + 1) * per * wd].to_vec(),
        levels,
        reconstruction: images[i * pixels..(i + 1) * pixels].to_vec(),
        pixel_mse: err,
        steps: opts.steps,
        restarts: r,
    })
}

/// One `[r, w_dim]` row block per level from `w` [r, per, w_dim] (`per` 1: the same w at every
/// level).
fn level_rows(w: &Tensor<3>, levels: usize) -> Vec<Tensor<2>> {
    let [r, per, wd] = w.dims();
    (0..levels)
        .map(|l| {
            let j = l.min(per - 1);
            w.clone().slice([0..r, j..j + 1, 0..wd]).reshape([r, wd])
        })
        .collect()
}
