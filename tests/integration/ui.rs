//! The desktop app driven through its real widgets with egui_kittest (no display, no GPU).

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use latentlab::checkpoint::shipped_dir;
use latentlab::model::ModelKind;
use latentlab::ui::app::{AppOptions, LatentLabApp};
use latentlab::ui::dialogs::{DialogOutcome, ScriptedDialogs};
use latentlab::ui::settings::{Settings, Tab};
use latentlab::ui::train_panel::RunStatus;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn options(answers: Vec<DialogOutcome>, checkpoint: Option<PathBuf>) -> AppOptions {
    super::init();
    AppOptions {
        dialogs: Arc::new(ScriptedDialogs::new(answers)),
        initial_checkpoint: checkpoint,
        fresh_settings: true,
        frame_log: None,
        signals: Default::default(),
        recovery_dir: None,
        open_checkpoint: None,
        run: None,
        autostart: false,
    }
}

pub(crate) fn harness<'a>(opts: AppOptions) -> Harness<'a, LatentLabApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 820.0))
        .build_eframe(move |cc| LatentLabApp::new(cc, opts).expect("app starts"))
}

/// Step the UI until `done` holds (background threads answer between frames).
pub(crate) fn wait_for(
    h: &mut Harness<'_, LatentLabApp>,
    what: &str,
    done: impl Fn(&LatentLabApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        h.step();
        if done(h.state()) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The shipped conditional DCGAN, loaded into the explorer.
pub(crate) fn with_shipped_model<'a>(answers: Vec<DialogOutcome>) -> Harness<'a, LatentLabApp> {
    let mut h = harness(options(answers, Some(shipped_dir("mnist-cdcgan"))));
    wait_for(&mut h, "the first image", |a| a.explore.image.is_some());
    h
}

/// In the Interpolate tab: A from the Explore vector z, B from -z (so the ends differ).
fn set_mirrored_end_points(h: &mut Harness<'_, LatentLabApp>) {
    h.run_steps(2);
    h.get_by_label("Set A from Explore").click();
    h.run_steps(1);
    h.state_mut().explore.z.iter_mut().for_each(|v| *v = -*v);
    h.run_steps(1);
    h.get_by_label("Set B from Explore").click();
}

pub(crate) fn tiny_settings(s: &mut Settings) {
    s.run.model = ModelKind::Mlp;
    s.run.batch = 16;
    s.run.width = Some(16);
    s.run.latent = Some(8);
    s.run.sample_every = 1;
}

#[test]
fn starting_a_run_plots_losses_and_the_controls_drive_it() {
    let dir = super::tempdir();
    let run_dir = dir.path().join("saved-run");
    let mut h = harness(options(vec![DialogOutcome::Chosen(run_dir.clone())], None));
    tiny_settings(&mut h.state_mut().settings);
    h.step();
    h.get_by_label("Start").click();
    wait_for(&mut h, "three steps", |a| a.train.metrics().len() >= 3);
    let app = h.state();
    assert_eq!(app.train.status, RunStatus::Running);
    assert!(
        app.train
            .metrics()
            .iter()
            .all(|m| m.loss_d.is_finite() && m.loss_g.is_finite())
    );
    assert!(!app.train.grids.is_empty(), "the sample grid arrived");
    // The top bar names the run being trained apart from the model being explored.
    h.get_by_label_contains("training: mlp");

    // Space pauses; Step once advances exactly one step.
    h.key_press(egui::Key::Space);
    wait_for(&mut h, "pause", |a| a.train.status == RunStatus::Paused);
    h.run_steps(3);
    let before = h.state().train.step;
    h.get_by_label("Step once").click();
    wait_for(&mut h, "one step", |a| a.train.step == before + 1);

    // A learning-rate change mid-run is applied and marked on the charts.
    h.state_mut().settings.run.lr_g = Some(1e-3);
    h.step();
    h.get_by_label("Apply learning rates").click();
    wait_for(&mut h, "the marker", |a| !a.train.markers.is_empty());
    assert_eq!(h.state().train.live_lr, Some((1e-3, 2e-4)));

    // Save checkpoint… writes a run directory that loads back.
    h.get_by_label("Save checkpoint…").click();
    wait_for(&mut h, "the checkpoint", |_| {
        run_dir.join("manifest.json").is_file()
    });
    let manifest = latentlab::checkpoint::read_manifest(&run_dir).expect("manifest");
    assert_eq!(manifest.model().kind, ModelKind::Mlp);
    assert!(manifest.step >= 4);

    h.get_by_label("Stop").click();
    wait_for(&mut h, "finish", |a| a.train.status == RunStatus::Finished);
}

#[test]
fn an_engine_failure_shows_in_the_ui_with_what_to_do() {
    let mut h = harness(options(vec![], None));
    tiny_settings(&mut h.state_mut().settings);
    h.step();
    h.get_by_label("Start").click();
    wait_for(&mut h, "a step", |a| !a.train.metrics().is_empty());
    h.state_mut().act(latentlab::ui::actions::Action::Train(
        latentlab::train::Command::InjectPanic,
    ));
    wait_for(&mut h, "failure", |a| a.train.status == RunStatus::Failed);
    h.run_steps(2);
    let alert = h.get_by_label_contains("training failed");
    assert!(format!("{alert:?}").contains("press Start again"));
}

#[test]
fn moving_a_latent_slider_or_picking_a_label_changes_the_image() {
    let mut h = with_shipped_model(vec![]);
    h.state_mut().settings.tab = Tab::Explore;
    h.run_steps(2);
    let first = h.state().explore.image.clone().expect("image");
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "z0")
        .set_value_accesskit(2.5);
    wait_for(&mut h, "a new image", |a| {
        a.explore
            .image
            .as_ref()
            .is_some_and(|i| i.pixels != first.pixels)
    });
    assert!((h.state().explore.z[0] - 2.5).abs() < 1e-6);

    let before = h.state().explore.image.clone().expect("image");
    assert_eq!(h.state().explore.label_a, 0);
    h.get_by_label("7").click();
    wait_for(&mut h, "the 7", |a| {
        a.explore
            .image
            .as_ref()
            .is_some_and(|i| i.pixels != before.pixels)
    });
    assert_eq!(h.state().explore.label_a, 7);
}

#[test]
fn the_step_count_sets_the_number_of_interpolation_frames() {
    let mut h = with_shipped_model(vec![]);
    h.state_mut().settings.tab = Tab::Interpolate;
    set_mirrored_end_points(&mut h);
    for steps in [7usize, 12] {
        // Under load an accessibility action can miss the frame it was aimed at (seen: the
        // setting unchanged 20 s later), so it is sent again until the setting takes it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while h.state().settings.interp_steps != steps {
            assert!(Instant::now() < deadline, "the slider never took {steps}");
            h.get_by_role_and_label(egui::accesskit::Role::Slider, "steps")
                .set_value_accesskit(steps as f64);
            h.run_steps(2);
        }
        wait_for(&mut h, "the strip", |a| a.interp.frames.len() == steps);
        let app = h.state();
        assert_eq!(app.settings.interp_steps, steps);
        // The ends are A's and B's images: different, since z was mirrored.
        assert_ne!(
            app.interp.frames[0].pixels,
            app.interp.frames[steps - 1].pixels
        );
    }
}

/// A file dropped on the window.
#[derive(Debug)]
pub(crate) struct Dropped(pub PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn exported_png_carries_the_latent_and_dropping_it_restores_it() {
    let dir = super::tempdir();
    let png = dir.path().join("seven.png");
    let mut h = with_shipped_model(vec![DialogOutcome::Chosen(png.clone())]);
    h.state_mut().settings.tab = Tab::Explore;
    h.run_steps(2);
    h.get_by_label("7").click();
    wait_for(&mut h, "label 7", |a| a.explore.label_a == 7);
    h.run_steps(2);
    h.get_by_label("Export image (PNG)…").click();
    wait_for(&mut h, "the file", |_| png.is_file());
    wait_for(&mut h, "the notice", |a| a.busy_files == 0);
    let saved_z = h.state().explore.z.clone();
    let record = latentlab::export::read_latent(&png).expect("metadata");
    assert_eq!(record.z, saved_z);
    assert_eq!(record.model.as_deref(), Some("cdcgan"));
    let label = record.label.expect("label mix");
    assert_eq!(label[7], 1.0);
    let img = image::open(&png).expect("readable PNG");
    assert_eq!((img.width(), img.height()), (224, 224));

    // Change the latent and label, then drop the PNG: both come back.
    h.state_mut().explore.z.iter_mut().for_each(|v| *v = 0.0);
    h.state_mut().explore.label_a = 1;
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(png.clone())));
    wait_for(&mut h, "the restored latent", |a| a.explore.z == saved_z);
    assert_eq!(h.state().explore.label_a, 7);
}

#[test]
fn animation_exports_as_a_gif_with_one_frame_per_step() {
    let dir = super::tempdir();
    let gif = dir.path().join("walk.gif");
    let mut h = with_shipped_model(vec![DialogOutcome::Chosen(gif.clone())]);
    h.state_mut().settings.tab = Tab::Interpolate;
    h.state_mut().settings.interp_steps = 5;
    set_mirrored_end_points(&mut h);
    wait_for(&mut h, "the strip", |a| a.interp.frames.len() == 5);
    h.run_steps(1);
    h.get_by_label("Export animation (GIF)…").click();
    wait_for(&mut h, "the write", |a| a.busy_files == 0 && gif.is_file());
    use image::AnimationDecoder;
    let file = std::io::BufReader::new(std::fs::File::open(&gif).expect("gif"));
    let frames = image::codecs::gif::GifDecoder::new(file)
        .expect("decodes")
        .into_frames()
        .collect_frames()
        .expect("frames");
    assert_eq!(frames.len(), 5);
}

#[test]
fn without_a_native_dialog_a_path_field_is_offered() {
    let dir = super::tempdir();
    let target = dir.path().join("typed.png");
    let mut h = with_shipped_model(vec![DialogOutcome::Unavailable("no portal".into())]);
    h.state_mut().settings.tab = Tab::Explore;
    h.run_steps(2);
    h.get_by_label("Export image (PNG)…").click();
    wait_for(&mut h, "the prompt", |a| a.prompt.is_some());
    h.run_steps(2);
    h.state_mut().prompt.as_mut().expect("prompt").text = target.display().to_string();
    h.run_steps(1);
    h.get_by_label("OK").click();
    wait_for(&mut h, "the file", |a| {
        a.busy_files == 0 && target.is_file()
    });
    assert!(latentlab::export::read_latent(&target).is_ok());
}

#[test]
fn bad_drops_are_reported_and_a_dropped_run_directory_opens() {
    let dir = super::tempdir();
    let bogus = dir.path().join("not-latentlab.png");
    let plain = latentlab::types::grid::Picture::gray(2, 2, vec![0, 1, 2, 3]);
    latentlab::export::write_png(&bogus, &plain, &[], true).expect("png");
    let mut h = with_shipped_model(vec![]);
    let z = h.state().explore.z.clone();
    h.input_mut().dropped_files.push(Arc::new(Dropped(bogus)));
    wait_for(&mut h, "the notice", |a| {
        a.notices
            .iter()
            .any(|n| n.contains("carries no latent vector"))
    });
    assert_eq!(h.state().explore.z, z);

    // A folder that is not a run is refused; a run directory opens in the explorer.
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(dir.path().to_path_buf())));
    wait_for(&mut h, "the refusal", |a| {
        a.notices.iter().any(|n| n.contains("not a run directory"))
    });
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(shipped_dir("mnist-vae2d"))));
    wait_for(&mut h, "the VAE", |a| {
        a.explore
            .info
            .as_ref()
            .is_some_and(|i| i.model.kind == ModelKind::Vae)
    });
}

/// A settings store in memory.
#[derive(Default)]
struct Memory(std::collections::HashMap<String, String>);

impl eframe::Storage for Memory {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.into(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn settings_persist_between_launches() {
    let mut store = Memory::default();
    {
        let mut h = harness(options(vec![], None));
        let s = &mut h.state_mut().settings;
        s.run.model = ModelKind::Vae;
        s.run.batch = 32;
        s.run.lr_d = Some(5e-4);
        s.run.data = latentlab::data::DataSource::Fashion;
        s.tab = Tab::Interpolate;
        eframe::App::save(h.state_mut(), &mut store);
    }
    let mut opts = options(vec![], None);
    opts.fresh_settings = false;
    let store_ref = &store;
    let h = Harness::builder()
        .with_size(egui::vec2(1280.0, 820.0))
        .build_eframe(move |cc| {
            cc.storage = Some(store_ref);
            LatentLabApp::new(cc, opts).expect("app starts")
        });
    let s = &h.state().settings;
    assert_eq!(s.run.model, ModelKind::Vae);
    assert_eq!(s.run.batch, 32);
    assert_eq!(s.run.lr_d, Some(5e-4));
    assert_eq!(s.run.data, latentlab::data::DataSource::Fashion);
    assert_eq!(s.tab, Tab::Interpolate);
}

/// The window's close button, as the platform reports it; true when the app cancelled the
/// close.
fn request_close(h: &mut Harness<'_, LatentLabApp>) -> bool {
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    h.step();
    let cancelled = sent(h, &egui::ViewportCommand::CancelClose);
    h.step();
    cancelled
}

/// The last frame sent `command` to the window.
fn sent(h: &Harness<'_, LatentLabApp>, command: &egui::ViewportCommand) -> bool {
    h.output()
        .viewport_output
        .get(&egui::ViewportId::ROOT)
        .is_some_and(|v| v.commands.contains(command))
}

/// A tiny run, trained a few steps and paused, never saved.
fn unsaved_run<'a>(answers: Vec<DialogOutcome>) -> Harness<'a, LatentLabApp> {
    unsaved_run_with(options(answers, None))
}

fn unsaved_run_with<'a>(opts: AppOptions) -> Harness<'a, LatentLabApp> {
    let mut h = harness(opts);
    tiny_settings(&mut h.state_mut().settings);
    h.step();
    h.get_by_label("Start").click();
    wait_for(&mut h, "two steps", |a| a.train.metrics().len() >= 2);
    h.get_by_label("Pause").click();
    wait_for(&mut h, "paused", |a| a.train.status == RunStatus::Paused);
    h
}

#[test]
fn closing_with_an_unsaved_run_asks_save_discard_or_cancel() {
    use latentlab::ui::app::Closing;
    let dir = super::tempdir();
    let run_dir = dir.path().join("closing-run");
    let mut h = unsaved_run(vec![DialogOutcome::Chosen(run_dir.clone())]);

    assert!(request_close(&mut h), "the close must be held back");
    assert_eq!(h.state().closing, Closing::Asking);
    h.get_by_label("Cancel").click();
    h.step();
    assert_eq!(h.state().closing, Closing::No);

    // Save…: the dialog's answer is saved, and then the window closes.
    assert!(request_close(&mut h));
    h.get_by_label("Save…").click();
    wait_for(&mut h, "the save", |a| a.closing == Closing::Allowed);
    assert!(sent(&h, &egui::ViewportCommand::Close));
    let m = latentlab::checkpoint::read_manifest(&run_dir).expect("saved before closing");
    assert_eq!(m.step, h.state().train.step);
    assert!(!h.state().train.unsaved());
}

#[test]
fn discard_closes_without_saving() {
    use latentlab::ui::app::Closing;
    let mut h = unsaved_run(vec![]);
    assert!(request_close(&mut h));
    h.get_by_label("Discard").click();
    h.step();
    assert_eq!(h.state().closing, Closing::Allowed);
    assert!(sent(&h, &egui::ViewportCommand::Close));
    assert!(h.state().train.unsaved(), "nothing was saved");
}

#[test]
fn closing_with_nothing_unsaved_does_not_ask() {
    use latentlab::ui::app::Closing;
    let mut h = harness(options(vec![], None));
    h.step();
    assert!(!request_close(&mut h));
    assert_eq!(h.state().closing, Closing::Allowed);
}

#[test]
fn a_termination_signal_saves_an_unsaved_run_and_closes() {
    use latentlab::ui::app::Closing;
    let dir = super::tempdir();
    let mut opts = options(vec![], None);
    opts.recovery_dir = Some(dir.path().to_path_buf());
    let signals = opts.signals.clone();
    let mut h = unsaved_run_with(opts);
    signals.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    h.step();
    wait_for(&mut h, "the save", |a| a.closing == Closing::Allowed);
    assert!(sent(&h, &egui::ViewportCommand::Close));
    // Hidden files aside: the session's claim on the directory it saved to (`.NAME.lock`).
    let saved: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let m = latentlab::checkpoint::read_manifest(&saved[0]).expect("recovered run");
    assert_eq!(m.step, h.state().train.step);
}

#[test]
fn infogan_code_picker_and_continuous_slider_drive_the_image_and_sweeps() {
    // A tiny InfoGAN, 20 steps in: enough for the codes to move the 8-bit image (after 3, a
    // change of code could stay within one grey level).
    let dir = super::tempdir();
    let mut cfg = super::tiny(
        ModelKind::Infogan,
        latentlab::train::objective::Loss::Nonsat,
        4,
    );
    cfg.model.width = 8;
    let data = std::sync::Arc::new(super::patterns(8));
    let mut t =
        latentlab::train::Trainer::new(cfg, data, "p".into(), &burn::tensor::Device::flex())
            .expect("trainer");
    for _ in 0..20 {
        t.step().expect("step");
    }
    t.save(dir.path()).expect("save");
    let mut h = harness(options(vec![], Some(dir.path().to_path_buf())));
    wait_for(&mut h, "the first image and sweeps", |a| {
        a.explore.image.is_some() && a.explore.codes.sweep.is_some()
    });
    h.state_mut().settings.tab = Tab::Explore;
    h.run_steps(2);
    let sweep = h.state().explore.codes.sweep.clone().expect("sweeps");
    // One row per continuous code (2), nine images each, 2-pixel gaps.
    assert_eq!((sweep.width, sweep.height), (9 * 28 + 8 * 2, 2 * 28 + 2));

    let first = h.state().explore.image.clone().expect("image");
    h.get_by_label("3").click();
    wait_for(&mut h, "code 3's image", |a| {
        a.explore
            .image
            .as_ref()
            .is_some_and(|i| i.pixels != first.pixels)
    });
    assert_eq!(h.state().explore.codes.category, 3);

    let before = h.state().explore.image.clone().expect("image");
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "code c1")
        .set_value_accesskit(1.5);
    wait_for(&mut h, "the moved code's image", |a| {
        a.explore
            .image
            .as_ref()
            .is_some_and(|i| i.pixels != before.pixels)
    });
    assert_eq!(h.state().explore.codes.cont, vec![0.0, 1.5]);
    let label = h.state().explore.label().expect("codes");
    assert_eq!(label.len(), 12);
    assert_eq!((label[3], label[11]), (1.0, 1.5));
}

#[test]
fn the_detect_tab_shows_d_scores_during_training_and_judges_samples() {
    let mut h = harness(options(vec![], None));
    tiny_settings(&mut h.state_mut().settings);
    h.step();
    h.get_by_label("Start").click();
    wait_for(&mut h, "D's scores", |a| a.detect.latest.is_some());
    h.state_mut().settings.tab = Tab::Detect;
    h.run_steps(2);
    let d = h.state().detect.latest.clone().expect("scores");
    // 256 fresh samples; the real images are every 10th of the 5,000 embedded digits.
    assert_eq!((d.real.len(), d.fake.len()), (256, 256));
    assert!((0.0..=1.0).contains(&d.auc), "{}", d.auc);
    assert!(!h.state().detect.auc.is_empty());
    h.get_by_label("Judge samples").click();
    wait_for(&mut h, "the verdicts", |a| a.detect.judged.is_some());
    let j = h.state().detect.judged.clone().expect("judged");
    assert_eq!(j.verdicts.len(), 16);
    assert!(j.names[0].starts_with("data image") && j.names[8].starts_with("generated sample"));
    assert!(j.verdicts.iter().all(|v| (0.0..=1.0).contains(&v.p_real)));
    h.state_mut().settings.tab = Tab::Train;
    h.run_steps(2);
    h.get_by_label("Stop").click();
}

#[test]
fn the_app_command_starts_a_run_at_once_with_its_train_flags() {
    let mut s = Settings::default();
    tiny_settings(&mut s);
    let mut opts = options(vec![], None);
    opts.run = Some(s.run.clone());
    opts.autostart = true;
    let mut h = harness(opts);
    assert_eq!(
        h.state().settings.run,
        s.run,
        "the flags fill the Train form"
    );
    wait_for(&mut h, "the run to start by itself", |a| {
        a.train.metrics().len() >= 2
    });
    assert_eq!(h.state().settings.tab, Tab::Train);
    assert_eq!(
        h.state().train.model.as_ref().map(|m| m.kind),
        Some(ModelKind::Mlp)
    );
}

#[test]
fn switching_to_a_boltzmann_family_keeps_only_layer_sizes_it_can_take() {
    let mut h = harness(options(vec![], None));
    h.state_mut().settings.tab = Tab::Train;
    h.state_mut().settings.run.model = ModelKind::Dbn;
    h.state_mut().settings.run.boltzmann.layers = Some(vec![300, 200, 100]);
    h.run_steps(2);
    // Through the Model menu, as a user switches: an RBM cannot take three layers.
    h.get_by_role_and_label(egui::accesskit::Role::ComboBox, "Model")
        .click();
    h.run_steps(2);
    h.get_by_label("RBM (restricted Boltzmann machine)").click();
    h.run_steps(2);
    let run = &h.state().settings.run;
    assert_eq!(run.model, ModelKind::Rbm);
    assert_eq!(
        run.boltzmann.layers, None,
        "back to the RBM's default of one layer"
    );
    assert_eq!(
        run.config(10).model.validate(),
        Ok(()),
        "the form's choices start a run"
    );
}

#[test]
fn the_run_form_sets_chain_restarts_and_label_chains_for_a_persistent_dbn() {
    let mut h = harness(options(vec![], None));
    h.state_mut().settings.tab = Tab::Train;
    h.state_mut().settings.run.model = ModelKind::Dbn;
    h.state_mut().settings.run.boltzmann.labels = true;
    h.run_steps(2);
    // Only persistent chains can be restarted or hold a class.
    assert!(h.query_by_label("Chain restarts").is_none());
    h.get_by_label("PCD (persistent chains)").click();
    h.run_steps(2);
    h.get_by_label("each chain holds one class").click();
    h.get_by_label("Chain restarts").focus();
    h.run_steps(1);
    h.get_by_label("Chain restarts").type_text("3");
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    let cd = h
        .state()
        .settings
        .run
        .config(10)
        .cd
        .expect("a Boltzmann machine's recipe");
    assert!(cd.persistent && cd.label_chains, "{cd:?}");
    assert_eq!(cd.restarts, 3);
}
