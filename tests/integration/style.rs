//! The style-based generator: truncation toward w_avg, style mixing by level, training.

use crate::tiny;
use burn::prelude::*;
use latentlab::model::style::NoiseMode;
use latentlab::model::{Generator, ModelKind, StyleGenerator};
use latentlab::train::Trainer;
use latentlab::train::objective::Loss;
use std::sync::Arc;

const LATENT: usize = 16;

/// A style generator trained `steps` steps on a few 32-px colour shapes.
fn trained(steps: usize) -> StyleGenerator {
    let device = Device::flex();
    let data = Arc::new(latentlab::data::shapes::dataset(32, 32, 3));
    let mut config = tiny(ModelKind::Stylegan, Loss::Nonsat, 4);
    config.batch = 8;
    config.model.width = 8;
    config.model.latent_dim = LATENT;
    config.model = config.model.with_shape(32, 3);
    let mut t = Trainer::new(config, data, "shapes".into(), &device).expect("trainer");
    for _ in 0..steps {
        t.step().expect("step");
    }
    match t.generator() {
        Generator::Style(g) => g,
        other => panic!("a style generator, got {other:?}"),
    }
}

fn z(seed: u64, n: usize) -> Tensor<2> {
    let values = latentlab::types::noise::gaussian(seed, n * LATENT);
    Tensor::from_data(TensorData::new(values, [n, LATENT]), &Device::flex())
}

fn fixed() -> NoiseMode {
    NoiseMode::seeded(1)
}

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32 image")
}

/// At psi = 0 every z gives the image of w_avg; at psi = 1 they differ.
#[test]
fn truncation_at_zero_gives_the_average_image_for_every_z() {
    let g = trained(3);
    let avg = g.w_avg();
    assert!(
        avg.clone().abs().sum().into_scalar::<f32>() > 0.0,
        "w_avg follows the batches"
    );
    let levels = g.num_levels();
    let image = |seed: u64, psi: f64| {
        let w = g.truncate(g.to_w(z(seed, 1), None), psi);
        values(g.synthesize(&vec![w; levels], &fixed()))
    };
    let reference = values(g.synthesize(&vec![avg.unsqueeze::<2>(); levels], &fixed()));
    for seed in [2, 3, 4] {
        let got = image(seed, 0.0);
        let worst = got
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-5, "seed {seed}: {worst} from the w_avg image");
    }
    let (a, b) = (image(2, 1.0), image(3, 1.0));
    assert!(a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-3));
}

/// Mean absolute difference of two images after 8x8 box averaging: what changes in the
/// layout and colour of large regions, not in detail.
fn coarse_difference(a: &[f32], b: &[f32], side: usize) -> f32 {
    let cells = side / 8;
    let mut total = 0.0;
    for c in 0..3 {
        for by in 0..cells {
            for bx in 0..cells {
                let mut d = 0.0;
                for y in 0..8 {
                    for x in 0..8 {
                        let i = (c * side + by * 8 + y) * side + bx * 8 + x;
                        d += a[i] - b[i];
                    }
                }
                total += (d / 64.0).abs();
            }
        }
    }
    total / (3 * cells * cells) as f32
}

/// Taking the coarse levels' styles from B moves A's large-scale layout far more than taking
/// the finest level's style from B does: the coarse styles set what every later level builds
/// on, the finest only modulates the last convolutions and the last to-image layer.
#[test]
fn coarse_styles_move_the_layout_and_fine_styles_only_detail() {
    let g = trained(4);
    let levels = g.num_levels();
    assert_eq!(g.level_sides(), vec![4, 8, 16, 32]);
    let (wa, wb) = (g.to_w(z(10, 1), None), g.to_w(z(11, 1), None));
    let mix = |from_b: &dyn Fn(usize) -> bool| {
        let ws: Vec<_> = (0..levels)
            .map(|l| if from_b(l) { wb.clone() } else { wa.clone() })
            .collect();
        values(g.synthesize(&ws, &fixed()))
    };
    let a = mix(&|_| false);
    let coarse_b = mix(&|l| l < 2);
    let fine_b = mix(&|l| l + 1 == levels);
    let coarse = coarse_difference(&a, &coarse_b, 32);
    let fine = coarse_difference(&a, &fine_b, 32);
    assert!(
        coarse > 2.0 * fine,
        "coarse from B moved the layout by {coarse}, fine from B by {fine}"
    );
}

/// `sample` on a style generator: at --truncation 0 every image of the grid is the same, the
/// mixing flags write a different grid, and each flag's misuse is a clear error.
#[test]
fn sample_truncates_and_mixes_from_the_command_line() {
    use crate::cli::{fails_with, latentlab, stderr, train_tiny_model};
    let dir = crate::tempdir();
    let run = dir.path().join("style");
    train_tiny_model(&run, "stylegan");
    let run = run.to_str().expect("utf-8 path");
    let out = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let sample = |extra: &[&str], file: &str| {
        let mut args = vec!["sample", "--checkpoint", run, "--n", "4", "--cols", "4"];
        args.extend_from_slice(extra);
        let path = out(file);
        args.extend_from_slice(&["--out", &path]);
        let o = latentlab(&args);
        assert!(o.status.success(), "{args:?}:\n{}", stderr(&o));
        image::open(&path).expect("a PNG").to_rgb8()
    };
    let average = sample(&["--truncation", "0"], "t0.png");
    // 28-px digits, 4 columns with 2-pixel gaps: the same tile four times.
    let tile = |img: &image::RgbImage, i: u32| {
        image::imageops::crop_imm(img, i * 30, 0, 28, 28)
            .to_image()
            .into_raw()
    };
    for i in 1..4 {
        assert_eq!(tile(&average, 0), tile(&average, i), "image {i} at psi 0");
    }
    let plain = sample(&[], "plain.png");
    let mixed = sample(&["--mix-from", "9", "--mix-layers", "0..1"], "mixed.png");
    assert_ne!(
        plain.into_raw(),
        mixed.into_raw(),
        "mixing changes the images"
    );
    let path = out("x.png");
    fails_with(
        &[
            "sample",
            "--checkpoint",
            run,
            "--mix-layers",
            "0..1",
            "--out",
            &path,
        ],
        "--mix-layers needs --mix-from",
    );
    fails_with(
        &[
            "sample",
            "--checkpoint",
            run,
            "--truncation",
            "3",
            "--out",
            &path,
        ],
        "from -1 to 2",
    );
    fails_with(
        &[
            "sample",
            "--checkpoint",
            run,
            "--cutoff",
            "9",
            "--out",
            &path,
        ],
        "levels",
    );
}

/// A briefly trained style generator, its config, and the picture it draws from a fixed z.
fn generated_target() -> (Generator, latentlab::model::ModelConfig, Vec<f32>) {
    let g = Generator::Style(trained(2));
    let mut model = tiny(ModelKind::Stylegan, Loss::Nonsat, 4).model;
    model.width = 8;
    model.latent_dim = LATENT;
    model = model.with_shape(32, 3);
    let z0 = latentlab::types::noise::gaussian(42, LATENT);
    let target =
        latentlab::model::generate_with(&g, &model, &Device::flex(), &z0, None).expect("target");
    (g, model, target)
}

/// Encoding a picture searches a fixed function: the generator frozen on the autodiff device
/// draws no random noise or mixing, so two searches from the same seed find the same z, and
/// the search improves on its start.
#[test]
fn encoding_into_a_style_generator_is_deterministic() {
    use latentlab::explore::invert::{InvertOptions, invert};
    let (g, model, target) = generated_target();
    let opts = InvertOptions {
        steps: 6,
        restarts: 2,
        seed: 1,
    };
    let mut first_mse = None;
    let a = invert(&g, &model, &target, None, &opts, |_, mse| {
        first_mse.get_or_insert(mse);
        true
    })
    .expect("invert");
    let b = invert(&g, &model, &target, None, &opts, |_, _| true).expect("invert again");
    assert_eq!(a.z, b.z, "the same search finds the same z");
    assert!(a.pixel_mse <= first_mse.unwrap_or(f32::INFINITY) + 1e-6);
}

/// Projection into W and W+: a generated picture is fitted better than at the start, W+ keeps
/// one w per level, and a model without a W space refuses by name.
#[test]
fn pictures_project_into_w_and_w_plus() {
    use latentlab::explore::invert::InvertOptions;
    use latentlab::explore::project::{Space, project};
    let (g, model, target) = generated_target();
    let opts = InvertOptions {
        steps: 20,
        restarts: 2,
        seed: 3,
    };
    for space in [Space::W, Space::WPlus] {
        let mut first = None;
        let p = project(&g, &model, &target, None, space, &opts, |_, mse| {
            first.get_or_insert(mse);
            true
        })
        .expect("project");
        let start = first.unwrap_or(0.0);
        assert!(
            p.pixel_mse < start,
            "{space:?}: {} from {start}",
            p.pixel_mse
        );
        let rows = if space == Space::WPlus { 4 } else { 1 };
        assert_eq!(p.levels, 4);
        assert_eq!(
            p.ws.len(),
            rows * latentlab::model::style::w_dim(&model),
            "{space:?}"
        );
    }
    let dcgan = tiny(ModelKind::Dcgan, Loss::Nonsat, 4)
        .model
        .with_shape(32, 3);
    let g = dcgan.init_generator(&Device::flex());
    let err = project(&g, &dcgan, &target, None, Space::W, &opts, |_, _| true)
        .expect_err("a DCGAN has no W");
    assert!(err.to_string().contains("only a style generator"), "{err}");
}

/// `directions --space w`: principal directions of W in a file marked `w`, which `sample
/// --edit` applies to w (the images move); a model without W refuses the flag, and a W file is
/// refused by it.
#[test]
fn directions_in_w_are_found_and_move_the_samples() {
    use crate::cli::{fails_with, latentlab, stderr, train_tiny_model};
    let dir = crate::tempdir();
    let run = dir.path().join("style");
    train_tiny_model(&run, "stylegan");
    let run = run.to_str().expect("utf-8 path");
    let out = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let dirs = out("w.json");
    let o = latentlab(&[
        "directions",
        "--checkpoint",
        run,
        "--space",
        "w",
        "--n",
        "200",
        "--k",
        "3",
        "--out",
        &dirs,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&dirs).expect("directions file");
    let file: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(file["space"], "w");
    // w is 64 numbers for a narrow generator (z has 8).
    assert_eq!(
        file["directions"][0]["vector"].as_array().map(Vec::len),
        Some(64)
    );
    let sample = |extra: &[&str], file: &str| {
        let path = out(file);
        let mut args = vec!["sample", "--checkpoint", run, "--n", "4", "--out", &path];
        args.extend_from_slice(extra);
        let o = latentlab(&args);
        assert!(o.status.success(), "{args:?}:\n{}", stderr(&o));
        image::open(&path).expect("a PNG").to_rgb8().into_raw()
    };
    let edit = format!("{dirs}:0=3");
    assert_ne!(
        sample(&[], "plain.png"),
        sample(&["--edit", &edit], "moved.png"),
        "moving w along PC0 changes the images"
    );
    let dcgan = dir.path().join("dcgan");
    train_tiny_model(&dcgan, "dcgan");
    let dcgan = dcgan.to_str().expect("utf-8 path");
    fails_with(
        &[
            "directions",
            "--checkpoint",
            dcgan,
            "--space",
            "w",
            "--out",
            &out("x.json"),
        ],
        "has no W",
    );
    fails_with(
        &[
            "sample",
            "--checkpoint",
            dcgan,
            "--edit",
            &edit,
            "--out",
            &out("y.png"),
        ],
        "directions in W",
    );
}

/// The explorer's image and the mixing figure's cells come from one render path: the figure's
/// "A" and "B" cells are the images of A alone and of B alone, and its mixes differ from both.
#[test]
fn the_mixing_figure_cells_are_the_sources_and_their_mixes() {
    use latentlab::explore::style::{Source, StyleSpec, figure_layouts, render};
    let g = trained(2);
    let mut model = tiny(ModelKind::Stylegan, Loss::Nonsat, 4).model;
    model.width = 8;
    model.latent_dim = LATENT;
    model = model.with_shape(32, 3);
    let source = |seed| Source {
        z: latentlab::types::noise::gaussian(seed, LATENT),
        label: None,
        ws: None,
    };
    let spec = |layouts: Vec<Vec<bool>>| StyleSpec {
        a: source(1),
        w_offset: Vec::new(),
        b: Some(source(2)),
        layouts,
        psi: 0.8,
        cutoff: Some(2),
        noise_seeds: vec![5, 6],
        noise_scales: vec![1.0, 0.5],
    };
    let device = Device::flex();
    let levels = g.num_levels();
    let layouts: Vec<Vec<bool>> = figure_layouts(levels).into_iter().map(|(_, l)| l).collect();
    let (figure, _) = render(&g, &model, &spec(layouts), &device).expect("figure");
    let len = model.image_len();
    let cell = |i: usize| &figure[i * len..(i + 1) * len];
    let (alone_a, _) = render(&g, &model, &spec(vec![vec![false; levels]]), &device).expect("A");
    let (alone_b, _) = render(&g, &model, &spec(vec![vec![true; levels]]), &device).expect("B");
    let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-5);
    assert!(close(cell(0), &alone_a), "the A cell is A's image");
    assert!(close(cell(1), &alone_b), "the B cell is B's image");
    for i in 2..5 {
        assert!(
            !close(cell(i), &alone_a) && !close(cell(i), &alone_b),
            "cell {i} mixes"
        );
    }
}
