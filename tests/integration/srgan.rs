//! Super-resolution (SRGAN): the net learns to restore shrunk images, resumes exactly, is
//! scored against bicubic, and `upscale` enlarges pictures of any shape.

use crate::cli::{fails_with, fails_with_args, latentlab, on_pictures, stderr};
use crate::{init, tempdir};
use burn::prelude::*;
use latentlab::model::{ModelConfig, ModelKind};
use latentlab::train::objective::Loss;
use latentlab::train::{TrainConfig, Trainer};
use std::sync::Arc;

/// A tiny 2x net for 16-px colour shapes.
fn config() -> TrainConfig {
    init();
    let mut c = TrainConfig::new(ModelKind::Srgan, Loss::Nonsat, 0);
    c.model = c.model.with_shape(16, 3);
    c.model.width = 8;
    c.model.blocks = 1;
    c.batch = 8;
    c.sample_every = 0;
    c
}

fn shapes() -> Arc<latentlab::data::Dataset> {
    Arc::new(latentlab::data::shapes::dataset(200, 16, 3))
}

fn trainer() -> Trainer {
    Trainer::new(config(), shapes(), "shapes".into(), &Device::flex()).expect("trainer")
}

#[test]
fn the_input_is_the_low_resolution_image_and_bad_factors_are_named() {
    let c = config();
    assert_eq!(c.model.latent_dim, 3 * 8 * 8, "16 px shrunk 2x, 3 planes");
    let mut bad = c.model.clone();
    bad.scale = 3;
    let e = bad.validate().expect_err("3x").to_string();
    assert!(e.contains("2 or 4"), "{e}");
    let mut dcgan = ModelConfig::new(ModelKind::Dcgan, 0);
    dcgan.scale = 2;
    let e = dcgan
        .validate()
        .expect_err("a dcgan with a scale")
        .to_string();
    assert!(e.contains("only srgan"), "{e}");
    let mut wgan = config();
    wgan.loss = Loss::WganGp;
    let e = Trainer::new(wgan, shapes(), "s".into(), &Device::flex())
        .err()
        .expect("wgan-gp refused")
        .to_string();
    assert!(e.contains("not available for srgan"), "{e}");
}

#[test]
fn training_restores_shrunk_images_better() {
    let mut t = trainer();
    let psnr: Vec<f32> = (0..60)
        .map(|_| t.step().expect("step").psnr.expect("a psnr"))
        .collect();
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    let (first, last) = (mean(&psnr[..5]), mean(&psnr[55..]));
    assert!(
        last > first + 3.0,
        "PSNR on the batch went from {first:.2} dB to {last:.2} dB"
    );
    // The grid shows bicubic | G | original for the held-out inputs, two triplets a row.
    let grid = t.sample_grid().expect("grid");
    let cell = 16 + latentlab::types::grid::GAP;
    assert!(grid.is_colour());
    assert_eq!((grid.width + latentlab::types::grid::GAP) / cell, 6);
    let score = latentlab::quality::upscale::score_upscaler(
        &t.generator(),
        &t.config.model,
        &shapes(),
        16,
        None,
        &Device::flex(),
    )
    .expect("score");
    assert_eq!((score.n, score.scale), (16, 2));
    for f in [score.model, score.bicubic] {
        assert!(f.psnr.is_finite() && f.psnr > 10.0, "{f:?}");
        assert!(f.ssim > 0.0 && f.ssim <= 1.0, "{f:?}");
    }
}

#[test]
fn a_resumed_run_continues_exactly() {
    let mut unbroken = trainer();
    let mut first = trainer();
    for _ in 0..3 {
        unbroken.step().expect("step");
        first.step().expect("step");
    }
    let dir = tempdir();
    first.save(dir.path()).expect("save");
    let mut resumed =
        Trainer::resume(dir.path(), shapes(), "shapes".into(), &Device::flex()).expect("resume");
    for _ in 0..2 {
        let (a, b) = (
            unbroken.step().expect("step"),
            resumed.step().expect("step"),
        );
        assert_eq!(
            (
                a.loss_d.to_bits(),
                a.loss_g.to_bits(),
                a.psnr.map(f32::to_bits)
            ),
            (
                b.loss_d.to_bits(),
                b.loss_g.to_bits(),
                b.psnr.map(f32::to_bits)
            ),
        );
    }
}

/// A 2-step 16-px 2x run on the shapes, saved to `out`.
fn train_cli(out: &std::path::Path) {
    let o = latentlab(&[
        "train",
        "--model",
        "srgan",
        "--data",
        "shapes",
        "--size",
        "16",
        "--width",
        "4",
        "--blocks",
        "1",
        "--batch",
        "4",
        "--steps",
        "2",
        "--device",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn upscale_enlarges_pictures_of_any_shape_and_refuses_what_it_cannot() {
    let dir = tempdir();
    let run = dir.path().join("run");
    train_cli(&run);
    let run_s = run.to_str().unwrap();
    // A 10x6 colour picture becomes 20x12, with where it came from in its metadata.
    let input = dir.path().join("wide.png");
    image::RgbImage::from_fn(10, 6, |x, y| {
        image::Rgb([(x * 25) as u8, (y * 40) as u8, 90])
    })
    .save(&input)
    .unwrap();
    let out = dir.path().join("big");
    let args = crate::cli::on_pictures("upscale", &run, &["--bicubic"], &[&input], &out);
    let o = latentlab(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let made = image::open(out.join("wide.png")).expect("the upscale");
    assert_eq!((made.width(), made.height()), (20, 12));
    let bicubic = image::open(out.join("wide-bicubic.png")).expect("the bicubic one");
    assert_eq!((bicubic.width(), bicubic.height()), (20, 12));
    let text = std::fs::read(out.join("wide.png")).unwrap();
    assert!(text.windows(15).any(|w| w == b"latentlab-input"));
    // Written files are kept unless --force.
    fails_with_args(
        &on_pictures("upscale", &run, &[], &[&input], &out),
        "already exists",
    );
    // A picture too large for it, and two inputs that would be written to one name.
    let huge = dir.path().join("huge.png");
    image::RgbImage::new(300, 20).save(&huge).unwrap();
    fails_with_args(
        &on_pictures("upscale", &run, &[], &[&huge], &out),
        "4 to 256 pixels a side",
    );
    let other = dir.path().join("sub");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(&input, other.join("wide.png")).unwrap();
    fails_with_args(
        &on_pictures(
            "upscale",
            &run,
            &["--force"],
            &[&input, &other.join("wide.png")],
            &out,
        ),
        "would both be written as wide.png",
    );
    // Commands that draw from a latent space name what to use instead.
    let png = dir.path().join("s.png");
    fails_with(
        &[
            "sample",
            "--checkpoint",
            run_s,
            "--out",
            png.to_str().unwrap(),
        ],
        "latentlab upscale",
    );
    // And a latent model is not an upscaler.
    let gan = dir.path().join("gan");
    crate::cli::train_tiny_model(&gan, "dcgan");
    fails_with_args(
        &on_pictures("upscale", &gan, &[], &[&input], &out),
        "takes a super-resolution run",
    );
}

/// `--feature-weight` adds the meter's feature distance to G's loss (the shipped shapes
/// classifier at 32 px): the first step's content loss is the same, G's loss is larger.
#[test]
fn a_feature_loss_adds_the_meters_feature_distance() {
    let data = Arc::new(latentlab::data::shapes::dataset(100, 32, 3));
    let step = |weight: f64| {
        let mut c = config();
        c.model = c.model.with_shape(32, 3);
        c.sr.as_mut().expect("srgan").feature_weight = weight;
        let mut t = Trainer::new(c, data.clone(), "shapes".into(), &Device::flex()).expect("t");
        t.step().expect("step")
    };
    let (plain, with) = (step(0.0), step(1.0));
    assert_eq!(plain.content_loss, with.content_loss);
    assert!(
        with.loss_g > plain.loss_g + 1e-4,
        "{} against {}",
        with.loss_g,
        plain.loss_g
    );
}
