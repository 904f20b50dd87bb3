//! Colour in the app: the Train tab's grid and the Explore image of a colour run.

use crate::ui::{harness, options, wait_for};
use egui_kittest::kittest::Queryable;
use latentlab::data::DataSource;
use latentlab::model::ModelKind;
use latentlab::types::grid::Picture;

/// Some pixel of `p` has channels that differ (it is not grey).
fn has_colour(p: &Picture) -> bool {
    p.channels == 3
        && p.pixels
            .chunks_exact(3)
            .any(|c| c[0] != c[1] || c[1] != c[2])
}

#[test]
fn a_colour_run_trains_with_a_colour_grid_at_the_chosen_size() {
    let mut h = harness(options(vec![], None));
    {
        let s = &mut h.state_mut().settings;
        s.run.model = ModelKind::Dcgan;
        s.run.data = DataSource::Shapes;
        s.run.size = Some(16);
        s.run.batch = 8;
        s.run.width = Some(4);
        s.run.latent = Some(8);
        s.run.sample_every = 1;
    }
    h.step();
    // The run form offers both choices, with the data's own as the default.
    h.get_by_label("Image size");
    h.get_by_label("Colour");
    h.get_by_label("Start").click();
    wait_for(&mut h, "a sample grid", |a| !a.train.grids.is_empty());
    let app = h.state();
    let model = app.train.model.as_ref().expect("the run's model");
    assert_eq!((model.image_size, model.channels), (16, 3));
    let (_, grid) = app.train.current_grid().expect("grid");
    assert!(has_colour(grid), "the sample grid is colour");
    h.get_by_label("Stop").click();
    wait_for(&mut h, "the run to end", |a| {
        a.train.status == latentlab::ui::train_panel::RunStatus::Finished
    });
    // Colour: grey reads the same set as one channel, for a new run.
    h.state_mut().settings.run.channels = Some(1);
    h.step();
    h.get_by_label("Start").click();
    wait_for(&mut h, "a grey run", |a| {
        a.train.model.as_ref().is_some_and(|m| m.channels == 1) && !a.train.grids.is_empty()
    });
    let (_, grid) = h.state().train.current_grid().expect("grid");
    assert_eq!(grid.channels, 1, "the grey run's grid is grey");
    h.get_by_label("Stop").click();
}

#[test]
fn a_colour_model_explores_in_colour() {
    // A tiny colour run, saved and opened in the app.
    let device = burn::tensor::Device::flex();
    let data = std::sync::Arc::new(latentlab::data::shapes::dataset(16, 16, 3));
    let mut config = crate::tiny(
        ModelKind::Dcgan,
        latentlab::train::objective::Loss::Nonsat,
        4,
    );
    config.batch = 8;
    config.model = config.model.with_shape(16, 3);
    let mut t =
        latentlab::train::Trainer::new(config, data, "shapes".into(), &device).expect("trainer");
    t.step().expect("step");
    let dir = crate::tempdir();
    let run = dir.path().join("colour-run");
    t.save(&run).expect("save");
    let mut h = harness(options(vec![], Some(run)));
    wait_for(&mut h, "the first image", |a| a.explore.image.is_some());
    let img = h.state().explore.image.clone().expect("image");
    assert_eq!((img.width, img.height, img.channels), (16, 16, 3));
    assert!(has_colour(&img), "the Explore image is colour");
    // Moving a latent slider changes the colour image.
    h.state_mut().explore.z[0] += 2.0;
    h.state_mut().explore.touch();
    let before = img.clone();
    wait_for(&mut h, "a new image", |a| {
        a.explore
            .image
            .as_deref()
            .is_some_and(|i| i.pixels != before.pixels)
    });
}
