//! The explorer's generator thread: loading, coalescing, snapshots, the VAE views.

use latentlab::checkpoint::shipped_dir;
use latentlab::data::DataSource;
use latentlab::explore::worker::{ExplorerHandle, Reply, Request, Tag};
use latentlab::model::ModelKind;
use latentlab::train::objective::Loss;
use latentlab::train::{Command, Event, TrainingHandle};
use latentlab::types::noise;
use std::time::Duration;

fn next(h: &ExplorerHandle) -> Reply {
    h.replies
        .recv_timeout(Duration::from_secs(60))
        .expect("a reply from the explorer")
}

fn generate(tag: Tag, id: u64, z: Vec<f32>, labels: Option<Vec<f32>>) -> Request {
    Request::Generate {
        tag,
        id,
        z,
        labels,
        cols: 1,
    }
}

#[test]
fn a_slider_flood_is_coalesced_to_the_newest_request() {
    super::init();
    let h = ExplorerHandle::spawn(None).expect("thread");
    h.send(Request::LoadDir(shipped_dir("mnist-cdcgan")));
    // These queue up behind the load; only the newest should be computed.
    for id in 1..=50 {
        let z = vec![id as f32 / 50.0; 100];
        h.send(generate(
            Tag::Explore,
            id,
            z,
            Some(noise::one_hot(&[3], 10)),
        ));
    }
    assert!(matches!(next(&h), Reply::Loaded(_)));
    let mut ids = Vec::new();
    while let Ok(r) = h.replies.recv_timeout(Duration::from_millis(500)) {
        if let Reply::Images { id, grid, .. } = r {
            assert_eq!((grid.width, grid.height), (28, 28));
            ids.push(id);
        }
    }
    assert_eq!(ids.last(), Some(&50), "the newest request is answered");
    assert!(
        ids.len() <= 2,
        "stale requests were dropped, answered {ids:?}"
    );
}

#[test]
fn a_training_snapshot_generates_what_the_trainer_generates() {
    let config = super::tiny(ModelKind::Cmlp, Loss::Nonsat, 4);
    let training = TrainingHandle::spawn(None).expect("thread");
    training.send(Command::Start(Box::new(super::pattern_spec(config))));
    training.send(Command::Step(3));
    let z = noise::gaussian(5, 8);
    let label = noise::blended_label(4, 1, 2, 0.3);
    let mut trainer_grid = None;
    let mut snapshot = None;
    while snapshot.is_none() || trainer_grid.is_none() {
        match training
            .events
            .recv_timeout(Duration::from_secs(60))
            .expect("event")
        {
            Event::Paused { step: 3 } => {
                training.send(Command::Generate {
                    id: 1,
                    z: z.clone(),
                    labels: Some(label.clone()),
                    cols: 1,
                });
                training.send(Command::Snapshot);
            }
            Event::Generated { grid, .. } => trainer_grid = Some(grid),
            Event::Snapshot(s) => snapshot = Some(s),
            Event::Failed(e) => panic!("{e}"),
            _ => {}
        }
    }
    let snapshot = snapshot.expect("snapshot");
    assert_eq!(snapshot.step, 3);
    let h = ExplorerHandle::spawn(None).expect("thread");
    h.send(Request::LoadSnapshot(snapshot));
    match next(&h) {
        Reply::Loaded(info) => {
            assert_eq!(info.model.kind, ModelKind::Cmlp);
            assert_eq!(info.class_names[1], "v-bar");
        }
        other => panic!("{other:?}"),
    }
    h.send(generate(Tag::Explore, 1, z, Some(label)));
    match next(&h) {
        Reply::Images { grid, .. } => assert_eq!(Some(grid), trainer_grid),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_shipped_vae_encodes_data_into_its_2d_latent() {
    super::init();
    let h = ExplorerHandle::spawn(None).expect("thread");
    h.send(Request::LoadDir(shipped_dir("mnist-vae2d")));
    match next(&h) {
        Reply::Loaded(info) => {
            assert_eq!(info.model.latent_dim, 2);
            assert!(info.has_encoder);
        }
        other => panic!("{other:?}"),
    }
    // 2,000 of the 5,000 (class-sorted) digits: every class must still be there.
    h.send(Request::Encode {
        data: DataSource::Default,
        n: 2000,
    });
    match next(&h) {
        Reply::Encoded { points, labels } => {
            assert_eq!(points.len(), 2000);
            let mut seen = labels.clone();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 10, "every class is in the scatter");
            // Same-class points sit closer together than points in general.
            let mean = |sel: &dyn Fn(u8) -> bool| {
                let p: Vec<_> = points
                    .iter()
                    .zip(&labels)
                    .filter(|(_, l)| sel(**l))
                    .collect();
                let n = p.len() as f32;
                let cx = p.iter().map(|(q, _)| q[0]).sum::<f32>() / n;
                let cy = p.iter().map(|(q, _)| q[1]).sum::<f32>() / n;
                p.iter()
                    .map(|(q, _)| (q[0] - cx).hypot(q[1] - cy))
                    .sum::<f32>()
                    / n
            };
            let spread_all = mean(&|_| true);
            let spread_ones = mean(&|l| l == 1);
            assert!(spread_ones < spread_all, "{spread_ones} vs {spread_all}");
        }
        other => panic!("{other:?}"),
    }
    // An encoder request without a VAE loaded is a clear error, not a crash.
    h.send(Request::LoadDir(shipped_dir("mnist-cdcgan")));
    assert!(matches!(next(&h), Reply::Loaded(_)));
    h.send(Request::Encode {
        data: DataSource::Default,
        n: 10,
    });
    match next(&h) {
        Reply::Error(e) => assert!(e.contains("no encoder"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_checkpoint_is_an_error_reply() {
    super::init();
    let h = ExplorerHandle::spawn(None).expect("thread");
    let dir = super::tempdir();
    h.send(Request::LoadDir(dir.path().join("nope")));
    match next(&h) {
        Reply::Error(e) => assert!(e.contains("nope"), "{e}"),
        other => panic!("{other:?}"),
    }
    h.send(generate(Tag::Explore, 1, vec![0.0; 100], None));
    match next(&h) {
        Reply::Error(e) => assert!(e.contains("no model loaded"), "{e}"),
        other => panic!("{other:?}"),
    }
}
