//! The training session: a named background thread that owns the trainer and answers typed
//! commands between steps, reporting typed events. Only plain data crosses the boundary.

use super::Trainer;
use super::messages::{Command, Event, GeneratorSnapshot, RunSpec, SCORE_IMAGES, kept_text};
use crate::checkpoint::lease::{self, Lease};
use crate::checkpoint::replace::{self, Seen};
use crate::device;
use crate::threads::{DROP_WAIT, Notify, Outbox, Thread};
use crate::types::grid;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

/// Where a crashed run without an output directory is saved.
fn emergency_dir() -> Option<PathBuf> {
    crate::checkpoint::recovery_dir().map(|d| crate::checkpoint::recovered_run(&d))
}

/// The owner's end of a session: send commands, drain events.
pub struct TrainingHandle {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    thread: Thread,
}

impl TrainingHandle {
    /// Start the session thread. `notify` runs after every event (the UI passes
    /// `ctx.request_repaint`).
    pub fn spawn(notify: Option<Notify>) -> std::io::Result<Self> {
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let thread = Thread::spawn("latentlab-training", move || {
            Session::new(cmd_rx, Outbox::new(ev_tx, notify)).run();
        })?;
        Ok(Self {
            commands: cmd_tx,
            events: ev_rx,
            thread,
        })
    }

    /// Send a command; false when the thread is gone.
    pub fn send(&self, c: Command) -> bool {
        self.commands.send(c).is_ok()
    }

    /// Ask the thread to end and wait for it.
    pub fn shutdown(mut self) {
        self.shutdown_within(Duration::MAX);
    }

    /// Ask the thread to end (after the step or save under way) and wait at most `limit`;
    /// false when it was still busy (it then ends on its own, unobserved).
    pub fn shutdown_within(&mut self, limit: Duration) -> bool {
        let _ = self.commands.send(Command::Shutdown);
        self.thread.join_within(limit)
    }
}

impl Drop for TrainingHandle {
    fn drop(&mut self) {
        self.shutdown_within(DROP_WAIT);
    }
}

struct Session {
    commands: Receiver<Command>,
    out: Outbox<Event>,
    trainer: Option<Trainer>,
    spec: Option<RunSpec>,
    meter: Option<crate::quality::Meter>,
    running: bool,
    pending_steps: u64,
    shutdown: bool,
    /// The step whose loss became non-finite; the trainer's state is not good since.
    diverged: Option<u64>,
    /// The step of the last checkpoint known to be good (saved or resumed from).
    last_good_step: Option<u64>,
    /// What this run last read or wrote at each directory it saves to: a save refuses to
    /// replace a directory that changed since (another process saved there).
    seen: HashMap<PathBuf, Seen>,
    /// This run's claims on the directories it saves to (see [`lease`]).
    leases: HashMap<PathBuf, Lease>,
    /// The mode-collapse alarm of the run.
    collapse: crate::quality::collapse::CollapseWatch,
    /// The server of the run's remote device, if it has one.
    remote: Option<String>,
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Session {
    fn new(commands: Receiver<Command>, out: Outbox<Event>) -> Self {
        Self {
            commands,
            out,
            trainer: None,
            spec: None,
            meter: None,
            running: false,
            pending_steps: 0,
            shutdown: false,
            diverged: None,
            last_good_step: None,
            seen: HashMap::new(),
            leases: HashMap::new(),
            collapse: Default::default(),
            remote: None,
        }
    }

    fn active(&self) -> bool {
        self.trainer.is_some() && (self.running || self.pending_steps > 0)
    }

    fn run(&mut self) {
        while !self.shutdown {
            // Block while idle; between steps only look.
            let next = if self.active() {
                match self.commands.try_recv() {
                    Ok(c) => Some(c),
                    Err(mpsc::TryRecvError::Empty) => None,
                    Err(mpsc::TryRecvError::Disconnected) => Some(Command::Shutdown),
                }
            } else {
                Some(self.commands.recv().unwrap_or(Command::Shutdown))
            };
            if let Some(c) = next {
                let r = std::panic::catch_unwind(AssertUnwindSafe(|| self.handle(c)));
                if let Err(p) = r {
                    self.crashed(panic_text(p));
                }
                continue;
            }
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| self.one_step()));
            if let Err(p) = r {
                self.crashed(panic_text(p));
            }
        }
    }

    /// A panic inside the thread: save what there is (an emergency save, never over good
    /// state with bad), then report the failure. On a remote device the panic is burn's read
    /// from a server that stopped answering: the state is on that server, so nothing can be
    /// saved, and the last good checkpoint is what is left.
    fn crashed(&mut self, text: String) {
        if self.remote.is_some() {
            return self.fail(text);
        }
        let unsaved = self.trainer.as_ref().is_some_and(|t| {
            self.diverged.is_none() && Some(t.step) != self.last_good_step && t.step > 0
        });
        if unsaved {
            let dir = self
                .spec
                .as_ref()
                .and_then(|s| s.out_dir.clone())
                .or_else(emergency_dir);
            if let Some(dir) = dir {
                let saved = std::panic::catch_unwind(AssertUnwindSafe(|| self.save(dir)));
                if saved.is_err() {
                    self.out.send(Event::Warning(
                        "the emergency save panicked too; the last good checkpoint is kept".into(),
                    ));
                }
            }
        }
        self.fail(text);
    }

    /// End the run with `text`. On a remote device a failure mid-run is the server that stopped
    /// answering (burn's reads fail, or panic, once its connection is gone).
    fn fail(&mut self, text: String) {
        let remote = self.remote.take();
        let last_good_step = self.last_good_step;
        self.end_run();
        match remote {
            Some(server) => {
                crate::remote::forget(&server);
                self.out.send(Event::RemoteLost {
                    server,
                    error: text,
                    last_good_step,
                })
            }
            None => self.out.send(Event::Failed(text)),
        }
    }

    fn end_run(&mut self) {
        self.trainer = None;
        self.diverged = None;
        self.running = false;
        self.pending_steps = 0;
        self.remote = None;
    }

    fn step_count(&self) -> u64 {
        self.trainer.as_ref().map_or(0, |t| t.step)
    }

    fn handle(&mut self, c: Command) {
        match c {
            Command::Start(spec) => self.start(*spec),
            Command::Pause => {
                self.running = false;
                self.pending_steps = 0;
                self.out.send(Event::Paused {
                    step: self.step_count(),
                });
            }
            Command::Resume | Command::Step(_) if self.diverged.is_some() => {
                self.out.send(Event::Warning(self.diverged_text()));
            }
            Command::Resume => {
                if self.trainer.is_some() {
                    self.running = true;
                    self.out.send(Event::Resumed {
                        step: self.step_count(),
                    });
                }
            }
            Command::Step(n) => {
                self.running = false;
                self.pending_steps = n;
            }
            Command::Stop => self.finish(),
            Command::SetLearningRate { lr_g, lr_d } => {
                if let Some(t) = &mut self.trainer {
                    match t.set_learning_rates(lr_g, lr_d) {
                        Ok(()) => self.out.send(Event::LearningRateChanged {
                            step: t.step,
                            lr_g,
                            lr_d,
                        }),
                        Err(e) => self.out.send(Event::Warning(e.to_string())),
                    }
                }
            }
            Command::Save(path) => self.save(path),
            Command::Generate {
                id,
                z,
                labels,
                cols,
            } => {
                if let Some(t) = &self.trainer {
                    match t.generate(&z, labels.as_deref()) {
                        Ok(values) => {
                            let m = &t.config.model;
                            let grid = grid::grid_of(&values, m.image_size, m.channels, cols);
                            self.out.send(Event::Generated { id, grid });
                        }
                        Err(e) => self.out.send(Event::Warning(e.to_string())),
                    }
                }
            }
            Command::Snapshot => self.snapshot(),
            Command::Judge { names, images, n } => match &self.trainer {
                None => self.out.send(Event::Warning(
                    "no discriminator to ask yet: start a GAN run first".into(),
                )),
                Some(t) => match t.judge(names, images, n) {
                    Ok(Some(j)) => self.out.send(Event::Judged(j)),
                    Ok(None) => self.out.send(Event::Warning(
                        "only a GAN has a discriminator to ask (this run's model has none)".into(),
                    )),
                    Err(e) => self.out.send(Event::Warning(format!("detector: {e}"))),
                },
            },
            Command::Shutdown => self.shutdown = true,
            Command::InjectPanic => panic!("injected panic (Command::InjectPanic)"),
        }
    }

    fn start(&mut self, spec: RunSpec) {
        let selected = match device::select(&spec.device, spec.token_file.as_deref()) {
            Ok(s) => s,
            Err(e) => return self.fail(e.to_string()),
        };
        let trainer = match &spec.resume_from {
            Some(dir) => Trainer::resume(
                dir,
                spec.data.clone(),
                spec.data_source.clone(),
                &selected.device,
            ),
            None => Trainer::new(
                spec.config.clone(),
                spec.data.clone(),
                spec.data_source.clone(),
                &selected.device,
            ),
        };
        let trainer = trainer.and_then(|mut t| {
            if let Some((lr_g, lr_d)) = spec.lr_override {
                t.set_learning_rates(lr_g, lr_d)?;
            }
            if let Some(s) = spec.schedule_override {
                t.config.schedule = s;
            }
            if let Some(cd) = spec.cd_override.clone() {
                t.set_cd(cd)?;
            }
            Ok(t)
        });
        self.seen.clear();
        self.leases.clear();
        self.collapse = Default::default();
        let trainer = trainer.and_then(|t| {
            // The output directory is claimed for the whole run, and what is there now (the
            // run resumed from, or what a fresh run may replace) is what a save expects.
            if let Some(dir) = &spec.out_dir {
                self.leases.insert(dir.clone(), lease::acquire(dir)?);
            }
            for dir in spec.resume_from.iter().chain(&spec.out_dir) {
                self.seen.insert(dir.clone(), replace::seen(dir)?);
            }
            Ok(t)
        });
        match trainer {
            Ok(t) => {
                self.diverged = None;
                self.remote = selected.remote.clone();
                self.last_good_step = spec.resume_from.is_some().then_some(t.step);
                self.out.send(Event::Started {
                    device: selected.description,
                    step: t.step,
                    model: t.config.model.clone(),
                    class_names: t.data().class_names.clone(),
                });
                self.meter = None;
                if spec.score_every > 0 {
                    // The data set's own feature network is trained here the first time
                    // (tens of seconds), then read from the cache.
                    let plain = t.device().clone().without_autodiff();
                    match super::meter::meter_for(
                        spec.classifier.as_deref(),
                        t.data(),
                        &plain,
                        |_, _| {},
                    ) {
                        Ok((m, _)) => self.meter = Some(m),
                        Err(e) => self.out.send(Event::Warning(format!(
                            "quality meter off: {e}; train a classifier with `latentlab classifier`"
                        ))),
                    }
                }
                self.running = spec.autostart;
                self.pending_steps = 0;
                self.trainer = Some(t);
                self.spec = Some(spec);
                self.emit_samples();
            }
            Err(e) => self.fail(e.to_string()),
        }
    }

    fn one_step(&mut self) {
        let Some(t) = &mut self.trainer else { return };
        let m = match t.step() {
            Ok(m) => m,
            Err(e) => return self.fail(e.to_string()),
        };
        self.pending_steps = self.pending_steps.saturating_sub(1);
        self.out.send(Event::Step(m));
        if let Some((loss, value)) = m.non_finite_loss() {
            self.running = false;
            self.pending_steps = 0;
            self.diverged = Some(m.step);
            self.out.send(Event::Diverged {
                step: m.step,
                loss,
                value,
                last_good_step: self.last_good_step,
            });
            self.out.send(Event::Paused { step: m.step });
            return;
        }
        let every = t.config.sample_every;
        if every > 0 && m.step.is_multiple_of(every) {
            self.emit_samples();
        }
        let detect_every = self.spec.as_ref().map_or(0, |s| s.detect_every);
        if detect_every > 0 && m.step.is_multiple_of(detect_every) {
            self.emit_detection();
        }
        let score_every = self.spec.as_ref().map_or(0, |s| s.score_every);
        if score_every > 0 && m.step.is_multiple_of(score_every) {
            self.emit_score();
        }
        let max = self.spec.as_ref().and_then(|s| s.max_steps);
        if max.is_some_and(|max| m.step >= max) {
            self.finish();
        } else if self.pending_steps == 0 && !self.running {
            self.out.send(Event::Paused { step: m.step });
        }
    }

    fn emit_samples(&mut self) {
        let Some(t) = &self.trainer else { return };
        match t
            .sample_grid()
            .and_then(|grid| Ok((grid, t.live_sample_grid()?)))
        {
            Ok((grid, live)) => self.out.send(Event::Samples {
                step: t.step,
                grid,
                live,
            }),
            Err(e) => self.out.send(Event::Warning(e.to_string())),
        }
        match t.diversity() {
            Ok(Some(ratio)) => {
                let step = t.step;
                self.out.send(Event::Diversity { step, ratio });
                if let Some(sign) = self.collapse.diversity(step, ratio) {
                    self.out.send(Event::Collapse { step, sign });
                }
            }
            Ok(None) => {}
            Err(e) => self
                .out
                .send(Event::Warning(format!("sample diversity: {e}"))),
        }
        let Some(t) = &self.trainer else { return };
        match t.filter_grid() {
            Ok(Some(grid)) => self.out.send(Event::Filters { step: t.step, grid }),
            Ok(None) => {}
            Err(e) => self.out.send(Event::Warning(e.to_string())),
        }
    }

    fn emit_detection(&mut self) {
        let Some(t) = &self.trainer else { return };
        match t.detection(super::messages::DETECTION_IMAGES) {
            Ok(Some(d)) => self.out.send(Event::Detection(d)),
            Ok(None) => {}
            Err(e) => self.out.send(Event::Warning(format!("detector: {e}"))),
        }
    }

    fn emit_score(&mut self) {
        let (Some(t), Some(meter), Some(spec)) = (&self.trainer, &self.meter, &self.spec) else {
            return;
        };
        let plain = t.device().clone().without_autodiff();
        let (g, model, data) = (&t.generator(), &t.config.model, &spec.data);
        let score = if model.kind.is_image_to_image() {
            // The meter on upscales of held-out images, against their originals (it is
            // given, so the score holds its view).
            crate::quality::upscale::score_upscaler(
                g,
                model,
                data,
                SCORE_IMAGES,
                Some(meter),
                &plain,
            )
            .map(|s| s.meter.map(|(net, _)| net))
        } else {
            crate::quality::score_generator(g, model, meter, data, SCORE_IMAGES, t.step, &plain)
                .map(Some)
        };
        match score {
            Ok(None) => {}
            Ok(Some(score)) => {
                let step = t.step;
                // The alarm and its advice are a GAN's, as with the diversity signal.
                let sign = (model.kind.is_gan() && !model.kind.is_image_to_image())
                    .then(|| {
                        self.collapse.classes(
                            score.classes_covered,
                            score.classes,
                            score.entropy_bits,
                        )
                    })
                    .flatten();
                self.out.send(Event::Quality { step, score });
                if let Some(sign) = sign {
                    self.out.send(Event::Collapse { step, sign });
                }
            }
            Err(e) => self.out.send(Event::Warning(format!("quality meter: {e}"))),
        }
    }

    fn snapshot(&mut self) {
        let Some(t) = &self.trainer else {
            return self.out.send(Event::Warning(
                "no model to explore yet: start a run first".into(),
            ));
        };
        match crate::checkpoint::module_bytes(&t.generator()) {
            Ok(generator) => self.out.send(Event::Snapshot(Box::new(GeneratorSnapshot {
                step: t.step,
                model: t.config.model.clone(),
                class_names: t.data().class_names.clone(),
                data_name: t.data().name.clone(),
                generator,
            }))),
            Err(e) => self
                .out
                .send(Event::Warning(format!("snapshot failed: {e}"))),
        }
    }

    fn diverged_text(&self) -> String {
        let step = self.diverged.unwrap_or(0);
        let good = kept_text(self.last_good_step);
        format!(
            "the model diverged at step {step} (a loss became non-finite), so its state is not \
             saved: {good}. Lower the learning rate and start again, or open the last checkpoint"
        )
    }

    fn save(&mut self, path: PathBuf) {
        let Some(t) = &self.trainer else {
            return self.out.send(Event::SaveFailed {
                path,
                error: "nothing to save: no run has been started".into(),
            });
        };
        if self.diverged.is_some() {
            let error = self.diverged_text();
            return self.out.send(Event::SaveFailed { path, error });
        }
        if !self.leases.contains_key(&path) {
            match lease::acquire(&path) {
                Ok(l) => {
                    self.leases.insert(path.clone(), l);
                }
                Err(e) => {
                    let error = e.to_string();
                    return self.out.send(Event::SaveFailed { path, error });
                }
            }
        }
        match t.save_expecting(&path, self.seen.get(&path).copied()) {
            Ok(now) => {
                let step = t.step;
                self.last_good_step = Some(step);
                self.seen.insert(path.clone(), now);
                self.out.send(Event::Saved { path, step })
            }
            Err(e) => {
                if !self.seen.contains_key(&path) {
                    // A directory this run never wrote is not held on to after a refusal.
                    self.leases.remove(&path);
                }
                let diverged = matches!(e, crate::checkpoint::CheckpointError::NonFinite { .. });
                // Weights that cannot be read back from a server that died look non-finite.
                if self.remote.is_some() && !t.device_answers() {
                    return self.fail(format!("its weights could not be read back ({e})"));
                }
                let step = t.step;
                self.out.send(Event::SaveFailed {
                    path,
                    error: e.to_string(),
                });
                if diverged {
                    // The weights broke in the last update, before any loss showed it.
                    self.running = false;
                    self.pending_steps = 0;
                    self.diverged = Some(step);
                    self.out.send(Event::Diverged {
                        step,
                        loss: "weights",
                        value: f32::NAN,
                        last_good_step: self.last_good_step,
                    });
                }
            }
        }
    }

    /// End the run: save to `out_dir` when one was given, then report Finished. The trainer is
    /// kept so the caller can still generate from or save the final state.
    fn finish(&mut self) {
        self.running = false;
        self.pending_steps = 0;
        if self.trainer.is_none() {
            return;
        }
        if let Some(dir) = self.spec.as_ref().and_then(|s| s.out_dir.clone()) {
            self.save(dir);
        }
        self.out.send(Event::Finished {
            step: self.step_count(),
        });
    }
}
