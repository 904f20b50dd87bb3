//! Explore's Style section for a style generator, driven through its widgets: the mixing figure
//! follows the level rows, truncation moves the image, and an export restores the controls.

use crate::ui::{Dropped, harness, options, wait_for};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use latentlab::model::ModelKind;
use latentlab::ui::app::LatentLabApp;
use latentlab::ui::settings::Tab;
use std::path::Path;
use std::sync::Arc;

/// A tiny 32-px colour style generator trained a few steps, saved under `dir`, open in Explore
/// with its image and mixing figure shown.
fn with_style_run<'a>(dir: &Path) -> Harness<'a, LatentLabApp> {
    let device = burn::tensor::Device::flex();
    let data = Arc::new(latentlab::data::shapes::dataset(32, 32, 3));
    let mut config = crate::tiny(
        ModelKind::Stylegan,
        latentlab::train::objective::Loss::Nonsat,
        4,
    );
    config.batch = 8;
    config.model.width = 8;
    config.model.latent_dim = 16;
    config.model = config.model.with_shape(32, 3);
    let mut t =
        latentlab::train::Trainer::new(config, data, "shapes".into(), &device).expect("trainer");
    for _ in 0..3 {
        t.step().expect("step");
    }
    let run = dir.join("style-run");
    t.save(&run).expect("save");
    let mut h = harness(options(vec![], Some(run)));
    wait_for(&mut h, "the image and the mixing figure", |a| {
        a.explore.image.is_some() && a.explore.style.figure.is_some()
    });
    h.state_mut().settings.tab = Tab::Explore;
    h.run_steps(2);
    h
}

/// Step the UI until the explored image has stayed the same for half a second, so no reply
/// to an earlier request is still on its way (replies may lag on a loaded machine).
fn settle(h: &mut Harness<'_, LatentLabApp>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut last = pixels(&h.state().explore.image);
    let mut since = std::time::Instant::now();
    while since.elapsed() < std::time::Duration::from_millis(500)
        && std::time::Instant::now() < deadline
    {
        h.run_steps(1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let now = pixels(&h.state().explore.image);
        if now != last {
            last = now;
            since = std::time::Instant::now();
        }
    }
}

fn pixels(p: &Option<Arc<latentlab::types::grid::Picture>>) -> Vec<u8> {
    p.as_ref().map(|p| p.pixels.clone()).unwrap_or_default()
}

#[test]
fn the_mixing_figure_follows_the_level_rows_and_truncation_moves_the_image() {
    let dir = crate::tempdir();
    let mut h = with_style_run(dir.path());
    let st = &h.state().explore.style;
    assert_eq!(st.sides, vec![4, 8, 16, 32]);
    let fig = st.figure.clone().expect("figure");
    // Six 32-px cells in a row with 2-px gaps.
    assert_eq!((fig.width, fig.height), (6 * 32 + 5 * 2, 32));
    // Switching the coarsest level's source to B changes the figure's last cell (the rows as
    // chosen), and the explored image.
    let image = pixels(&h.state().explore.image);
    h.get_by_label("4 px from B").click();
    wait_for(&mut h, "the figure with the coarse level from B", |a| {
        pixels(&a.explore.style.figure) != fig.pixels
    });
    assert!(h.state().explore.style.from_b[0]);
    wait_for(
        &mut h,
        "the explored image with the coarse level from B",
        |a| pixels(&a.explore.image) != image,
    );
    // Truncation at 0 gives the average image, whatever the latent.
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "truncation ψ")
        .set_value_accesskit(0.0);
    h.get_by_label("4 px from B").click(); // back to A everywhere
    let moved = pixels(&h.state().explore.image);
    wait_for(&mut h, "the truncated image", |a| {
        a.explore.style.psi == 0.0
            && !a.explore.style.from_b[0]
            && pixels(&a.explore.image) != moved
    });
    settle(&mut h);
    let average = pixels(&h.state().explore.image);
    h.get_by_label("Randomise").click();
    // Nothing changes to wait for: give the explorer time to answer.
    settle(&mut h);
    assert_ne!(h.state().explore.seed, 0, "a new latent");
    assert_eq!(
        pixels(&h.state().explore.image),
        average,
        "at ψ = 0 every latent gives the w_avg image"
    );
}

#[test]
fn an_export_restores_the_style_controls_and_its_image() {
    let dir = crate::tempdir();
    let mut h = with_style_run(dir.path());
    // Set controls: B on the fine level, ψ 0.7 below 16 px, new noise at 8 px at half strength.
    {
        let st = &mut h.state_mut().explore.style;
        st.from_b[3] = true;
        st.psi = 0.7;
        st.cutoff = 2;
        st.redraw(1);
        st.noise_scales[1] = 0.5;
    }
    h.state_mut().explore.touch();
    let before = pixels(&h.state().explore.image);
    wait_for(&mut h, "the image under the new controls", |a| {
        pixels(&a.explore.image) != before
    });
    settle(&mut h);
    let exported = h.state().explore.image.clone().expect("image");
    let meta = h.state().explore.metadata();
    let png = dir.path().join("export.png");
    latentlab::export::write_png(&png, &exported, &meta, false).expect("export");

    let saved_seeds = h.state().explore.style.noise_seeds.clone();
    // Change everything, then drop the export.
    {
        let st = &mut h.state_mut().explore.style;
        st.from_b = vec![false; 4];
        st.psi = 1.0;
        st.cutoff = 4;
        st.noise_seeds = vec![0; 4];
        st.noise_scales = vec![1.0; 4];
    }
    h.get_by_label("Randomise").click();
    h.run_steps(2);
    wait_for(&mut h, "another image", |a| {
        pixels(&a.explore.image) != exported.pixels
    });
    h.input_mut().dropped_files.push(Arc::new(Dropped(png)));
    wait_for(&mut h, "the restored image", |a| {
        a.explore.style.from_b[3] && pixels(&a.explore.image) == exported.pixels
    });
    let st = &h.state().explore.style;
    assert_eq!(st.from_b, vec![false, false, false, true]);
    assert!((st.psi - 0.7).abs() < 1e-6);
    assert_eq!(st.cutoff, 2);
    assert_eq!(st.noise_seeds, saved_seeds);
    assert_eq!(st.noise_scales[1], 0.5);
}

#[test]
fn a_dropped_picture_is_projected_into_w_plus_for_source_a() {
    let dir = crate::tempdir();
    let mut h = with_style_run(dir.path());
    h.state_mut().explore.encode_steps = 20;
    h.state_mut().explore.encode_restarts = 2;
    // A real picture of the set (no latentlab metadata): it is projected, not restored.
    let data = latentlab::data::shapes::dataset(32, 32, 3);
    let png = dir.path().join("shape.png");
    image::RgbImage::from_raw(32, 32, data.image(3).to_vec())
        .expect("32x32 colour")
        .save(&png)
        .expect("write png");
    h.input_mut().dropped_files.push(Arc::new(Dropped(png)));
    wait_for(&mut h, "the projection", |a| a.explore.encoded.is_some());
    h.run_steps(2);
    let e = &h.state().explore;
    let fixed = e
        .style
        .a_fixed
        .as_ref()
        .expect("A is the projected picture");
    assert!(fixed.name.ends_with("shape.png"));
    // W+: one w per level.
    assert_eq!(fixed.ws.len(), 4 * e.style.w_dim);
    assert!(
        e.encoded
            .as_ref()
            .is_some_and(|enc| enc.pixel_mse.is_finite())
    );
    assert!(
        h.state()
            .notices
            .iter()
            .any(|n| n.contains("into W+ for source A") && n.contains("pixel error")),
        "{:?}",
        h.state().notices
    );
    h.get_by_label("original");
    h.get_by_label("Use z").click();
    h.run_steps(1);
    assert!(h.state().explore.style.a_fixed.is_none());
}
