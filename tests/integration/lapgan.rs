//! LAPGAN: the Laplacian pyramid trains, samples coarse to fine, resumes exactly, and each
//! level learns its detail.

use crate::{init, tempdir};
use burn::prelude::*;
use latentlab::model::ModelKind;
use latentlab::train::objective::Loss;
use latentlab::train::{TrainConfig, Trainer};
use std::sync::Arc;

fn shapes() -> Arc<latentlab::data::Dataset> {
    Arc::new(latentlab::data::shapes::dataset(200, 16, 3))
}

/// LAPGAN: a 2-level pyramid on 16-px shapes trains, samples coarse to fine, resumes exactly.
#[test]
fn a_laplacian_pyramid_trains_samples_and_resumes() {
    init();
    let mut c = TrainConfig::new(ModelKind::Lapgan, Loss::Nonsat, 0);
    c.model.levels = 2;
    c.model = c.model.with_shape(16, 3);
    c.model.width = 4;
    c.batch = 8;
    c.sample_count = 4;
    assert_eq!(
        c.model.latent_dim,
        100 + 16 * 16,
        "the coarse noise, then a 16x16 plane"
    );
    let mut bad = c.model.clone();
    bad.levels = 4;
    assert!(
        bad.validate()
            .expect_err("4 levels")
            .to_string()
            .contains("2 or 3 levels")
    );
    let new = || Trainer::new(c.clone(), shapes(), "shapes".into(), &Device::flex()).expect("t");
    let (mut unbroken, mut first) = (new(), new());
    for _ in 0..3 {
        let m = unbroken.step().expect("step");
        first.step().expect("step");
        assert!(m.loss_d.is_finite() && m.loss_g.is_finite());
    }
    let dir = tempdir();
    first.save(dir.path()).expect("save");
    let mut resumed =
        Trainer::resume(dir.path(), shapes(), "shapes".into(), &Device::flex()).expect("resume");
    let (a, b) = (
        unbroken.step().expect("step"),
        resumed.step().expect("step"),
    );
    assert_eq!(
        (a.loss_d.to_bits(), a.loss_g.to_bits()),
        (b.loss_d.to_bits(), b.loss_g.to_bits())
    );
    // Sampling builds every level: 8 px, then 16.
    let latentlab::model::Generator::Lap(g) = unbroken.generator() else {
        panic!("a pyramid generator")
    };
    let z = Tensor::<2>::from_data(
        TensorData::new(latentlab::types::noise::gaussian(1, 2 * 356), [2, 356]),
        &Device::flex(),
    );
    let sides: Vec<usize> = g.pyramid(z).iter().map(|t| t.dims()[2]).collect();
    assert_eq!(sides, vec![8, 16]);
    let images = unbroken
        .generate(&latentlab::types::noise::gaussian(2, 356), None)
        .expect("g");
    assert_eq!(images.len(), 3 * 16 * 16);
    assert!(images.iter().all(|v| (-1.0..=1.0).contains(v)));
    // A level's noise strength changes that level's detail and nothing coarser.
    let model = &unbroken.config.model;
    let view = |strength: f32| {
        latentlab::explore::translate::pyramid(
            &unbroken.generator(),
            model,
            5,
            &[strength],
            &Device::flex(),
        )
        .expect("pyramid")
    };
    let (plain, noisy) = (view(0.0), view(2.0));
    assert_eq!(plain.levels[0], noisy.levels[0]);
    assert_ne!(plain.levels[1], noisy.levels[1]);
}

/// Each level learns its detail: on the four fixed patterns (whose coarse image decides the
/// finer one), the up-sampled real coarser image plus the level's residual is nearer the real
/// finer image than the up-sampled image alone, at every level.
#[test]
fn each_level_of_a_trained_pyramid_reduces_the_residual() {
    use latentlab::model::lapgan::{down2, up2};
    init();
    let mut c = crate::tiny(ModelKind::Lapgan, Loss::Nonsat, 0);
    c.model.levels = 3;
    c.model = c.model.with_shape(28, 1);
    c.model.latent_dim = 100 + c.model.pyramid_noise();
    c.model.width = 8;
    (c.lr_g, c.lr_d, c.batch) = (1e-3, 1e-3, 16);
    let data = Arc::new(crate::patterns(8));
    let mut t = Trainer::new(c, data.clone(), "patterns".into(), &Device::flex()).expect("t");
    for _ in 0..300 {
        t.step().expect("step");
    }
    let latentlab::model::Generator::Lap(g) = t.live_generator() else {
        panic!("a pyramid generator")
    };
    let device = Device::flex();
    let pixels = data.pixels(&[0, 1, 2, 3]);
    let fine = Tensor::<4>::from_data(TensorData::new(pixels, [4, 1, 28, 28]), &device);
    let mut reals = vec![fine];
    for _ in 0..2 {
        let finer = reals.last().cloned().expect("a level");
        reals.push(down2(finer));
    }
    reals.reverse(); // 7, 14, 28 px
    let mse = |a: Tensor<4>, b: Tensor<4>| -> f32 { (a - b).square().mean().into_scalar() };
    for (k, level) in g.levels.iter().enumerate() {
        let up = up2(reals[k].clone());
        let side = up.dims()[2];
        let noise = Tensor::<4>::zeros([4, 1, side, side], &device);
        let alone = mse(up.clone(), reals[k + 1].clone());
        let with = mse(up.clone() + level.forward(up, noise), reals[k + 1].clone());
        assert!(
            with < 0.8 * alone,
            "level {side} px: error {with} with its residual against {alone} without"
        );
    }
}
