//! The background training session: commands in, events out.

use crate::{pattern_spec, patterns, tempdir, tiny};
use latentlab::model::ModelKind;
use latentlab::train::objective::Loss;
use latentlab::train::{Command, Event, RunSpec, TrainingHandle};
use std::sync::Arc;
use std::time::Duration;

fn spec(kind: ModelKind, autostart: bool) -> RunSpec {
    let mut config = tiny(kind, Loss::Nonsat, 4);
    config.sample_every = 2;
    RunSpec {
        autostart,
        ..pattern_spec(config)
    }
}

/// A paused MLP run that saves to `run` when it ends.
fn saving_run(run: &std::path::Path) -> TrainingHandle {
    let mut s = spec(ModelKind::Mlp, false);
    s.out_dir = Some(run.to_path_buf());
    let h = TrainingHandle::spawn(None).expect("spawn");
    h.send(Command::Start(Box::new(s)));
    h
}

/// Collect events until `stop` says so (or fail after 60 s).
fn until(h: &TrainingHandle, mut stop: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let e = h
            .events
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("timed out; events so far: {seen:?}"));
        let done = stop(&e);
        seen.push(e);
        if done {
            return seen;
        }
    }
}

#[test]
fn step_pause_resume_and_samples() {
    let h = TrainingHandle::spawn(None).expect("spawn");
    h.send(Command::Start(Box::new(spec(ModelKind::Mlp, false))));
    let ev = until(&h, |e| matches!(e, Event::Samples { .. }));
    assert!(
        matches!(&ev[0], Event::Started { device, step: 0, .. } if device.starts_with("cpu")),
        "{ev:?}"
    );

    h.send(Command::Step(3));
    let ev = until(&h, |e| matches!(e, Event::Paused { .. }));
    let steps: Vec<u64> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Step(m) => Some(m.step),
            _ => None,
        })
        .collect();
    assert_eq!(steps, [1, 2, 3]);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Samples { step: 2, grid, .. } if grid.width > 28))
    );

    h.send(Command::SetLearningRate {
        lr_g: 1e-3,
        lr_d: 5e-4,
    });
    let ev = until(&h, |e| matches!(e, Event::LearningRateChanged { .. }));
    assert!(matches!(
        ev.last(),
        Some(Event::LearningRateChanged { step: 3, .. })
    ));

    h.send(Command::Resume);
    until(&h, |e| matches!(e, Event::Step(m) if m.step >= 6));
    h.send(Command::Pause);
    let ev = until(&h, |e| matches!(e, Event::Paused { .. }));
    let Some(Event::Paused { step }) = ev.last() else {
        unreachable!()
    };
    assert!(*step >= 6);
    h.shutdown();
}

#[test]
fn generate_and_save_on_request() {
    let h = TrainingHandle::spawn(None).expect("spawn");
    h.send(Command::Start(Box::new(spec(ModelKind::Cmlp, false))));
    until(&h, |e| matches!(e, Event::Samples { .. }));
    let label = vec![0.0, 1.0, 0.0, 0.0];
    h.send(Command::Generate {
        id: 7,
        z: vec![0.5; 8],
        labels: Some(label),
        cols: 1,
    });
    let ev = until(&h, |e| matches!(e, Event::Generated { .. }));
    assert!(
        matches!(ev.last(), Some(Event::Generated { id: 7, grid }) if grid.width == 28 && grid.height == 28)
    );
    let dir = tempdir();
    h.send(Command::Save(dir.path().join("run")));
    let ev = until(&h, |e| matches!(e, Event::Saved { .. } | Event::Warning(_)));
    assert!(
        matches!(ev.last(), Some(Event::Saved { step: 0, .. })),
        "{ev:?}"
    );
    assert!(dir.path().join("run/manifest.json").is_file());
    h.shutdown();
}

#[test]
fn max_steps_finishes_and_saves_to_out_dir() {
    let dir = tempdir();
    let mut s = spec(ModelKind::Dcgan, true);
    s.max_steps = Some(4);
    s.out_dir = Some(dir.path().join("run"));
    let h = TrainingHandle::spawn(None).expect("spawn");
    h.send(Command::Start(Box::new(s)));
    let ev = until(&h, |e| {
        matches!(e, Event::Finished { .. } | Event::Failed(_))
    });
    assert!(
        matches!(ev.last(), Some(Event::Finished { step: 4 })),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| matches!(e, Event::Saved { step: 4, .. })));
    h.shutdown();
}

#[test]
fn non_finite_loss_pauses_and_the_diverged_state_is_never_saved() {
    let dir = tempdir();
    let run = dir.path().join("run");
    let h = saving_run(&run);
    until(&h, |e| matches!(e, Event::Samples { .. }));
    // A good checkpoint first, then the learning rate that blows the model up.
    h.send(Command::Step(2));
    until(&h, |e| matches!(e, Event::Paused { .. }));
    h.send(Command::Save(run.clone()));
    until(&h, |e| matches!(e, Event::Saved { step: 2, .. }));
    let good = std::fs::read(run.join("manifest.json")).expect("saved");
    h.send(Command::SetLearningRate {
        lr_g: 1e30,
        lr_d: 1e30,
    });
    h.send(Command::Resume);
    let ev = until(&h, |e| {
        matches!(e, Event::Diverged { .. } | Event::Failed(_))
    });
    let Some(Event::Diverged {
        step,
        loss,
        value,
        last_good_step,
    }) = ev.last()
    else {
        panic!("{ev:?}")
    };
    assert!(*step > 2 && !value.is_finite(), "{ev:?}");
    assert!(*loss == "loss_D" || *loss == "loss_G");
    assert_eq!(*last_good_step, Some(2));
    assert!(matches!(
        h.events.recv_timeout(Duration::from_secs(10)),
        Ok(Event::Paused { .. })
    ));
    // Paused: no further steps arrive.
    assert!(h.events.recv_timeout(Duration::from_millis(300)).is_err());
    // Save and Stop refuse to write the diverged state over the good checkpoint.
    h.send(Command::Save(run.clone()));
    let ev = until(&h, |e| {
        matches!(e, Event::SaveFailed { .. } | Event::Saved { .. })
    });
    assert!(
        matches!(ev.last(), Some(Event::SaveFailed { error, .. }) if error.contains("step 2")),
        "{ev:?}"
    );
    h.send(Command::Stop);
    until(&h, |e| matches!(e, Event::Finished { .. }));
    assert_eq!(
        std::fs::read(run.join("manifest.json")).expect("kept"),
        good
    );
    let m = latentlab::checkpoint::read_manifest(&run).expect("the good run still loads");
    assert_eq!(m.step, 2);
    h.shutdown();
}

#[test]
fn a_panic_saves_the_run_before_reporting_the_failure() {
    let dir = tempdir();
    let run = dir.path().join("run");
    let h = saving_run(&run);
    h.send(Command::Step(3));
    until(&h, |e| matches!(e, Event::Paused { step: 3 }));
    h.send(Command::InjectPanic);
    let ev = until(&h, |e| matches!(e, Event::Failed(_)));
    assert!(
        ev.iter().any(|e| matches!(e, Event::Saved { step: 3, .. })),
        "emergency save before the failure: {ev:?}"
    );
    assert_eq!(
        latentlab::checkpoint::read_manifest(&run)
            .expect("saved run")
            .step,
        3
    );
    h.shutdown();
}

#[test]
fn bad_start_and_panics_become_failed_events() {
    let h = TrainingHandle::spawn(None).expect("spawn");
    let mut s = spec(ModelKind::Cdcgan, true);
    s.data = Arc::new({
        let mut d = patterns(8);
        d.class_names.truncate(1);
        d.labels.iter_mut().for_each(|l| *l = 0);
        d
    });
    h.send(Command::Start(Box::new(s)));
    let ev = until(&h, |e| matches!(e, Event::Failed(_)));
    assert!(
        matches!(ev.last(), Some(Event::Failed(m)) if m.contains("labelled")),
        "{ev:?}"
    );

    // A panic inside the thread is reported, and the thread keeps answering.
    h.send(Command::Start(Box::new(spec(ModelKind::Mlp, false))));
    until(&h, |e| matches!(e, Event::Samples { .. }));
    h.send(Command::InjectPanic);
    let ev = until(&h, |e| matches!(e, Event::Failed(_)));
    assert!(
        matches!(ev.last(), Some(Event::Failed(m)) if m.contains("injected")),
        "{ev:?}"
    );
    h.send(Command::Start(Box::new(spec(ModelKind::Mlp, false))));
    until(&h, |e| matches!(e, Event::Started { .. }));
    h.shutdown();
}

#[test]
fn quality_scores_arrive_during_training() {
    let mut s = spec(ModelKind::Cdcgan, true);
    s.data = Arc::new(
        latentlab::data::DataSource::Default
            .load(28)
            .expect("digits"),
    );
    s.data_source = "default".into();
    s.config.model.num_classes = 10;
    s.score_every = 2;
    s.max_steps = Some(4);
    let h = TrainingHandle::spawn(None).expect("spawn");
    h.send(Command::Start(Box::new(s)));
    let ev = until(&h, |e| {
        matches!(e, Event::Finished { .. } | Event::Failed(_))
    });
    let scores: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Quality { step, score } => Some((*step, score.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        scores.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [2, 4],
        "{ev:?}"
    );
    let (_, score) = &scores[0];
    assert_eq!(
        (score.n, score.per_label.as_ref().map(Vec::len)),
        (500, Some(10))
    );
    assert!(score.frechet.is_finite());
    h.shutdown();
}
