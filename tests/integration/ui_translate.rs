//! The Translate tab on a super-resolution run: held-out images with their scores, stepping
//! through them, a dropped picture of any shape, and Explore pointing there.

use crate::ui::{Dropped, harness, options, wait_for};
use egui_kittest::kittest::Queryable;
use latentlab::explore::translate::Translation;
use latentlab::model::ModelKind;
use latentlab::ui::settings::Tab;
use std::sync::Arc;

fn result(a: &latentlab::ui::app::LatentLabApp) -> Option<&Translation> {
    a.translate.result.as_ref()
}

#[test]
fn translate_shows_held_out_images_and_dropped_pictures_against_bicubic() {
    let dir = crate::tempdir();
    let device = burn::tensor::Device::flex();
    let mut config = latentlab::train::TrainConfig::new(
        ModelKind::Srgan,
        latentlab::train::objective::Loss::Nonsat,
        0,
    );
    config.model = config.model.with_shape(16, 3);
    config.model.width = 4;
    config.model.blocks = 1;
    config.batch = 4;
    let data = Arc::new(latentlab::data::shapes::dataset(40, 16, 3));
    let mut t =
        latentlab::train::Trainer::new(config, data, "shapes".into(), &device).expect("trainer");
    t.step().expect("step");
    let run = dir.path().join("sr-run");
    t.save(&run).expect("save");

    let mut h = harness(options(vec![], Some(run)));
    wait_for(&mut h, "the run", |a| a.explore.info.is_some());
    // Explore has nothing to explore in such a run, and says where to go.
    h.state_mut().settings.tab = Tab::Explore;
    h.run_steps(2);
    h.get_by_label("Open the Translate tab").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.tab, Tab::Translate);
    wait_for(&mut h, "the first held-out image", |a| result(a).is_some());
    let first = result(h.state()).cloned().expect("a result");
    assert!(
        first.name.starts_with("held-out image 1 of"),
        "{}",
        first.name
    );
    assert_eq!((first.input.width, first.output.width), (8, 16));
    let (psnr, ssim) = (first.psnr.expect("psnr"), first.ssim.expect("ssim"));
    assert!(psnr.0.is_finite() && psnr.1.is_finite() && ssim.1 <= 1.0);

    h.get_by_label(">").click();
    wait_for(&mut h, "the next image", |a| {
        result(a).is_some_and(|r| r.name.starts_with("held-out image 2 of"))
    });

    // A picture of any shape is enlarged as it is, with nothing to compare it with.
    let png = dir.path().join("wide.png");
    image::RgbImage::from_fn(10, 6, |x, _| image::Rgb([(x * 25) as u8, 60, 200]))
        .save(&png)
        .expect("write a picture");
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(png.clone())));
    wait_for(&mut h, "the dropped picture", |a| {
        result(a).is_some_and(|r| r.original.is_none())
    });
    let r = result(h.state()).expect("a result");
    assert_eq!((r.output.width, r.output.height), (20, 12));
    assert_eq!(r.name, png.display().to_string());
    assert!(r.psnr.is_none());
}

#[test]
fn translate_shows_a_pyramids_levels_and_follows_the_noise_controls() {
    let dir = crate::tempdir();
    let device = burn::tensor::Device::flex();
    let mut config = latentlab::train::TrainConfig::new(
        ModelKind::Lapgan,
        latentlab::train::objective::Loss::Nonsat,
        0,
    );
    config.model.levels = 2;
    config.model = config.model.with_shape(16, 3);
    config.model.width = 4;
    config.batch = 4;
    let data = Arc::new(latentlab::data::shapes::dataset(40, 16, 3));
    let mut t =
        latentlab::train::Trainer::new(config, data, "shapes".into(), &device).expect("trainer");
    t.step().expect("step");
    let run = dir.path().join("lap-run");
    t.save(&run).expect("save");

    let mut h = harness(options(vec![], Some(run)));
    wait_for(&mut h, "the run", |a| a.explore.info.is_some());
    h.state_mut().settings.tab = Tab::Translate;
    wait_for(&mut h, "the pyramid", |a| a.translate.pyramid.is_some());
    let first = h.state().translate.pyramid.clone().expect("a pyramid");
    let sides: Vec<usize> = first.levels.iter().map(|p| p.width).collect();
    assert_eq!(sides, vec![8, 16]);
    h.get_by_label("Next sample").click();
    wait_for(&mut h, "the next sample", |a| {
        a.translate.pyramid.as_ref().is_some_and(|p| p.seed == 1)
    });
    let next = h.state().translate.pyramid.clone().expect("a pyramid");
    assert_ne!(first.levels[1], next.levels[1], "another sample");
}

#[test]
fn translate_shows_a_cyclegans_round_trip_in_either_direction() {
    let dir = crate::tempdir();
    let device = burn::tensor::Device::flex();
    let mut config = latentlab::train::TrainConfig::new(
        ModelKind::Cyclegan,
        latentlab::train::objective::Loss::Nonsat,
        0,
    );
    config.model = config.model.with_shape(16, 3);
    config.model.width = 4;
    config.model.blocks = 1;
    config.batch = 2;
    let circles = latentlab::data::DataSource::ShapesOf("circle".into());
    let squares = latentlab::data::DataSource::ShapesOf("square".into());
    let source = latentlab::data::DataSource::Pair(Box::new(circles), Box::new(squares));
    let data = Arc::new(source.load(16).expect("pair"));
    let mut t =
        latentlab::train::Trainer::new(config, data, source.to_string(), &device).expect("trainer");
    t.step().expect("step");
    let run = dir.path().join("cycle-run");
    t.save(&run).expect("save");

    let mut h = harness(options(vec![], Some(run)));
    wait_for(&mut h, "the run", |a| a.explore.info.is_some());
    h.state_mut().settings.tab = Tab::Translate;
    wait_for(&mut h, "a held-out A image", |a| {
        result(a).is_some_and(|r| r.name.starts_with("held-out A image 1"))
    });
    let r = result(h.state()).expect("a result");
    assert!(r.round_trip.is_some() && r.heat.is_some() && r.cycle_error.is_some());
    h.get_by_label("B -> A (from the second set)").click();
    wait_for(&mut h, "a held-out B image", |a| {
        result(a).is_some_and(|r| r.name.starts_with("held-out B image 1"))
    });
}

/// A super-resolution run being trained, handed to the explorer, is followed by the Translate
/// tab: each new sample grid brings the newer generator.
#[test]
fn translate_follows_the_run_being_trained() {
    let mut h = harness(options(vec![], None));
    {
        let s = &mut h.state_mut().settings;
        s.run.model = ModelKind::Srgan;
        s.run.data = latentlab::data::DataSource::Shapes;
        s.run.size = Some(16);
        s.run.width = Some(4);
        s.run.sr.blocks = Some(1);
        s.run.batch = 4;
        s.run.sample_every = 1;
        s.tab = Tab::Train;
    }
    h.step();
    h.get_by_label("Start").click();
    wait_for(&mut h, "a few steps", |a| a.train.metrics().len() >= 2);
    h.get_by_label("Explore this model").click();
    wait_for(&mut h, "the training run in the explorer", |a| {
        a.explore.info.as_ref().is_some_and(|i| i.path.is_none())
    });
    h.state_mut().settings.tab = Tab::Translate;
    let first = h.state().explore.info.as_ref().map_or(0, |i| i.step);
    wait_for(&mut h, "a newer generator", |a| {
        a.explore.info.as_ref().is_some_and(|i| i.step > first + 2)
    });
    assert_eq!(
        h.state().settings.tab,
        Tab::Translate,
        "following keeps the tab"
    );
    wait_for(&mut h, "a translation", |a| result(a).is_some());
}
