//! The Explore tab of a Boltzmann machine: the Gibbs chain view driven through its widgets.

use super::ui::{Dropped, harness, options, wait_for};
use crate::{patterns, tempdir, tiny};
use burn::prelude::*;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use latentlab::model::ModelKind;
use latentlab::train::Trainer;
use latentlab::train::objective::Loss;
use latentlab::ui::app::LatentLabApp;
use latentlab::ui::settings::Tab;
use std::sync::Arc;

/// A small RBM trained for a few updates on the patterns, saved in `dir`.
fn tiny_rbm(dir: &std::path::Path) {
    let mut c = tiny(ModelKind::Rbm, Loss::Nonsat, 4);
    c.model.layers = vec![24];
    c.model.latent_dim = 784;
    c.lr_g = 0.1;
    // Named as the embedded digits, so "Start from data image" has a data set to open.
    let mut t =
        Trainer::new(c, Arc::new(patterns(8)), "default".into(), &Device::flex()).expect("trainer");
    for _ in 0..30 {
        t.step().expect("step");
    }
    t.save(dir).expect("save");
}

#[test]
fn the_gibbs_chain_view_steps_plays_and_clamps_hidden_units() {
    let tmp = tempdir();
    let run = tmp.path().join("rbm");
    tiny_rbm(&run);
    let mut h = harness(options(vec![], Some(run)));
    wait_for(&mut h, "the chain's first frame", |a| {
        a.explore.gibbs.frame.is_some()
    });
    h.state_mut().settings.tab = Tab::Explore;
    h.run_steps(2);
    // The view shows v and h side by side.
    h.get_by_label("v: P(v | h)");
    h.get_by_label_contains("h: first hidden layer");
    assert_eq!(
        h.state().explore.gibbs.frame.as_ref().map(|f| f.steps),
        Some(0)
    );

    h.get_by_label("Step").click();
    wait_for(&mut h, "one Gibbs step", |a| {
        !a.explore.gibbs.waiting && a.explore.gibbs.frame.as_ref().is_some_and(|f| f.steps == 1)
    });

    h.get_by_label("Play").click();
    wait_for(&mut h, "the chain to run", |a| {
        a.explore.gibbs.frame.as_ref().is_some_and(|f| f.steps >= 5)
    });
    h.get_by_label("Pause").click();
    // The frame asked for before the pause still arrives.
    wait_for(&mut h, "the last frame of the play", |a| {
        !a.explore.gibbs.waiting
    });
    assert!(!h.state().explore.gibbs.playing);
    assert!(
        h.state().explore.gibbs.frames.len() >= 5,
        "frames kept for the GIF"
    );

    // Hold the most effective unit on, the next one off: the chain obeys.
    let effects = shown_effects(&h);
    assert_eq!(effects.len(), 24, "every hidden unit is ranked");
    assert!(
        effects.windows(2).all(|w| w[0].1 >= w[1].1),
        "largest effect first"
    );
    let on_unit = effects[0].0;
    h.get_all_by_label("on")
        .next()
        .expect("an 'on' switch")
        .click();
    // A new clamp is shown at once: the chain is observed again without a sweep.
    wait_for(&mut h, "the clamp's frame", |a| {
        let g = &a.explore.gibbs;
        !g.waiting && g.frame.as_ref().is_some_and(|f| f.hidden[on_unit] == 1.0)
    });
    // The second row is now the strongest unit that is not clamped.
    let effects = shown_effects(&h);
    let off_unit = effects
        .iter()
        .find(|e| e.0 != on_unit)
        .expect("a second unit")
        .0;
    h.get_all_by_label("off")
        .nth(1)
        .expect("an 'off' switch")
        .click();
    wait_for(&mut h, "the second clamp's frame", |a| {
        let g = &a.explore.gibbs;
        !g.waiting && g.frame.as_ref().is_some_and(|f| f.hidden[off_unit] == 0.0)
    });
    let clamp = h.state().explore.gibbs.clamp.clone();
    assert!(clamp.contains(&(on_unit, true)), "{clamp:?}");
    assert!(clamp.contains(&(off_unit, false)), "{clamp:?}");
    for _ in 0..3 {
        let before = h
            .state()
            .explore
            .gibbs
            .frame
            .as_ref()
            .map_or(0, |f| f.steps);
        h.get_by_label("Step").click();
        wait_for(&mut h, "a clamped step", |a| {
            let g = &a.explore.gibbs;
            !g.waiting && g.frame.as_ref().is_some_and(|f| f.steps == before + 1)
        });
        let f = h.state().explore.gibbs.frame.clone().expect("frame");
        assert_eq!(f.hidden[on_unit], 1.0, "unit {on_unit} held on");
        assert_eq!(f.hidden[off_unit], 0.0, "unit {off_unit} held off");
    }

    // A new chain from a data image starts at step 0 again.
    h.get_by_label("Start from data image").click();
    wait_for(&mut h, "a chain from a data image", |a| {
        a.explore.gibbs.frame.as_ref().is_some_and(|f| f.steps == 0)
            && a.explore.gibbs.started_from.starts_with("data image")
    });

    // A dropped picture starts the chain from it (a Boltzmann machine has nothing to encode).
    let png = tmp.path().join("digit.png");
    let data = latentlab::data::DataSource::Default
        .load(28)
        .expect("embedded digits");
    image::GrayImage::from_raw(28, 28, data.image(3).to_vec())
        .expect("28x28")
        .save(&png)
        .expect("write png");
    h.input_mut().dropped_files.push(Arc::new(Dropped(png)));
    wait_for(&mut h, "a chain from the dropped picture", |a| {
        a.explore.gibbs.started_from.ends_with("digit.png")
            && a.explore.gibbs.frame.as_ref().is_some_and(|f| f.steps == 0)
    });
    assert!(h.state().explore.encoded.is_none(), "nothing was encoded");
}

/// The hidden units of the frame on show, with their effects, largest first.
fn shown_effects(h: &Harness<'_, LatentLabApp>) -> Vec<(usize, f32)> {
    h.state()
        .explore
        .gibbs
        .frame
        .clone()
        .expect("frame")
        .effects
}
