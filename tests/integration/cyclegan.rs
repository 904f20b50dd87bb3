//! CycleGAN: a pair of sets trains both directions, its grid shows the round trips, `translate`
//! turns pictures either way, `score` gives the cycle errors, and a single set is refused.

use crate::cli::{fails_with, fails_with_args, latentlab, on_pictures, stderr};
use crate::{init, tempdir};
use burn::prelude::*;
use latentlab::data::DataSource;
use latentlab::model::ModelKind;
use latentlab::train::objective::Loss;
use latentlab::train::{TrainConfig, Trainer};
use std::sync::Arc;

/// Circles <-> squares at 16 px: 200 of each.
fn pair() -> Arc<latentlab::data::Dataset> {
    init();
    let circles = DataSource::ShapesOf("circle".into());
    let squares = DataSource::ShapesOf("square".into());
    let mut d = latentlab::data::pairs::load_pair(&circles, &squares, Some(16)).expect("pair");
    // Keep 200 of each domain (A first, then B).
    let (a, b) = latentlab::data::pairs::domains(&d);
    let keep: Vec<usize> = a
        .iter()
        .take(200)
        .chain(b.iter().take(200))
        .copied()
        .collect();
    let px = d.image_len();
    let images = keep.iter().flat_map(|&i| d.image(i).to_vec()).collect();
    d.labels = keep.iter().map(|&i| d.labels[i]).collect();
    d.images = images;
    assert_eq!(d.images.len(), 400 * px);
    Arc::new(d)
}

fn config() -> TrainConfig {
    let mut c = TrainConfig::new(ModelKind::Cyclegan, Loss::Nonsat, 0);
    c.model = c.model.with_shape(16, 3);
    c.model.width = 4;
    c.model.blocks = 1;
    c.batch = 4;
    c
}

#[test]
fn a_pair_trains_both_ways_and_a_single_set_is_refused() {
    let mut t = Trainer::new(config(), pair(), "pair".into(), &Device::flex()).expect("trainer");
    assert_eq!(
        t.config.loss,
        Loss::Lsgan,
        "CycleGAN plays the least-squares game"
    );
    let cycles: Vec<f32> = (0..25)
        .map(|_| t.step().expect("step").content_loss.expect("a cycle error"))
        .collect();
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    assert!(
        mean(&cycles[20..]) < mean(&cycles[..5]),
        "the cycle error falls: {cycles:?}"
    );
    // The grid: per row A, A->B, A->B->A, B, B->A, B->A->B.
    let grid = t.sample_grid().expect("grid");
    let cell = 16 + latentlab::types::grid::GAP;
    assert_eq!((grid.width + latentlab::types::grid::GAP) / cell, 6);
    let score = latentlab::quality::translation::score_cycle(
        &t.generator(),
        &t.config.model,
        &pair(),
        8,
        None,
        &Device::flex(),
    )
    .expect("score");
    assert!((score.n_a, score.n_b) == (8, 8) && score.cycle_a > 0.0 && score.cycle_a < 1.0);
    // One set is not a pair.
    let one = Arc::new(latentlab::data::shapes::dataset(100, 16, 3));
    let e = Trainer::new(config(), one, "shapes".into(), &Device::flex())
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("--data-b"), "{e}");
}

#[test]
fn translate_turns_pictures_either_way_and_refuses_odd_sides() {
    let dir = tempdir();
    let run = dir.path().join("run");
    let o = latentlab(&[
        "train",
        "--model",
        "cyclegan",
        "--data",
        "shapes:circle",
        "--data-b",
        "shapes:square",
        "--size",
        "16",
        "--width",
        "4",
        "--blocks",
        "1",
        "--batch",
        "2",
        "--steps",
        "2",
        "--device",
        "cpu",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let input = dir.path().join("wide.png");
    image::RgbImage::from_fn(20, 12, |x, _| image::Rgb([(x * 12) as u8, 80, 160]))
        .save(&input)
        .unwrap();
    let out = dir.path().join("out");
    for direction in ["a2b", "b2a"] {
        let args = crate::cli::on_pictures(
            "translate",
            &run,
            &["--direction", direction, "--force"],
            &[&input],
            &out,
        );
        let o = latentlab(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{}", stderr(&o));
        let made = image::open(out.join("wide.png")).expect("the translation");
        assert_eq!((made.width(), made.height()), (20, 12));
        let bytes = std::fs::read(out.join("wide.png")).unwrap();
        assert!(
            bytes
                .windows(direction.len())
                .any(|w| w == direction.as_bytes())
        );
    }
    let odd = dir.path().join("odd.png");
    image::RgbImage::new(10, 12).save(&odd).unwrap();
    fails_with_args(
        &on_pictures("translate", &run, &[], &[&odd], &out),
        "multiples of 4",
    );
    // Without a second set there is nothing to translate to.
    fails_with(
        &[
            "train",
            "--model",
            "cyclegan",
            "--data",
            "shapes:circle",
            "--size",
            "16",
            "--steps",
            "1",
            "--out",
            dir.path().join("single").to_str().unwrap(),
        ],
        "--data-b",
    );
}
