//! The mode-collapse alarm on runs made to collapse and on a healthy one.

use crate::{pattern_spec, patterns, tiny};
use latentlab::model::ModelKind;
use latentlab::quality::collapse::{CollapseSign, GRACE_STEPS, SEVERE_FLOOR};
use latentlab::train::objective::Loss;
use latentlab::train::{Command, Event, RunSpec, TrainingHandle};
use std::sync::Arc;
use std::time::Duration;

/// What a run reported: its diversity readings and its alarms, each with its step.
type Watched = (Vec<(u64, f32)>, Vec<(u64, CollapseSign)>);

/// 1,100 steps of a tiny `kind` GAN on the four patterns.
fn watch(kind: ModelKind) -> Watched {
    let mut config = tiny(kind, Loss::Nonsat, 4);
    (config.lr_g, config.lr_d, config.batch) = (1e-3, 1e-3, 32);
    config.sample_count = 64;
    config.sample_every = 100;
    let spec = RunSpec {
        data: Arc::new(patterns(16)),
        autostart: true,
        max_steps: Some(GRACE_STEPS + 100),
        ..pattern_spec(config)
    };
    let (mut readings, mut alarms) = (Vec::new(), Vec::new());
    for event in run_to_end(spec) {
        match event {
            Event::Diversity { step, ratio } => readings.push((step, ratio)),
            Event::Collapse { step, sign } => alarms.push((step, sign)),
            _ => {}
        }
    }
    (readings, alarms)
}

/// Every event of a run from its start to its end.
fn run_to_end(spec: RunSpec) -> Vec<Event> {
    let h = TrainingHandle::spawn(None).expect("spawn");
    h.send(Command::Start(Box::new(spec)));
    let mut events = Vec::new();
    loop {
        match h.events.recv_timeout(Duration::from_secs(120)) {
            Ok(Event::Finished { .. }) => break,
            Ok(Event::Failed(e)) => panic!("the run failed: {e}"),
            Ok(e) => events.push(e),
            Err(e) => panic!("no end of the run: {e}; so far {events:?}"),
        }
    }
    h.shutdown();
    events
}

#[test]
fn the_alarm_sounds_for_a_collapsed_run_and_not_for_a_healthy_one() {
    // The tiny MLP GAN ends drawing one pattern for every noise vector.
    let (readings, alarms) = watch(ModelKind::Mlp);
    assert_eq!(
        readings.len(),
        12,
        "a reading with each grid, step 0 too: {readings:?}"
    );
    assert!(
        matches!(alarms.as_slice(), [(step, CollapseSign::Diversity(r))]
            if *step >= GRACE_STEPS && *r < SEVERE_FLOOR),
        "one alarm once the grace is over: {alarms:?}; readings {readings:?}"
    );
    // The tiny DCGAN learns all four (after a passing dip early on).
    let (readings, alarms) = watch(ModelKind::Dcgan);
    assert!(
        alarms.is_empty(),
        "a healthy run raised {alarms:?}; {readings:?}"
    );
    assert!(
        readings.last().is_some_and(|(_, r)| *r > 0.6),
        "the healthy run ends varied: {readings:?}"
    );
}

#[test]
fn a_boltzmann_machine_drawing_few_classes_raises_no_gan_alarm() {
    // An RBM two updates old draws noise that the meter files under few classes: the GAN's
    // alarm (and its advice about D and G) is not for it.
    let mut config = tiny(ModelKind::Rbm, Loss::Nonsat, 0);
    config.model.layers = vec![16];
    config.model.latent_dim = 784;
    config.cd = Some(latentlab::types::config::CdConfig {
        sample_gibbs: 2,
        ..Default::default()
    });
    let spec = RunSpec {
        data: Arc::new(
            latentlab::data::DataSource::Default
                .load(28)
                .expect("digits"),
        ),
        data_source: "default".into(),
        autostart: true,
        max_steps: Some(2),
        score_every: 2,
        ..pattern_spec(config)
    };
    let (mut scores, mut alarms) = (Vec::new(), Vec::new());
    for event in run_to_end(spec) {
        match event {
            Event::Quality { score, .. } => scores.push(score),
            Event::Collapse { step, sign } => alarms.push((step, sign)),
            _ => {}
        }
    }
    let [score] = scores.as_slice() else {
        panic!("one score at step 2: {scores:?}")
    };
    // What would have raised a GAN's alarm.
    assert!(
        score.classes_covered * 2 <= score.classes || score.entropy_bits < 1.66,
        "{score:?}"
    );
    assert!(alarms.is_empty(), "{alarms:?}");
}
