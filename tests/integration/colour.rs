//! Image shape as data: every family at 32x32x3 and 64x64x3, old 28-px runs, colour data.

use crate::{tempdir, tiny};
use burn::tensor::Device;
use latentlab::checkpoint;
use latentlab::data::Dataset;
use latentlab::model::{ModelError, ModelKind};
use latentlab::train::objective::Loss;
use latentlab::train::{TrainError, Trainer};
use std::sync::Arc;

/// `n` shapes (4 classes) drawn at `side`, in colour.
fn shapes(n: usize, side: usize) -> Dataset {
    latentlab::data::shapes::dataset(n, side, 7)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Each family trains a few steps at 32x32x3 and at 64x64x3, makes colour images of that
/// shape, and its saved generator (and discriminator) load back bit for bit.
#[test]
fn every_family_trains_saves_and_loads_in_colour_at_32_and_64() {
    let device = Device::flex();
    for side in [32, 64] {
        let data = Arc::new(shapes(16, side));
        assert_eq!((data.height, data.channels), (side, 3));
        for kind in [
            ModelKind::Mlp,
            ModelKind::Dcgan,
            ModelKind::Cdcgan,
            ModelKind::Acgan,
            ModelKind::Infogan,
            ModelKind::Vae,
            ModelKind::Stylegan,
        ] {
            let mut config = tiny(kind, Loss::Nonsat, 4);
            config.batch = 4;
            if kind == ModelKind::Mlp {
                config.model.width = 8;
            }
            config.model = config.model.with_shape(side, 3);
            let mut t = Trainer::new(config, data.clone(), "shapes".into(), &device)
                .unwrap_or_else(|e| panic!("{kind:?} at {side}: {e}"));
            for _ in 0..2 {
                t.step().expect("step");
            }
            let z = latentlab::types::noise::gaussian(5, 3 * t.config.model.latent_dim);
            let before = t.generate(&z, None).expect("generate");
            assert_eq!(before.len(), 3 * 3 * side * side, "{kind:?} at {side}");
            let dir = tempdir();
            t.save(dir.path()).expect("save");
            let (m, g) = checkpoint::load_generator(dir.path(), &device).expect("load");
            assert_eq!((m.model().image_size, m.model().channels), (side, 3));
            let after = latentlab::model::generate_with(&g, m.model(), &device, &z, None)
                .expect("generate after loading");
            assert_eq!(bits(&before), bits(&after), "{kind:?} at {side}");
            if kind.is_gan() {
                checkpoint::load_discriminator(dir.path(), &device)
                    .unwrap_or_else(|e| panic!("{kind:?} D at {side}: {e}"));
            }
            // The saved grid is a colour PNG of whole tiles.
            let png = image::open(dir.path().join("samples.png")).expect("samples.png");
            assert!(png.color().has_color(), "{kind:?} at {side}: grey samples");
        }
    }
}

/// The DCGAN's stages follow the side: pytorch/examples' DCGAN-64 (4x4x512 after z) at 64 px,
/// one stage fewer at 32, DCGAN-28 (7x7x128) at 28.
#[test]
fn dcgan_stages_follow_the_side() {
    use latentlab::model::ModelConfig;
    let at = |side| ModelConfig::new(ModelKind::Dcgan, 0).with_shape(side, 3);
    assert_eq!(at(64).conv_stages(), (4, 4));
    assert_eq!(at(64).top_channels(), 512);
    assert_eq!(at(32).conv_stages(), (4, 3));
    assert_eq!(at(32).top_channels(), 256);
    assert_eq!(at(28).conv_stages(), (7, 2));
    assert_eq!(at(28).top_channels(), 128);
    assert_eq!(at(16).conv_stages(), (4, 2));
    assert_eq!(at(128).conv_stages(), (4, 5));
    for side in [16, 28, 32, 48, 64, 96, 128] {
        at(side)
            .validate()
            .unwrap_or_else(|e| panic!("{side}: {e}"));
    }
    for (side, channels) in [(12, 3), (30, 3), (132, 3), (32, 2), (32, 4)] {
        let e = at(side).with_shape(side, channels).validate();
        assert!(
            matches!(e, Err(ModelError::ImageShape { .. })),
            "{side}x{channels}: {e:?}"
        );
    }
}

/// Boltzmann machines stay binary 28x28: colour or another side is a named error.
#[test]
fn boltzmann_machines_refuse_colour_by_name() {
    for kind in [ModelKind::Rbm, ModelKind::Dbn, ModelKind::Dbm] {
        for (side, channels) in [(32, 3), (28, 3), (32, 1)] {
            let mut c = latentlab::model::ModelConfig::new(kind, 0).with_shape(side, channels);
            c.num_classes = 0;
            let e = c.validate();
            assert!(
                matches!(e, Err(ModelError::BoltzmannShape { .. })),
                "{kind:?} {side}x{channels}: {e:?}"
            );
            let text = e.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains("--channels 1"), "{text}");
        }
    }
}

/// A trainer refuses data of other channels than its model, by name.
#[test]
fn channels_must_match_the_model() {
    let data = Arc::new(shapes(16, 32));
    let mut config = tiny(ModelKind::Dcgan, Loss::Nonsat, 4);
    config.model = config.model.with_shape(32, 1);
    let e = Trainer::new(config, data, "shapes".into(), &Device::flex()).err();
    assert!(
        matches!(e, Some(TrainError::Channels { data: 3, model: 1 })),
        "{e:?}"
    );
}

/// Runs from before shapes were data (no `image_size`/`channels` in the manifest) load as
/// 28x28 grey and generate exactly what they did.
#[test]
fn old_runs_without_a_shape_load_unchanged() {
    let device = Device::flex();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/mnist-dcgan");
    let dir = tempdir();
    let old = dir.path().join("old");
    std::fs::create_dir(&old).expect("dir");
    for entry in std::fs::read_dir(&shipped).expect("shipped run") {
        let p = entry.expect("entry").path();
        std::fs::copy(&p, old.join(p.file_name().expect("name"))).expect("copy");
    }
    let text = std::fs::read_to_string(old.join("manifest.json")).expect("manifest");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let model = &mut json["train"]["model"];
    model.as_object_mut().expect("model").remove("image_size");
    model.as_object_mut().expect("model").remove("channels");
    json["data"]
        .as_object_mut()
        .expect("data")
        .remove("channels");
    std::fs::write(
        old.join("manifest.json"),
        serde_json::to_vec(&json).expect("encode"),
    )
    .expect("write");
    let (m_old, g_old) = checkpoint::load_generator(&old, &device).expect("old run loads");
    let (m_new, g_new) = checkpoint::load_generator(&shipped, &device).expect("shipped");
    assert_eq!((m_old.model().image_size, m_old.model().channels), (28, 1));
    assert_eq!(m_old.model(), m_new.model());
    let z = latentlab::types::noise::gaussian(3, 4 * m_old.model().latent_dim);
    let a = latentlab::model::generate_with(&g_old, m_old.model(), &device, &z, None).expect("a");
    let b = latentlab::model::generate_with(&g_new, m_new.model(), &device, &z, None).expect("b");
    assert_eq!(a.len(), 4 * 784);
    assert_eq!(bits(&a), bits(&b));
}

/// `--channels` converts: grey data is copied into R, G and B; colour data is made grey by luma.
#[test]
fn channels_convert_both_ways() {
    let colour = shapes(3, 16);
    let grey = colour.clone().to_channels(1);
    assert_eq!((grey.channels, grey.images.len()), (1, 3 * 16 * 16));
    // A pure red pixel's luma is 0.299 of full scale.
    let mut red = colour.clone();
    red.images.fill(0);
    red.images[..256].fill(255);
    assert_eq!(red.to_channels(1).images[0], 76);
    let back = grey.clone().to_channels(3);
    assert_eq!(back.images.len(), 3 * grey.images.len());
    assert_eq!(&back.images[..256], &back.images[256..512]);
}

/// `--data shapes`: 20,000 procedural images of four shape classes, the same on every load,
/// trained on from the command line like any other set.
#[test]
fn the_shapes_set_loads_the_same_every_time_and_trains() {
    let d = latentlab::data::DataSource::Shapes
        .load(28)
        .expect("shapes");
    assert_eq!((d.len(), d.height, d.width), (20_000, 28, 28));
    assert_eq!(d.class_names, ["square", "circle", "triangle", "cross"]);
    assert_eq!(
        d,
        latentlab::data::DataSource::Shapes.load(28).expect("again")
    );
    assert_eq!(
        "shapes"
            .parse::<latentlab::data::DataSource>()
            .expect("parse"),
        latentlab::data::DataSource::Shapes
    );
    let dir = crate::tempdir();
    let out = dir.path().join("run");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args([
            "train", "--model", "cmlp", "--width", "8", "--latent", "4", "--batch", "8",
        ])
        .args([
            "--steps",
            "2",
            "--device",
            "cpu",
            "--sample-every",
            "0",
            "--data",
            "shapes",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = latentlab::checkpoint::read_manifest(&out).expect("run");
    assert_eq!((m.data.source.as_str(), m.class_names.len()), ("shapes", 4));
}

/// A picture given to a model (dropped, or for `detect`/`encode`) has its transparency
/// composited on black, as folder pictures do: fully transparent white reads as black, and an
/// opaque orange keeps its colour in a colour model.
#[test]
fn pictures_for_a_model_composite_alpha_on_black_and_keep_colour() {
    let dir = crate::tempdir();
    let clear = dir.path().join("clear.png");
    image::RgbaImage::from_pixel(16, 16, image::Rgba([255, 255, 255, 0]))
        .save(&clear)
        .expect("png");
    let orange = dir.path().join("orange.png");
    image::RgbImage::from_pixel(16, 16, image::Rgb([255, 128, 0]))
        .save(&orange)
        .expect("png");
    for channels in [1, 3] {
        let v = latentlab::detect::load_images(std::slice::from_ref(&clear), 16, channels)
            .expect("load");
        assert_eq!(v.len(), channels * 256);
        assert!(v.iter().all(|&x| x == -1.0), "{channels}: {:?}", &v[..4]);
    }
    let v = latentlab::detect::load_images(std::slice::from_ref(&orange), 16, 3).expect("load");
    let (r, g, b) = (v[0], v[256], v[512]);
    assert!(r > 0.99 && g.abs() < 0.01 && b < -0.99, "{r} {g} {b}");
    let e = latentlab::detect::load_images(std::slice::from_ref(&orange), 32, 3);
    assert!(
        e.is_err_and(|e| e.to_string().contains("16x16")),
        "a picture of another size is refused by name"
    );
}
