//! The Explore tab's latent tools driven through their widgets: Directions mode, encoding a
//! dropped image, the 2-D sweep grid.

use super::ui::{Dropped, harness, options, wait_for};
use eframe::egui;
use egui_kittest::kittest::Queryable;
use latentlab::checkpoint::shipped_dir;
use latentlab::ui::explore_panel::{LatentMode, ViewMode};
use latentlab::ui::settings::Tab;
use std::sync::Arc;

fn with_dcgan<'a>() -> egui_kittest::Harness<'a, latentlab::ui::app::LatentLabApp> {
    let mut h = harness(options(vec![], Some(shipped_dir("mnist-dcgan"))));
    wait_for(&mut h, "the first image", |a| a.explore.image.is_some());
    h.state_mut().settings.tab = Tab::Explore;
    h.run_steps(2);
    h
}

#[test]
fn directions_mode_computes_directions_and_a_slider_moves_the_image() {
    let mut h = with_dcgan();
    h.get_by_label("Directions").click();
    h.run_steps(2);
    assert_eq!(h.state().explore.mode, LatentMode::Directions);
    // Fewer samples than the default keep the test quick; the work is the same.
    h.state_mut().explore.dirs.samples = 600;
    h.state_mut().explore.dirs.count = 5;
    h.run_steps(1);
    h.get_by_label("Compute directions").click();
    h.run_steps(1);
    assert!(h.state().explore.job.is_some(), "the job shows progress");
    wait_for(&mut h, "five directions", |a| {
        a.explore.job.is_none() && a.explore.dirs.list.len() == 5
    });
    let d = &h.state().explore.dirs.list[0];
    assert!(d.explained_variance.is_some_and(|v| v > 0.0 && v < 1.0));
    let first = h.state().explore.image.clone().expect("image");
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "PC0")
        .set_value_accesskit(3.0);
    wait_for(&mut h, "the moved image", |a| {
        a.explore
            .image
            .as_ref()
            .is_some_and(|i| i.pixels != first.pixels)
    });
    let e = &h.state().explore;
    assert!((e.dirs.amounts[0] - 3.0).abs() < 1e-6);
    // The raw latent stays; the image's latent moved 3 sigmas along the direction.
    let moved: f32 = e
        .latent()
        .iter()
        .zip(&e.z)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f32>()
        .sqrt();
    assert!((moved - 3.0 * e.dirs.list[0].sigma).abs() < 1e-3, "{moved}");
    let meta = e.metadata();
    assert!(
        meta.iter()
            .any(|(k, v)| *k == "edits" && v.contains("PC0=3.00"))
    );

    // The 2-D sweep grid shows steps x steps images around the current latent.
    h.get_by_label("2-D sweep").click();
    wait_for(&mut h, "the sweep grid", |a| {
        a.explore.sweep.image.is_some()
    });
    let s = &h.state().explore.sweep;
    assert_eq!(h.state().explore.view_mode, ViewMode::Sweep);
    let side = s.steps * 28 + (s.steps - 1) * 2;
    let grid = s.image.as_ref().expect("grid");
    assert_eq!((grid.width, grid.height), (side, side));
}

#[test]
fn a_dropped_real_image_is_encoded_and_shown_beside_its_reconstruction() {
    let dir = super::tempdir();
    let data = latentlab::data::DataSource::Default
        .load(28)
        .expect("embedded digits");
    let png = dir.path().join("real.png");
    image::GrayImage::from_raw(28, 28, data.image(12).to_vec())
        .expect("28x28")
        .save(&png)
        .expect("write png");
    let mut h = with_dcgan();
    h.state_mut().explore.encode_steps = 80;
    h.state_mut().explore.encode_restarts = 4;
    let z_before = h.state().explore.z.clone();
    h.input_mut().dropped_files.push(Arc::new(Dropped(png)));
    wait_for(&mut h, "the encoding", |a| a.explore.encoded.is_some());
    h.run_steps(2);
    let e = &h.state().explore;
    let enc = e.encoded.as_ref().expect("encoded");
    assert!(enc.name.ends_with("real.png"));
    assert_eq!((enc.original.width, enc.original.height), (28, 28));
    assert!(enc.pixel_mse < 0.05, "pixel error {}", enc.pixel_mse);
    assert_ne!(e.z, z_before, "the latent is the encoded one");
    // Both images are on screen.
    h.get_by_label("original");
    h.get_by_label_contains("reconstruction");
}
