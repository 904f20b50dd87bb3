//! Boltzmann machines: contrastive divergence learns, free energy is right, Gibbs chains visit
//! what was learned, a DBN's greedy phases touch one layer each, runs round-trip, and the CLI
//! trains, samples and describes them.

use crate::{patterns, tempdir, tiny};
use burn::prelude::*;
use latentlab::model::boltzmann::{BoltzmannNet, Chain, Clamp, Coins, RbmLayer};
use latentlab::model::{Generator, ModelKind, readback};
use latentlab::train::Trainer;
use latentlab::train::objective::Loss;
use latentlab::types::config::{CdConfig, TrainConfig};
use std::sync::Arc;

/// A tiny Boltzmann machine's run on the four patterns.
fn config(kind: ModelKind, layers: &[usize]) -> TrainConfig {
    let mut c = tiny(kind, Loss::Nonsat, 4);
    c.model.layers = layers.to_vec();
    c.model.latent_dim = 784;
    c.lr_g = 0.1;
    c.batch = 16;
    let cd = CdConfig {
        layer_steps: 5,
        chains: 16,
        ..CdConfig::default()
    };
    c.cd = Some(cd);
    c
}

fn trainer(c: TrainConfig, copies: usize) -> Trainer {
    Trainer::new(
        c,
        Arc::new(patterns(copies)),
        "patterns".into(),
        &Device::flex(),
    )
    .expect("trainer")
}

fn net(t: &Trainer) -> BoltzmannNet {
    match t.generator() {
        Generator::Boltzmann(n) => n,
        _ => panic!("not a Boltzmann machine"),
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    readback(t).expect("read back")
}

fn layer_values(l: &RbmLayer) -> Vec<f32> {
    [values(l.w.val()), values(l.vb.val()), values(l.hb.val())].concat()
}

/// Four 10x10 blocks, one per quadrant: patterns of equal size, so no one of them is favoured
/// by its pixel count alone; `copies` of each, labelled 0-3.
fn quadrants(copies: usize) -> latentlab::data::Dataset {
    let mut d = patterns(copies);
    for (i, img) in d.images.chunks_mut(784).enumerate() {
        let q = i % 4;
        let (y0, x0) = (2 + 14 * (q / 2), 2 + 14 * (q % 2));
        for (p, px) in img.iter_mut().enumerate() {
            let (y, x) = (p / 28, p % 28);
            let inside = (y0..y0 + 10).contains(&y) && (x0..x0 + 10).contains(&x);
            *px = if inside { 255 } else { 0 };
        }
    }
    d
}

/// The quadrant patterns as 0/1 pixels.
fn binary_quadrants() -> Vec<Vec<f32>> {
    let d = quadrants(1);
    (0..4)
        .map(|i| {
            d.image(i)
                .iter()
                .map(|&p| if p > 127 { 1.0 } else { 0.0 })
                .collect()
        })
        .collect()
}

#[test]
fn cd1_learns_to_reconstruct_binary_patterns() {
    let mut c = config(ModelKind::Rbm, &[16]);
    c.cd.as_mut().unwrap().persistent = false;
    let mut t = trainer(c, 16);
    let first = t.step().expect("step").loss_d;
    let mut last = Vec::new();
    for _ in 0..300 {
        last.push(t.step().expect("step").loss_d);
    }
    let recent = last[last.len() - 20..].iter().sum::<f32>() / 20.0;
    // A pattern covers 64 or 224 of 784 pixels; untrained reconstructions sit near 0.25.
    assert!(first > 0.2, "untrained error already low: {first}");
    assert!(
        recent < 0.01,
        "CD-1 reconstruction error after 300 updates: {recent} (from {first})"
    );
}

/// The 2x2 layer worked by hand: W = [[1, -1], [0.5, 2]] (visible x hidden),
/// b_v = [0.1, -0.2], b_h = [0.3, -0.4].
fn hand_layer(device: &Device) -> RbmLayer {
    let t1 = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [2]), device);
    RbmLayer::from_tensors(
        Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, -1.0, 0.5, 2.0], [2, 2]),
            device,
        ),
        t1(vec![0.1, -0.2]),
        t1(vec![0.3, -0.4]),
    )
}

#[test]
fn free_energy_matches_a_hand_worked_2x2_case() {
    crate::init();
    let device = Device::flex();
    let layer = hand_layer(&device);
    let v = Tensor::<2>::from_data(
        TensorData::new(vec![0.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0], [4, 2]),
        &device,
    );
    let f = values(layer.free_energy(v));
    // By hand, F(v) = -v·b_v - Σ_j ln(1 + exp(b_h,j + Σ_i v_i W_ij)):
    // v=00:  0    - ln(1+e^0.3) - ln(1+e^-0.4) =  0   - 0.8544 - 0.5130 = -1.3674
    // v=10: -0.1  - ln(1+e^1.3) - ln(1+e^-1.4) = -0.1 - 1.5410 - 0.2204 = -1.8614
    // v=01: +0.2  - ln(1+e^0.8) - ln(1+e^1.6)  =  0.2 - 1.1711 - 1.7839 = -2.7550
    // v=11: +0.1  - ln(1+e^1.8) - ln(1+e^0.6)  =  0.1 - 1.9530 - 1.0375 = -2.8905
    let hand = [-1.3674f32, -1.8614, -2.7550, -2.8905];
    for (got, want) in f.iter().zip(hand) {
        assert!(
            (got - want).abs() < 2e-4,
            "free energies {f:?}, by hand {hand:?}"
        );
    }
    // And exp(-F(v)) is the sum over h of exp(-E(v, h)), summed by brute force.
    let (w, bv, bh) = ([[1.0f64, -1.0], [0.5, 2.0]], [0.1f64, -0.2], [0.3f64, -0.4]);
    for (k, vis) in [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
        .iter()
        .enumerate()
    {
        let mut z = 0.0;
        for h in [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]] {
            let mut e = -(vis[0] * bv[0] + vis[1] * bv[1]) - (h[0] * bh[0] + h[1] * bh[1]);
            for i in 0..2 {
                for j in 0..2 {
                    e -= vis[i] * w[i][j] * h[j];
                }
            }
            z += (-e).exp();
        }
        let brute = -z.ln();
        assert!(
            (f[k] as f64 - brute).abs() < 1e-4,
            "v{k}: {} vs {brute}",
            f[k]
        );
    }
}

#[test]
fn gibbs_chains_of_a_trained_rbm_visit_the_patterns() {
    // CD-1 on four equal-sized blocks. Chains start from the blocks with a tenth of the pixels
    // flipped (78 wrong pixels against 100 right ones) and run 200 sweeps; what they visit
    // is recorded every 10 sweeps after 50 of burn-in. (Hopping between such separate modes
    // takes far longer than a test may run, so the chains do not start from pure noise.)
    let mut c = config(ModelKind::Rbm, &[16]);
    c.cd.as_mut().unwrap().persistent = false;
    let data = Arc::new(quadrants(16));
    let mut t = Trainer::new(c, data, "quadrants".into(), &Device::flex()).expect("trainer");
    for _ in 0..300 {
        t.step().expect("step");
    }
    let net = net(&t);
    let device = Device::flex();
    let pats = binary_quadrants();
    let per = 16;
    let mut start = Vec::new();
    let mut rng = latentlab::types::noise::gaussian(3, 4 * per * 784).into_iter();
    for p in &pats {
        for _ in 0..per {
            // Flip a pixel when its Gaussian draw is beyond 1.645 sigma (a 10% chance).
            start.extend(p.iter().map(|&x| {
                let flip = rng.next().unwrap_or(0.0).abs() > 1.645;
                if flip { 1.0 - x } else { x }
            }));
        }
    }
    let v = Tensor::<2>::from_data(TensorData::new(start, [4 * per, 784]), &device);
    let mut coins = Coins::new(7);
    let free = Clamp::default();
    let started = net.start(v, &free, &mut coins);
    let mut chain: Chain = net.gibbs(started, 50, &free, &mut coins);
    let mut visited = [0usize; 4];
    let mut near = 0;
    let mut seen = 0;
    for _ in 0..15 {
        chain = net.gibbs(chain, 10, &free, &mut coins);
        let states: Vec<f32> = values(net.observe(&chain, &Clamp::default()).1)
            .into_iter()
            .map(|p| if p > 0.5 { 1.0 } else { 0.0 })
            .collect();
        for s in states.chunks(784) {
            seen += 1;
            let (best, dist) = pats
                .iter()
                .enumerate()
                .map(|(i, p)| (i, p.iter().zip(s).filter(|(a, b)| a != b).count()))
                .min_by_key(|x| x.1)
                .unwrap();
            // Within 2% of the pixels of a training pattern.
            if dist <= 16 {
                near += 1;
                visited[best] += 1;
            }
        }
    }
    assert!(
        near >= seen * 9 / 10,
        "{near} of {seen} chain states near a pattern ({visited:?})"
    );
    assert!(
        visited.iter().all(|&v| v >= seen / 10),
        "the chains visit only some patterns: {visited:?}"
    );
}

#[test]
fn dbn_greedy_training_updates_only_the_layer_being_trained() {
    let mut t = trainer(config(ModelKind::Dbn, &[16, 8]), 8);
    let snap = |t: &Trainer| -> Vec<Vec<f32>> { net(t).layers.iter().map(layer_values).collect() };
    let start = snap(&t);
    for _ in 0..5 {
        assert_eq!(t.step().expect("step").layer, Some(0));
    }
    let after_first = snap(&t);
    assert_ne!(
        start[0], after_first[0],
        "layer 0 did not learn in its phase"
    );
    assert_eq!(
        start[1], after_first[1],
        "layer 1 changed while layer 0 trained"
    );
    for _ in 0..5 {
        assert_eq!(t.step().expect("step").layer, Some(1));
    }
    let after_second = snap(&t);
    assert_eq!(
        after_first[0], after_second[0],
        "layer 0 changed in layer 1's phase"
    );
    assert_ne!(
        after_first[1], after_second[1],
        "layer 1 did not learn in its phase"
    );
}

#[test]
fn boltzmann_runs_round_trip_and_resume() {
    for (kind, layers, steps) in [
        (ModelKind::Rbm, vec![12], 7),
        (ModelKind::Dbn, vec![12, 6], 7),
        // Past both pre-training phases: the joint phase's chains are saved too.
        (ModelKind::Dbm, vec![12, 6], 13),
    ] {
        let mut c = config(kind, &layers);
        c.cd.as_mut().unwrap().persistent = true;
        let mut t = trainer(c.clone(), 8);
        let mut unbroken = trainer(c, 8);
        for _ in 0..steps {
            t.step().expect("step");
            unbroken.step().expect("step");
        }
        // The sample grid: the persistent chains' pictures (or fresh chains), one per slot.
        let samples = t.samples().expect("samples");
        assert_eq!(samples.len(), t.config.sample_count * 784, "{kind:?}");
        assert!(samples.iter().all(|v| (-1.0..=1.0).contains(v)), "{kind:?}");
        let dir = tempdir();
        let run = dir.path().join("run");
        t.save(&run).expect("save");
        let saved: Vec<Vec<f32>> = net(&t).layers.iter().map(layer_values).collect();
        let (manifest, g) =
            latentlab::checkpoint::load_generator(&run, &Device::flex()).expect("load");
        let Generator::Boltzmann(loaded) = g else {
            panic!("{kind:?} loaded as another family")
        };
        let back: Vec<Vec<f32>> = loaded.layers.iter().map(layer_values).collect();
        assert_eq!(saved, back, "{kind:?}: weights changed in the round trip");
        assert_eq!(manifest.train.model.layers, layers);
        let mut r = Trainer::resume(
            &run,
            Arc::new(patterns(8)),
            "patterns".into(),
            &Device::flex(),
        )
        .expect("resume");
        assert_eq!(r.step, steps as u64);
        // Momentum, persistent chains and coin flips all carry over: the same update, bit for bit.
        let m = same_next_step(&mut r, &mut unbroken, &format!("{kind:?}"));
        let joint = kind == ModelKind::Dbm;
        assert_eq!(
            m.layer,
            Some(if joint {
                2
            } else {
                1.min(layers.len() as u32 - 1)
            })
        );
    }
}

/// One step of a resumed run and of an unbroken one: the same losses, bit for bit.
fn same_next_step(
    resumed: &mut Trainer,
    unbroken: &mut Trainer,
    what: &str,
) -> latentlab::train::StepMetrics {
    let m = resumed.step().expect("a step after resuming");
    let u = unbroken.step().expect("the unbroken run's step");
    assert_eq!(
        (m.loss_d.to_bits(), m.loss_g.to_bits()),
        (u.loss_d.to_bits(), u.loss_g.to_bits()),
        "{what}: resumed {m:?} vs unbroken {u:?}"
    );
    m
}

#[test]
fn a_dbn_with_labels_samples_the_clamped_class() {
    // Four labelled blocks; the top RBM learns which label goes with which.
    // CD-1, 200 updates per lower layer, 400 for the top one. Training draws are seeded, so
    // this run is the same every time; of seeds 0-7, six pass this bar and in the other two
    // one class never shows (its chains stay in a neighbouring mode).
    let mut c = config(ModelKind::Dbn, &[64, 64]);
    c.model.num_classes = 4;
    c.cd.as_mut().unwrap().layer_steps = 200;
    let data = Arc::new(quadrants(16));
    let mut t = Trainer::new(c, data, "quadrants".into(), &Device::flex()).expect("trainer");
    for _ in 0..600 {
        t.step().expect("step");
    }
    let g = t.generator();
    let Generator::Boltzmann(net) = g else {
        panic!()
    };
    let g = Generator::Boltzmann(net.with_gibbs(100));
    let pats: Vec<Vec<f32>> = binary_quadrants()
        .into_iter()
        .map(|p| p.into_iter().map(|x| 2.0 * x - 1.0).collect())
        .collect();
    let mut right = 0;
    let mut table = [[0usize; 4]; 4];
    let n = 16;
    for class in 0..4u8 {
        let z = latentlab::types::noise::gaussian(class as u64, n * 784);
        let labels = latentlab::types::noise::one_hot(&vec![class; n], 4);
        let out = latentlab::model::generate_with(
            &g,
            &t.config.model,
            &Device::flex(),
            &z,
            Some(&labels),
        )
        .expect("generate");
        for s in out.chunks(784) {
            let nearest = (0..4)
                .min_by(|&a, &b| {
                    let d =
                        |p: &Vec<f32>| p.iter().zip(s).map(|(x, y)| (x - y).powi(2)).sum::<f32>();
                    d(&pats[a]).total_cmp(&d(&pats[b]))
                })
                .unwrap();
            right += usize::from(nearest == class as usize);
            table[class as usize][nearest] += 1;
        }
    }
    // Chance is a quarter. The chains do not always leave the mode they fall into first, so
    // the bar is half, and every class must show up when clamped.
    assert!(
        right >= 4 * n / 2 && (0..4).all(|c| table[c][c] > 0),
        "{right} of {} samples show their clamped class (rows: clamped, columns: shown: {table:?})",
        4 * n
    );
}

#[test]
fn restarted_and_label_holding_chains_resume_bit_exactly_and_change_the_update() {
    // A labelled DBN past its first phase, whose top-layer chains hold their classes and are
    // restarted from noise three at a time (16 chains: the window wraps within the run).
    let mut c = config(ModelKind::Dbn, &[12, 6]);
    c.model.num_classes = 4;
    {
        let cd = c.cd.as_mut().unwrap();
        cd.persistent = true;
        cd.restarts = 3;
        cd.label_chains = true;
    }
    let data = || Arc::new(quadrants(8));
    let new = |c: TrainConfig| Trainer::new(c, data(), "quadrants".into(), &Device::flex());
    let steps = 11;
    // The top layer after `steps` updates with these two settings.
    let top_after = |restarts: usize, label_chains: bool| {
        let mut c = c.clone();
        let cd = c.cd.as_mut().unwrap();
        (cd.restarts, cd.label_chains) = (restarts, label_chains);
        let mut t = new(c).expect("trainer");
        for _ in 0..steps {
            t.step().expect("step");
        }
        layer_values(&net(&t).layers[1])
    };
    let plain = top_after(0, false);
    assert_ne!(
        top_after(3, false),
        plain,
        "restarts left the updates unchanged"
    );
    assert_ne!(
        top_after(0, true),
        plain,
        "label chains left the updates unchanged"
    );
    let (mut t, mut unbroken) = (new(c.clone()).expect("trainer"), new(c).expect("trainer"));
    for _ in 0..steps {
        t.step().expect("step");
        unbroken.step().expect("step");
    }
    let dir = tempdir();
    let run = dir.path().join("run");
    t.save(&run).expect("save");
    let mut r = Trainer::resume(&run, data(), "quadrants".into(), &Device::flex()).expect("resume");
    for _ in 0..6 {
        same_next_step(&mut r, &mut unbroken, "restarted, label-holding chains");
    }
    assert_eq!(r.config.cd, unbroken.config.cd);
}

#[test]
fn label_holding_chains_draw_their_own_class() {
    // With --label-chains, persistent chain j of the top layer holds class j mod 4, so the
    // pictures of the chains (the Train tab's grid) follow their classes.
    let mut c = config(ModelKind::Dbn, &[64, 64]);
    c.model.num_classes = 4;
    {
        let cd = c.cd.as_mut().unwrap();
        cd.layer_steps = 200;
        cd.persistent = true;
        cd.label_chains = true;
    }
    c.sample_count = 16;
    let mut t = Trainer::new(
        c,
        Arc::new(quadrants(16)),
        "quadrants".into(),
        &Device::flex(),
    )
    .expect("trainer");
    for _ in 0..500 {
        t.step().expect("step");
    }
    let pats = binary_quadrants();
    let shown = t.samples().expect("samples");
    let right = shown
        .chunks(784)
        .enumerate()
        .filter(|(j, s)| {
            let d = |p: &Vec<f32>| {
                p.iter()
                    .zip(s.iter())
                    .map(|(x, y)| (2.0 * x - 1.0 - y).powi(2))
                    .sum::<f32>()
            };
            (0..4).min_by(|&a, &b| d(&pats[a]).total_cmp(&d(&pats[b]))) == Some(j % 4)
        })
        .count();
    assert!(right >= 14, "{right} of 16 chains show the class they hold");
}

#[test]
fn bad_boltzmann_configs_give_named_errors() {
    use latentlab::model::ModelError;
    let mut c = config(ModelKind::Rbm, &[16, 8]);
    assert!(matches!(c.model.validate(), Err(ModelError::Layers { .. })));
    c = config(ModelKind::Dbm, &[16]);
    assert!(matches!(c.model.validate(), Err(ModelError::Layers { .. })));
    c = config(ModelKind::Rbm, &[16]);
    c.model.num_classes = 10;
    assert!(matches!(
        c.model.validate(),
        Err(ModelError::UnexpectedLabels { .. })
    ));
    c = config(ModelKind::Rbm, &[16]);
    c.model.latent_dim = 100;
    assert!(matches!(
        c.model.validate(),
        Err(ModelError::BoltzmannLatent(100))
    ));
    let mut gan = tiny(ModelKind::Dcgan, Loss::Nonsat, 0);
    gan.model.layers = vec![5];
    assert!(matches!(
        gan.model.validate(),
        Err(ModelError::LayersNotBoltzmann { .. })
    ));
}

#[test]
fn gibbs_sampling_matches_the_exact_distribution_of_a_2x2_rbm() {
    crate::init();
    let device = Device::flex();
    let layer = hand_layer(&device);
    let f = values(layer.free_energy(Tensor::<2>::from_data(
        TensorData::new(vec![0.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0], [4, 2]),
        &device,
    )));
    let z: f32 = f.iter().map(|f| (-f).exp()).sum();
    let exact: Vec<f32> = f.iter().map(|f| (-f).exp() / z).collect();
    let net = BoltzmannNet {
        layers: vec![layer],
        kind: ModelKind::Rbm,
        classes: 0,
        gibbs: 1,
        seed: 0,
    };
    let n = 4000;
    let v = Tensor::<2>::zeros([n, 2], &device);
    let mut coins = Coins::new(11);
    let chain = net.start(v, &Clamp::default(), &mut coins);
    let chain = net.gibbs(chain, 50, &Clamp::default(), &mut coins);
    let states = values(chain.units[0].clone());
    let mut counts = [0usize; 4];
    for s in states.chunks(2) {
        counts[(s[0] as usize) + 2 * (s[1] as usize)] += 1;
    }
    for k in 0..4 {
        let p = counts[k] as f32 / n as f32;
        assert!(
            (p - exact[k]).abs() < 0.03,
            "state {k}: sampled {p:.3}, exact {:.3} ({counts:?} vs {exact:?})",
            exact[k]
        );
    }
}

#[test]
fn boltzmann_machines_train_on_every_class_of_a_class_sorted_set() {
    // The embedded digits are sorted by class: holding out the last tenth held out every 9.
    let data = latentlab::data::DataSource::Default
        .load(28)
        .expect("embedded digits");
    assert_eq!(
        data.labels.last(),
        Some(&9),
        "the set is still sorted by class"
    );
    for kind in [ModelKind::Rbm, ModelKind::Dbn] {
        let layers: &[usize] = if kind == ModelKind::Rbm {
            &[16]
        } else {
            &[16, 16]
        };
        let mut c = config(kind, layers);
        c.model.num_classes = if kind == ModelKind::Dbn { 10 } else { 0 };
        let t = Trainer::new(c, Arc::new(data.clone()), "default".into(), &Device::flex())
            .expect("trainer");
        let idx = t.training_indices();
        let mut per_class = [0usize; 10];
        for &i in &idx {
            per_class[data.labels[i] as usize] += 1;
        }
        // 4,500 of 5,000 train (500 held out, spread), 450 of each class.
        assert_eq!(idx.len(), 4500, "{kind:?}");
        assert!(
            per_class.iter().all(|&n| n == 450),
            "{kind:?}: {per_class:?}"
        );
    }
}
