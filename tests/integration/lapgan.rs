//! LAPGAN: the Laplacian pyramid trains, samples coarse to fine and resumes exactly.

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
