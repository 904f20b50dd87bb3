//! Latent-space tools: principal directions, edits along them, encoding images, dirs.json.

use burn::tensor::Device;
use latentlab::checkpoint::{self, shipped_dir};
use latentlab::explore::directions::{self, DirectionsError, DirectionsFile, Edit};
use latentlab::explore::{invert, pca};
use latentlab::model::generate_with;
use latentlab::types::noise;

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (directions::norm(a) * directions::norm(b))
}

/// A synthetic generator whose first hidden layer varies strongly along one latent axis and
/// weakly along everything else: the first principal direction must find that axis.
#[test]
fn the_first_principal_direction_finds_the_axis_the_output_varies_along() {
    super::init();
    let (latent, features, n) = (12, 40, 2000);
    let mut axis = noise::gaussian(7, latent);
    directions::normalize(&mut axis);
    let strong = noise::gaussian(8, features); // where that axis shows in the features
    let weak = noise::gaussian(9, latent * features); // everything else, 0.1 as strong
    let z = noise::gaussian(10, n * latent);
    let h: Vec<f32> = z
        .chunks(latent)
        .flat_map(|row| {
            let along: f32 = row.iter().zip(&axis).map(|(a, b)| a * b).sum();
            (0..features)
                .map(|f| {
                    let rest: f32 = (0..latent).map(|j| weak[j * features + f] * row[j]).sum();
                    3.0 * along * strong[f] + 0.1 * rest
                })
                .collect::<Vec<f32>>()
        })
        .collect();
    let found = pca::directions_from_features(&z, latent, &h, features, 3, 0, &Device::flex())
        .expect("directions");
    let c = cosine(&found[0].vector, &axis).abs();
    assert!(
        c > 0.9,
        "cosine of the first direction with the true axis: {c}"
    );
    let ev: Vec<f32> = found.iter().filter_map(|d| d.explained_variance).collect();
    assert!(
        ev[0] > 0.5 && ev[0] > ev[1] && ev[1] >= ev[2],
        "explained variance {ev:?}"
    );
    assert!(
        (found[0].sigma - 1.0).abs() < 0.1,
        "sigma of a unit direction in N(0, I)"
    );
}

/// Moving along the first direction changes the images more than moving the same distance
/// along a random direction (averaged over a batch of the shipped DCGAN's latents).
#[test]
fn an_edit_along_direction_0_moves_images_more_than_a_random_direction() {
    super::init();
    let device = Device::flex();
    let (manifest, g) = checkpoint::load_generator(&shipped_dir("mnist-dcgan"), &device)
        .expect("shipped mnist-dcgan");
    let model = manifest.model();
    let found = pca::generator_directions(&g, model, None, 1000, 3, 0, &device, |_| true)
        .expect("directions");
    let dir = super::tempdir();
    let file = dir.path().join("dirs.json");
    let mut random = noise::gaussian(99, model.latent_dim);
    directions::normalize(&mut random);
    let mut saved = DirectionsFile {
        space: Default::default(),
        directions: found.clone(),
        checkpoint: None,
    };
    saved
        .directions
        .push(latentlab::explore::directions::Direction {
            name: "random".into(),
            vector: random,
            sigma: found[0].sigma,
            explained_variance: None,
            origin: None,
        });
    saved.write(&file, true).expect("write dirs.json");
    let n = 64;
    let z = noise::gaussian(5, n * model.latent_dim);
    let base = generate_with(&g, model, &device, &z, None).expect("images");
    let moved = |index: usize| -> f32 {
        let edit: Edit = format!("{}:{index}=2", file.display())
            .parse()
            .expect("edit");
        let (offset, _) =
            directions::edit_offset(&[edit], directions::LatentDims::of(model)).expect("offset");
        let mut zz = z.clone();
        directions::shift_rows(&mut zz, &offset);
        let after = generate_with(&g, model, &device, &zz, None).expect("images");
        after
            .iter()
            .zip(&base)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / after.len() as f32
    };
    let (principal, random) = (moved(0), moved(3));
    assert!(
        principal > 1.2 * random,
        "mean pixel change: direction 0 {principal:.4}, random {random:.4}"
    );
}

/// An image G made from a known z is reconstructed closely.
#[test]
fn encoding_an_image_the_generator_made_reconstructs_it() {
    super::init();
    let device = Device::flex();
    let (manifest, g) = checkpoint::load_generator(&shipped_dir("mnist-dcgan"), &device)
        .expect("shipped mnist-dcgan");
    let model = manifest.model();
    let z_true = noise::truncated_gaussian(3, model.latent_dim, 2.0);
    let target = generate_with(&g, model, &device, &z_true, None).expect("image");
    let opts = invert::InvertOptions {
        steps: 200,
        restarts: 4,
        seed: 1,
    };
    let mut calls = 0;
    let r = invert::invert(&g, model, &target, None, &opts, |_, _| {
        calls += 1;
        true
    })
    .expect("inversion");
    assert_eq!(calls, 200, "progress once per step");
    assert!(r.pixel_mse < 0.005, "pixel MSE {} on [0, 1]", r.pixel_mse);
    let again = generate_with(&g, model, &device, &r.z, None).expect("image");
    assert!((invert::pixel_mse(&again, &target) - r.pixel_mse).abs() < 1e-6);
    // Cancelling stops at once with the named outcome; a wrong-sized image is refused.
    let cancelled = invert::invert(&g, model, &target, None, &opts, |_, _| false);
    assert!(matches!(cancelled, Err(invert::InvertError::Cancelled)));
    let small = invert::invert(&g, model, &target[..100], None, &opts, |_, _| true);
    assert!(matches!(
        small,
        Err(invert::InvertError::Size { got: 100, .. })
    ));
}

#[test]
fn directions_files_round_trip_and_bad_ones_are_named() {
    let dir = super::tempdir();
    let path = dir.path().join("dirs.json");
    let f = DirectionsFile {
        space: Default::default(),
        directions: vec![directions::Direction {
            name: "slant".into(),
            vector: vec![0.6, 0.0, 0.8],
            sigma: 1.5,
            explained_variance: Some(0.25),
            origin: Some("pca".into()),
        }],
        checkpoint: Some("runs/x".into()),
    };
    f.write(&path, true).expect("write");
    assert_eq!(
        DirectionsFile::read(&path, Some(directions::LatentDims { z: 3, w: 0 })).expect("read"),
        f
    );
    let err =
        DirectionsFile::read(&path, Some(directions::LatentDims { z: 100, w: 0 })).unwrap_err();
    assert!(
        matches!(
            err,
            DirectionsError::WrongLength {
                got: 3,
                want: 100,
                ..
            }
        ),
        "{err}"
    );
    let missing = DirectionsFile::read(&dir.path().join("none.json"), None).unwrap_err();
    assert!(matches!(missing, DirectionsError::Io { .. }), "{missing}");
    std::fs::write(&path, b"{\"directions\": [ {\"name\": 3} ]}").expect("write");
    let junk = DirectionsFile::read(&path, None).unwrap_err();
    assert!(matches!(junk, DirectionsError::Parse { .. }), "{junk}");
    assert!(junk.to_string().contains("dirs.json"), "{junk}");
    let edit: Edit = format!("{}:5=1", path.display()).parse().expect("edit");
    std::fs::write(&path, f.to_json()).expect("write");
    let err = directions::edit_offset(&[edit], directions::LatentDims { z: 3, w: 0 }).unwrap_err();
    assert!(
        matches!(
            err,
            DirectionsError::NoSuchIndex {
                index: 5,
                count: 1,
                ..
            }
        ),
        "{err}"
    );
}

/// "More like a 7 than a 1", from the classifier's labels: moving along it makes the shipped
/// DCGAN draw more 7s (as the same classifier sees them).
#[test]
fn an_attribute_vector_from_labels_moves_samples_toward_the_class() {
    super::init();
    use latentlab::explore::attributes;
    use latentlab::quality;
    let device = Device::flex();
    let (manifest, g) = checkpoint::load_generator(&shipped_dir("mnist-dcgan"), &device)
        .expect("shipped mnist-dcgan");
    let model = manifest.model();
    let meter = quality::load_classifier(&quality::shipped_classifier_dir("mnist5k"), &device)
        .expect("shipped classifier");
    let d = attributes::from_labels(
        &g,
        model,
        &meter.classifier,
        &manifest.class_names,
        1,
        7,
        1000,
        0,
        &device,
    )
    .expect("direction");
    let n = 200;
    let sevens = |amount: f32| {
        let mut z = noise::gaussian(11, n * model.latent_dim);
        let mut offset = vec![0.0; model.latent_dim];
        directions::add_scaled(&mut offset, &d.vector, amount * d.sigma);
        directions::shift_rows(&mut z, &offset);
        let images = generate_with(&g, model, &device, &z, None).expect("images");
        let (_, predicted) =
            quality::classify(&meter.classifier, &images, &device).expect("labels");
        predicted.iter().filter(|&&p| p == 7).count()
    };
    let (before, after) = (sevens(0.0), sevens(3.0));
    // Measured: 31 of 200 before, 51 after 3 sigmas.
    assert!(
        after > before + n / 20,
        "7s among {n}: {before} before, {after} after"
    );
}
