//! Training through `latentlab serve` on loopback: a server on the CPU device, started by each
//! test as a child process with its own token file.

use super::{pattern_spec, patterns, tiny};
use latentlab::device::DeviceChoice;
use latentlab::model::ModelKind;
use latentlab::remote::{Address, RemoteError};
use latentlab::train::objective::Loss;
use latentlab::train::{Command as Cmd, Event, Trainer, TrainingHandle};
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "test-token-0123456789abcdef";

/// A `latentlab serve --device cpu` on a free loopback port; killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) address: String,
    pub(crate) token_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    pub(crate) fn start(max_sessions: usize) -> Self {
        Self::start_on(max_sessions, 0)
    }

    /// On `port` (0: a free one).
    pub(crate) fn start_on(max_sessions: usize, port: u16) -> Self {
        let max = max_sessions.to_string();
        Self::with_args(&["--port", &port.to_string(), "--max-sessions", &max])
    }

    /// `latentlab serve --device cpu` with `args` and a token file of its own.
    fn with_args(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_latentlab"))
            .args(["serve", "--device", "cpu"])
            .args(args)
            .arg("--token-file")
            .arg(&token_file)
            .env("HOME", dir.path())
            .env("RAYON_NUM_THREADS", "2")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("the server ended before printing its address");
            if let Some(a) = line.unwrap().strip_prefix("address: ") {
                break a.to_string();
            }
        };
        // Keep reading what it logs, so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            address,
            token_file,
            _dir: dir,
        }
    }

    fn addr(&self) -> Address {
        Address::parse(&self.address).unwrap()
    }

    /// The server's resident memory (kB), from /proc.
    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// The server's port.
    pub(crate) fn port(&self) -> u16 {
        self.address.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Kill it, as a crash would (no goodbye to its clients).
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn latentlab(args: &[&str], token_file: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(args)
        .arg("--token-file")
        .arg(token_file)
        .env_remove("LATENTLAB_TOKEN")
        .output()
        .unwrap()
}

/// `latentlab sample` of `n` images of the shipped DCGAN through `server`, written to `out`.
fn sample_through(server: &Server, n: usize, out: &Path) -> std::process::Output {
    latentlab(
        &[
            "sample",
            "--checkpoint",
            "mnist-dcgan",
            "--n",
            &n.to_string(),
            "--device",
            &format!("remote:{}", server.address),
            "--out",
            &out.display().to_string(),
            "--force",
        ],
        &server.token_file,
    )
}

/// The error of connecting to `server` with a token file (in `dir`) that holds the wrong token.
fn with_wrong_token(server: &Server, dir: &Path) -> RemoteError {
    let wrong = dir.join("wrong");
    std::fs::write(&wrong, "not-the-token-at-all-0000").unwrap();
    match latentlab::remote::connect(&server.addr(), Some(&wrong)) {
        Ok(_) => panic!("the wrong token was let in"),
        Err(e) => e,
    }
}

/// `device` computes: [1, 2] * 2 read back.
fn assert_computes(device: &burn::tensor::Device) {
    let t = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0], device) * 2.0;
    assert_eq!(
        t.try_into_data().unwrap().try_to_vec::<f32>().unwrap(),
        vec![2.0, 4.0]
    );
}

/// Losses of 20 steps of a tiny DCGAN on `device`.
fn losses(device: &burn::tensor::Device) -> (Vec<(f32, f32)>, Trainer) {
    let mut config = tiny(ModelKind::Dcgan, Loss::Nonsat, 4);
    config.seed = 3;
    let mut t = Trainer::new(config, Arc::new(patterns(8)), "patterns".into(), device).unwrap();
    let l = (0..20)
        .map(|_| {
            let m = t.step().unwrap();
            (m.loss_d, m.loss_g)
        })
        .collect();
    (l, t)
}

#[test]
fn remote_training_matches_local_training_and_its_run_saves_and_loads() {
    let server = Server::start(4);
    let device = latentlab::remote::connect(&server.addr(), Some(&server.token_file)).unwrap();
    let (remote, t) = losses(&device);
    // The same operations on burn flex here: latentlab's own CPU kernels, which a remote
    // device cannot run, are off on this thread.
    let _plain = latentlab::model::cpu_kernels::Scope::set(false);
    let (local, _) = losses(&burn::tensor::Device::flex());
    // Not bit for bit: the server runs burn's own operations as the IR sends them, and its
    // float sums may be grouped differently from the same operations run here (measured: a
    // relative difference under 1e-6 after 20 steps, the last digit of an f32).
    assert_eq!(remote.len(), local.len());
    for (step, (r, l)) in remote.iter().zip(&local).enumerate() {
        for (a, b) in [(r.0, l.0), (r.1, l.1)] {
            let rel = (a - b).abs() / b.abs().max(1e-6);
            assert!(rel < 1e-5, "step {step}: remote {r:?}, local {l:?}");
        }
    }
    assert_ne!(remote[0], remote[19], "the losses moved");
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    t.save(&run).unwrap();
    let flex = burn::tensor::Device::flex();
    let (manifest, g) =
        latentlab::checkpoint::load_generator(&run, &flex).expect("the remote run loads");
    assert_eq!(manifest.step, 20);
    let z = vec![0.1f32; 8];
    let here =
        latentlab::model::inference::generate_with(&g, manifest.model(), &flex, &z, None).unwrap();
    let there = t.generate(&z, None).unwrap();
    assert_eq!(
        here, there,
        "the saved generator draws what the remote one drew"
    );
}

#[test]
fn a_wrong_token_is_refused_by_name_and_the_server_goes_on() {
    let mut server = Server::start(4);
    let dir = tempfile::tempdir().unwrap();
    match with_wrong_token(&server, dir.path()) {
        RemoteError::Unauthorized { address } => assert_eq!(address, server.address),
        e => panic!("expected Unauthorized, got {e}"),
    }
    let short = dir.path().join("short");
    std::fs::write(&short, "abc").unwrap();
    let e = latentlab::remote::connect(&server.addr(), Some(&short))
        .err()
        .unwrap();
    assert!(e.to_string().contains("at least 16"), "{e}");
    assert!(server.alive());
}

#[test]
fn garbage_on_the_port_leaves_the_server_serving() {
    let mut server = Server::start(4);
    let host = server.address.trim_start_matches("ws://").to_string();
    for garbage in [
        &b"\x00\xff\x13garbage\r\n\r\n"[..],
        b"GET /session HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
        &[0xAB; 70_000][..],
    ] {
        let mut s = std::net::TcpStream::connect(&host).unwrap();
        let _ = s.write_all(garbage);
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.read(&mut [0u8; 256]);
    }
    assert!(server.alive(), "the server died of garbage");
    let png = std::env::temp_dir().join(format!("ll-garbage-{}.png", std::process::id()));
    let out = sample_through(&server, 4, &png);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn connect_disconnect_cycles_leave_the_server_memory_flat_and_sessions_are_limited() {
    let server = Server::start(1);
    let out_png = std::env::temp_dir().join(format!("ll-cycle-{}.png", std::process::id()));
    let cycle = || {
        let out = sample_through(&server, 16, &out_png);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Memory first climbs to the allocator's high-water mark (measured: flat from the 20th
    // session to the 80th); the allocator gives memory back a second after it is freed.
    let settle = || std::thread::sleep(Duration::from_millis(1500));
    for _ in 0..20 {
        cycle();
    }
    settle();
    let before = server.rss_kb();
    for _ in 0..20 {
        cycle();
    }
    settle();
    let after = server.rss_kb();
    // Allocator slack, not sessions: one session holds the DCGAN's 3.6 MB of weights, so 20
    // leaked sessions would add over 70 MB. Measured: within 3 MB.
    assert!(
        after < before + 16 * 1024,
        "server memory grew from {before} kB to {after} kB over 20 sessions"
    );
    // One session at a time: a second client is refused while the first holds its place.
    let t0 = Instant::now();
    let first = loop {
        match latentlab::remote::connect(&server.addr(), Some(&server.token_file)) {
            Ok(d) => break d,
            Err(e) => {
                assert!(t0.elapsed() < Duration::from_secs(90), "{e}");
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    };
    eprintln!("ELAPSED {:?}", t0.elapsed());
    let started = Instant::now();
    let out = sample_through(&server, 1, &out_png);
    assert!(!out.status.success(), "a second session got in");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at its --max-sessions"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    drop(first);
}

#[test]
fn a_server_killed_mid_run_exits_4_and_keeps_the_last_checkpoint() {
    let mut server = Server::start(4);
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut train = Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args([
            "train",
            "--model",
            "mlp",
            "--width",
            "32",
            "--latent",
            "8",
            "--batch",
            "16",
            "--steps",
            "1000000",
            "--save-every",
            "10",
            "--sample-every",
            "0",
            "--device",
        ])
        .arg(format!("remote:{}", server.address))
        .arg("--token-file")
        .arg(&server.token_file)
        .arg("--out")
        .arg(&run)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !run.join("manifest.json").is_file() {
        assert!(Instant::now() < deadline, "no save within 120 s");
        assert!(train.try_wait().unwrap().is_none(), "train ended early");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = server.child.kill();
    let _ = server.child.wait();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = train.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = train.kill();
            panic!("train did not end within 60 s of losing its server");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    train
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(4), "{err}");
    assert!(
        err.contains(&server.address),
        "the message names the server: {err}"
    );
    let (manifest, _) = latentlab::checkpoint::load_generator(&run, &burn::tensor::Device::flex())
        .expect("the last checkpoint is intact");
    // A save asked for at step 10 lands between that step and the next few.
    assert!(manifest.step >= 10, "step {}", manifest.step);
    let text = std::fs::read_to_string(run.join("manifest.json")).unwrap();
    assert!(!text.contains(TOKEN), "the token is never written to a run");
    // The server is back (here: a new one); --resume continues from the checkpoint.
    let back = Server::start(4);
    let out = latentlab(
        &[
            "train",
            "--resume",
            "--steps",
            "5",
            "--sample-every",
            "0",
            "--device",
            &format!("remote:{}", back.address),
            "--out",
            &run.display().to_string(),
        ],
        &back.token_file,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resumed = latentlab::checkpoint::read_manifest(&run).unwrap();
    assert_eq!(resumed.step, manifest.step + 5);
}

#[test]
fn a_client_that_vanishes_mid_step_leaves_the_server_serving() {
    let mut server = Server::start(4);
    let dir = tempfile::tempdir().unwrap();
    let mut train = Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args([
            "train", "--model", "dcgan", "--width", "8", "--steps", "1000000",
        ])
        .args(["--sample-every", "0", "--device"])
        .arg(format!("remote:{}", server.address))
        .arg("--token-file")
        .arg(&server.token_file)
        .arg("--out")
        .arg(dir.path().join("run"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(train.stderr.take().unwrap()).lines();
    // Started: it printed the model line, so its session is open and stepping.
    while let Some(Ok(l)) = lines.next() {
        if l.starts_with("model:") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    train.kill().unwrap(); // SIGKILL: no goodbye, mid-step
    train.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.alive(), "the server died with its client");
    let device = latentlab::remote::connect(&server.addr(), Some(&server.token_file)).unwrap();
    assert_computes(&device);
}

/// The next event `want` accepts within 60 s, failing on a `Failed` one.
fn wait_for(h: &TrainingHandle, what: &str, mut want: impl FnMut(&Event) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match h.events.recv_timeout(left) {
            Ok(e) if want(&e) => return,
            Ok(Event::Failed(text)) => panic!("failed while waiting for {what}: {text}"),
            Ok(_) => {}
            Err(_) => panic!("no {what} within 60 s"),
        }
    }
}

#[test]
fn after_losing_its_server_the_app_trains_on_it_again_without_a_restart() {
    let mut server = Server::start(4);
    let port = server.port();
    let mut spec = pattern_spec(tiny(ModelKind::Mlp, Loss::Nonsat, 4));
    spec.device = DeviceChoice::Remote(server.address.clone());
    spec.token_file = Some(server.token_file.clone());
    spec.autostart = true;
    let h = TrainingHandle::spawn(None).expect("spawn");
    h.send(Cmd::Start(Box::new(spec.clone())));
    wait_for(&h, "a step on the first server", |e| {
        matches!(e, Event::Step(_))
    });
    let _ = server.child.kill();
    let _ = server.child.wait();
    let address = server.address.clone();
    wait_for(
        &h,
        "the lost server's message",
        |e| matches!(e, Event::RemoteLost { server, .. } if *server == address),
    );
    // The server is back at the same address: Start reaches it from the same process.
    let _back = Server::start_on(4, port);
    h.send(Cmd::Start(Box::new(spec)));
    let mut steps = 0;
    wait_for(&h, "steps on the server that came back", |e| {
        if matches!(e, Event::RemoteLost { .. }) {
            panic!("the session with the old server was reused: {e:?}");
        }
        steps += matches!(e, Event::Step(_)) as usize;
        steps >= 3
    });
}

#[test]
fn iroh_without_relays_serves_over_loopback_refuses_a_wrong_token_and_limits_sessions() {
    // A UDP port free a moment ago (Iroh binds it itself).
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .unwrap()
        .port();
    let port = port.to_string();
    let mut server = Server::with_args(&[
        "--transport",
        "iroh",
        "--relays",
        "disabled",
        "--max-sessions",
        "1",
        "--port",
        &port,
    ]);
    assert!(
        server.address.starts_with("iroh:")
            && server.address.ends_with(&format!("@127.0.0.1:{port}")),
        "{}",
        server.address
    );
    let dir = tempfile::tempdir().unwrap();
    match with_wrong_token(&server, dir.path()) {
        RemoteError::Refused { address } => assert_eq!(address, server.address),
        e => panic!("expected Refused, got {e}"),
    }
    // The wrong token took no place: the right one gets the only session, and it computes.
    let first = latentlab::remote::connect(&server.addr(), Some(&server.token_file)).unwrap();
    assert_computes(&first);
    // One session at a time: while this process holds it, another client is refused. (A
    // client that ends holds its place until Iroh sees it gone: measured 30 s.)
    let png = dir.path().join("iroh.png");
    let out = sample_through(&server, 1, &png);
    assert!(!out.status.success(), "a second session got in");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--max-sessions"), "{err}");
    assert!(server.alive());
}

#[test]
fn bad_iroh_relay_settings_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    for (relays, port, expect) in [
        ("disabled", "0", "needs a fixed --port"),
        (
            "not a relay",
            "0",
            "--relays not a relay: expected public, disabled or a relay's URL",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_latentlab"))
            .args([
                "serve",
                "--device",
                "cpu",
                "--transport",
                "iroh",
                "--relays",
                relays,
            ])
            .args(["--port", port, "--token-file"])
            .arg(&token)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expect),
            "{relays}: {err}"
        );
    }
}
