//! The quality meter and the shipped checkpoints.

use burn::tensor::Device;
use latentlab::checkpoint;
use latentlab::data::DataSource;
use latentlab::quality::{self, Score};
use std::path::Path;

fn digits_meter() -> quality::Meter {
    quality::load_classifier(&quality::shipped_classifier_dir("mnist5k"), &Device::flex())
        .expect("shipped digit classifier")
}

fn rate(images: &[f32], intended: Option<&[u8]>, real: &[f32]) -> Score {
    quality::score_images(
        &digits_meter(),
        images,
        intended,
        None,
        real,
        &Device::flex(),
    )
    .expect("score")
}

#[test]
fn meter_prefers_real_images_to_noise_and_collapse() {
    let data = DataSource::Default.load(28).expect("data");
    let (_, heldout) = quality::split(data.len());
    let px = |idx: &[usize]| data.pixels(idx);
    // The data are sorted by class: alternate so both halves hold every class.
    let a: Vec<usize> = heldout.iter().step_by(2).copied().collect();
    let b: Vec<usize> = heldout.iter().skip(1).step_by(2).copied().collect();
    let (real_a, real_b) = (px(&a), px(&b));
    let labels: Vec<u8> = a.iter().map(|&i| data.labels[i]).collect();

    let real = rate(&real_a, Some(&labels), &real_b);
    let noise: Vec<f32> = latentlab::types::noise::gaussian(3, 250 * 784)
        .iter()
        .map(|v| v.tanh())
        .collect();
    let noise = rate(&noise, None, &real_b);
    let collapsed: Vec<f32> = real_a[..784].repeat(a.len());
    let collapsed = rate(&collapsed, None, &real_b);

    assert!(real.overall_accuracy.expect("labelled") > 0.95, "{real:?}");
    assert_eq!(real.classes_covered, 10);
    assert!(real.entropy_bits > 3.2, "{real:?}");
    assert!(
        collapsed.classes_covered == 1 && collapsed.entropy_bits < 0.01,
        "{collapsed:?}"
    );
    assert!(
        noise.frechet > 5.0 * real.frechet,
        "noise {} vs real {}",
        noise.frechet,
        real.frechet
    );
    assert!(
        collapsed.frechet > 5.0 * real.frechet,
        "collapsed {} vs real {}",
        collapsed.frechet,
        real.frechet
    );
    // KID, precision and recall: real against real reads near the ideal (0, 1, 1); noise is
    // far; a collapsed generator is on the real manifold (precise) but covers none of it.
    assert!(real.kid.abs() < 0.05, "{real:?}");
    assert!(real.precision > 0.75 && real.recall > 0.75, "{real:?}");
    assert!(noise.kid > 20.0 * real.kid.abs().max(0.005), "{noise:?}");
    assert!(noise.precision < 0.1, "{noise:?}");
    assert!(collapsed.recall < 0.1, "{collapsed:?}");
    // Every score carries the real-against-real reference, near the ideal too.
    let reference = real.real_vs_real.expect("a reference from the real halves");
    assert!(reference.kid.abs() < 0.05, "{reference:?}");
    assert!(
        reference.precision > 0.7 && reference.recall > 0.7,
        "{reference:?}"
    );
}

#[test]
fn shipped_classifiers_meet_their_accuracy() {
    let info = digits_meter().info;
    assert!(info.heldout_accuracy >= 0.97, "{info:?}");
    let fashion = quality::load_classifier(
        &quality::shipped_classifier_dir("fashion-mnist"),
        &Device::flex(),
    )
    .expect("shipped fashion classifier")
    .info;
    assert!(fashion.heldout_accuracy >= 0.90, "{fashion:?}");
    // The shapes set's meter reads its 32x32 colour pictures.
    let shapes =
        quality::load_classifier(&quality::shipped_classifier_dir("shapes"), &Device::flex())
            .expect("shipped shapes classifier");
    assert_eq!(shapes.classifier.shape(), (32, 3));
    assert!(shapes.info.heldout_accuracy >= 0.99, "{:?}", shapes.info);
}

#[test]
fn shipped_checkpoints_load_and_generate_finite_images() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints");
    let mut runs = 0;
    for entry in std::fs::read_dir(&dir).expect("checkpoints/") {
        let path = entry.expect("entry").path();
        if !path.join(checkpoint::MANIFEST).is_file() {
            continue;
        }
        let size: u64 = std::fs::read_dir(&path)
            .expect("ls")
            .map(|e| e.expect("e").metadata().expect("m").len())
            .sum();
        assert!(size < 8_000_000, "{} is {size} bytes", path.display());
        let (m, g) = checkpoint::load_generator(&path, &Device::flex()).expect("load");
        let z = latentlab::types::noise::gaussian(1, 4 * m.model().latent_dim);
        let v =
            latentlab::model::generate_with(&g, m.model(), &Device::flex(), &z, None).expect("gen");
        assert!(
            v.iter().all(|x| x.is_finite() && x.abs() <= 1.0),
            "{}",
            path.display()
        );
        runs += 1;
    }
    assert!(runs >= 2, "expected the shipped runs in {}", dir.display());
}

#[test]
fn shipped_cdcgan_draws_every_digit_on_request() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/mnist-cdcgan");
    let (m, g) = checkpoint::load_generator(&run, &Device::flex()).expect("load");
    let meter = digits_meter();
    let data = DataSource::Default.load(28).expect("data");
    let s = quality::score_generator(&g, m.model(), &meter, &data, 1000, 0, &Device::flex())
        .expect("score");
    for (label, acc) in s.per_label.expect("conditional") {
        assert!(acc >= 0.9, "label {label}: {acc}");
    }
}

/// `score` generates in chunks of 256: the code each image was drawn with must still be the
/// one its purity is counted under.
#[test]
fn infogan_code_purity_counts_each_image_under_its_own_code() {
    use latentlab::types::noise;
    let device = Device::flex();
    // The shipped InfoGAN: its code values draw different digits, so a misplaced image shows.
    let (manifest, g) =
        checkpoint::load_generator(&checkpoint::shipped_dir("mnist-infogan"), &device)
            .expect("shipped InfoGAN");
    let model = manifest.model().clone();
    let meter = digits_meter();
    let real = DataSource::Default.load(28).expect("digits");
    let n = 300; // more than one chunk
    let s = quality::score_generator(&g, &model, &meter, &real, n, 5, &device).expect("score");
    // The same images, generated in one go with explicit codes.
    let codes = noise::cycling_labels(n, model.num_classes);
    let z = noise::gaussian(5, n * model.latent_dim);
    let conds = noise::conditions(&codes, model.num_classes, &vec![0.0; model.codes]);
    let images =
        latentlab::model::generate_with(&g, &model, &device, &z, Some(&conds)).expect("generate");
    let (_, predicted) = quality::classify(&meter.classifier, &images, &device).expect("classify");
    for c in s.per_code.expect("InfoGAN reports its codes") {
        let mine: Vec<usize> = codes
            .iter()
            .zip(&predicted)
            .filter(|(k, _)| **k as usize == c.code)
            .map(|(_, p)| *p)
            .collect();
        let best = meter
            .info
            .class_names
            .iter()
            .position(|n| *n == c.class)
            .expect("class");
        let share = mine.iter().filter(|p| **p == best).count() as f32 / mine.len() as f32;
        assert!(
            (share - c.purity).abs() < 1e-6,
            "code {}: {share} vs {}",
            c.code,
            c.purity
        );
    }
}

/// A data set with no shipped classifier and no labels still gets a meter: its own feature
/// network, trained on telling rotations apart, cached, and read back from the cache the next
/// time. Its real-against-real figures read near the ideal. (Pictures with an upright, here
/// digits made colour at 16 px: the shapes set's objects are turned at random, so its
/// rotations cannot be told apart.)
#[test]
fn an_unlabelled_colour_set_gets_its_own_cached_meter() {
    use latentlab::train::meter::{MeterSource, ROTATIONS, meter_in};
    let device = Device::flex();
    let mut data = DataSource::Default.load_shaped(16, 3).expect("digits");
    data.truncate(400);
    data.name = "my-pictures".into();
    data.class_names = vec!["all".into()];
    data.labels.fill(0);
    let cache = crate::tempdir();
    let (meter, from) = meter_in(None, &data, Some(cache.path()), &device, |_, _| {})
        .expect("a feature network is trained");
    let Some(MeterSource::Trained(Some(dir))) = Some(from) else {
        panic!("trained and cached");
    };
    assert!(
        dir.starts_with(cache.path()) && dir.is_dir(),
        "{}",
        dir.display()
    );
    assert_eq!(meter.classifier.shape(), (16, 3));
    assert!(
        meter
            .info
            .class_names
            .iter()
            .map(String::as_str)
            .eq(ROTATIONS)
    );
    assert!(meter.info.heldout_accuracy > 0.5, "{:?}", meter.info);
    let (again, from) =
        meter_in(None, &data, Some(cache.path()), &device, |_, _| {}).expect("read back");
    assert_eq!(from, MeterSource::Cached(dir));
    assert_eq!(again.info, meter.info);
    // Real against real, through the same scoring as a generator's.
    let (a, b): (Vec<usize>, Vec<usize>) = (0..data.len()).partition(|i| i % 2 == 0);
    let s = quality::score_images(
        &meter,
        &data.pixels(&a),
        None,
        None,
        &data.pixels(&b),
        &device,
    )
    .expect("score");
    assert!(
        s.kid.abs() < 0.05 && s.precision > 0.7 && s.recall > 0.7,
        "{s:?}"
    );
}
