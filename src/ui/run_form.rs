//! The Train tab's run form: the choices of [`RunOptions`] a run starts with (model, loss, data,
//! batch, seed, device, how often to sample and score).

use super::actions::Action;
use crate::data::DataSource;
use crate::device::DeviceChoice;
use crate::model::ModelKind;
use crate::train::RunOptions;
use crate::train::objective::Loss;
use crate::types::config::{CdConfig, MAX_LAYERS, MAX_UNITS};
use eframe::egui;

/// The name a user sees for a model family.
pub fn model_label(k: ModelKind) -> &'static str {
    match k {
        ModelKind::Mlp => "MLP GAN",
        ModelKind::Dcgan => "DCGAN",
        ModelKind::Cmlp => "conditional MLP GAN",
        ModelKind::Cdcgan => "conditional DCGAN",
        ModelKind::Acgan => "ACGAN (D also classifies)",
        ModelKind::Infogan => "InfoGAN (codes learned without labels)",
        ModelKind::Vae => "VAE",
        ModelKind::Rbm => "RBM (restricted Boltzmann machine)",
        ModelKind::Dbn => "DBN (deep belief network)",
        ModelKind::Dbm => "DBM (deep Boltzmann machine)",
        ModelKind::Stylegan => "StyleGAN (mapping network, styles, noise)",
        ModelKind::Srgan => "SRGAN (super-resolution, 2x or 4x)",
        ModelKind::Lapgan => "LAPGAN (Laplacian pyramid, coarse to fine)",
        ModelKind::Cyclegan => "CycleGAN (unpaired translation between two sets)",
    }
}

const KINDS: [ModelKind; 14] = [
    ModelKind::Mlp,
    ModelKind::Dcgan,
    ModelKind::Cmlp,
    ModelKind::Cdcgan,
    ModelKind::Acgan,
    ModelKind::Infogan,
    ModelKind::Stylegan,
    ModelKind::Lapgan,
    ModelKind::Vae,
    ModelKind::Rbm,
    ModelKind::Dbn,
    ModelKind::Dbm,
    ModelKind::Srgan,
    ModelKind::Cyclegan,
];
const LOSSES: [Loss; 4] = [Loss::Nonsat, Loss::Minimax, Loss::Lsgan, Loss::WganGp];

fn data_label(d: &DataSource) -> String {
    match d {
        DataSource::Default => "digits (embedded, 5,000)".into(),
        DataSource::Fashion => "Fashion-MNIST".into(),
        DataSource::Shapes => "shapes (procedural, 20,000)".into(),
        DataSource::Path(p) => format!("folder: {}", p.display()),
        DataSource::ColourDigits => "colour digits (procedural, 5,000)".into(),
        DataSource::ShapesOf(class) => format!("shapes: {class}s only"),
        DataSource::Pair(a, b) => format!("{} <-> {}", data_label(a), data_label(b)),
    }
}

pub fn show(ui: &mut egui::Ui, run: &mut RunOptions, out: &mut Vec<Action>) {
    egui::Grid::new("train-settings")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            let l = ui.label("Model");
            let before = run.model;
            egui::ComboBox::from_id_salt("model")
                .selected_text(model_label(run.model))
                .height(480.0)
                .show_ui(ui, |ui| {
                    for k in KINDS {
                        ui.selectable_value(&mut run.model, k, model_label(k));
                    }
                })
                .response
                .labelled_by(l.id);
            if run.model != before {
                fit_layers(run);
            }
            ui.end_row();
            let l = ui.label("Loss");
            ui.add_enabled_ui(run.model.is_gan(), |ui| {
                egui::ComboBox::from_id_salt("loss")
                    .selected_text(run.loss.name())
                    .show_ui(ui, |ui| {
                        for l in LOSSES {
                            ui.selectable_value(&mut run.loss, l, l.name());
                        }
                    })
                    .response
                    .labelled_by(l.id);
            });
            ui.end_row();
            let l = ui.label("Data");
            egui::ComboBox::from_id_salt("data")
                .selected_text(data_label(&run.data))
                .width(170.0)
                .show_ui(ui, |ui| {
                    ui.selectable_value(
                        &mut run.data,
                        DataSource::Default,
                        data_label(&DataSource::Default),
                    );
                    for d in [
                        DataSource::Fashion,
                        DataSource::Shapes,
                        DataSource::ColourDigits,
                    ] {
                        let label = data_label(&d);
                        ui.selectable_value(&mut run.data, d, label);
                    }
                    if ui
                        .selectable_label(matches!(run.data, DataSource::Path(_)), "a folder…")
                        .clicked()
                    {
                        out.push(Action::PickDataFolder);
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            if run.model == ModelKind::Cyclegan {
                data_b_row(ui, run);
            }
            shape_rows(ui, run);
            let l = ui.label("Batch");
            ui.add(egui::DragValue::new(&mut run.batch).range(1..=1024))
                .labelled_by(l.id);
            ui.end_row();
            schedule_rows(ui, run);
            let l = ui.label("Seed");
            ui.add(egui::DragValue::new(&mut run.seed))
                .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Device");
            let shown = match &run.device {
                DeviceChoice::Remote(_) => "remote…".to_string(),
                d => d.name(),
            };
            egui::ComboBox::from_id_salt("device")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    for d in [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Wgpu] {
                        let name = d.name();
                        ui.selectable_value(&mut run.device, d, name);
                    }
                    if ui
                        .selectable_label(run.device.is_remote(), "remote…")
                        .clicked()
                        && !run.device.is_remote()
                    {
                        run.device = DeviceChoice::Remote(REMOTE_EXAMPLE.into());
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            remote_rows(ui, run);
            let l = ui.label("Samples every");
            ui.add(
                egui::DragValue::new(&mut run.sample_every)
                    .range(1..=10_000)
                    .suffix(" steps"),
            )
            .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Quality every");
            ui.add(
                egui::DragValue::new(&mut run.score_every)
                    .range(0..=100_000)
                    .suffix(" steps"),
            )
            .labelled_by(l.id)
            .on_hover_text("Rate the generator with the data set's classifier (0: off)");
            ui.end_row();
            if run.model.is_boltzmann() {
                boltzmann_rows(ui, run);
            }
            if run.model == ModelKind::Srgan {
                sr_rows(ui, run);
            }
        });
}

/// The learning-rate schedule: its shape, the steps a decaying one spans (the run stops
/// there) and the warm-up.
fn schedule_rows(ui: &mut egui::Ui, run: &mut RunOptions) {
    use crate::types::schedule::LrShape;
    let l = ui.label("Schedule");
    let shape = run.lr_schedule.unwrap_or_default();
    let mut picked = shape;
    egui::ComboBox::from_id_salt("lr-schedule")
        .selected_text(shape.name())
        .show_ui(ui, |ui| {
            for s in LrShape::ALL {
                ui.selectable_value(&mut picked, s, s.name());
            }
        })
        .response
        .labelled_by(l.id)
        .on_hover_text("linear and cosine fall to zero at the last step, where the run stops");
    if picked != shape {
        run.lr_schedule = Some(picked);
    }
    ui.end_row();
    if picked != LrShape::Constant {
        let l = ui.label("Steps");
        ui.add(
            egui::DragValue::new(&mut run.schedule_steps)
                .range(2..=crate::train::options::MAX_SCHEDULE_STEPS),
        )
        .labelled_by(l.id);
        ui.end_row();
    }
    let l = ui.label("Warm-up");
    let mut w = run.warmup.unwrap_or(0);
    if ui
        .add(
            egui::DragValue::new(&mut w)
                .range(0..=run.schedule_steps.saturating_sub(1))
                .suffix(" steps"),
        )
        .labelled_by(l.id)
        .on_hover_text("The rate climbs linearly to its value over these first steps")
        .changed()
    {
        run.warmup = Some(w);
    }
    ui.end_row();
}

/// Image size and colour: by default both follow the data ("data's own").
fn shape_rows(ui: &mut egui::Ui, run: &mut RunOptions) {
    let own = "data's own";
    let l = ui.label("Image size");
    let size_text = |s: Option<usize>| s.map_or(own.to_string(), |s| format!("{s} px"));
    egui::ComboBox::from_id_salt("image-size")
        .selected_text(size_text(run.size))
        .show_ui(ui, |ui| {
            for s in [
                None,
                Some(16),
                Some(28),
                Some(32),
                Some(48),
                Some(64),
                Some(96),
                Some(128),
            ] {
                ui.selectable_value(&mut run.size, s, size_text(s));
            }
        })
        .response
        .labelled_by(l.id)
        .on_hover_text("Pictures are centre-cropped and resized to this side");
    ui.end_row();
    let l = ui.label("Colour");
    let channels_text = |c: Option<usize>| match c {
        None => own.to_string(),
        Some(1) => "grey".to_string(),
        Some(_) => "colour (RGB)".to_string(),
    };
    egui::ComboBox::from_id_salt("image-channels")
        .selected_text(channels_text(run.channels))
        .show_ui(ui, |ui| {
            for c in [None, Some(1), Some(3)] {
                ui.selectable_value(&mut run.channels, c, channels_text(c));
            }
        })
        .response
        .labelled_by(l.id);
    ui.end_row();
}

/// Layer sizes chosen for another family that this one cannot take (an RBM has one layer, a
/// DBM at least two) go back to its defaults, rather than failing at Start.
fn fit_layers(run: &mut RunOptions) {
    let b = &mut run.boltzmann;
    let n = b
        .layers
        .as_ref()
        .map_or(usize::from(b.hidden.is_some()), Vec::len);
    let fits = match run.model {
        ModelKind::Rbm => n <= 1,
        ModelKind::Dbm => n == 0 || n >= 2,
        _ => true,
    };
    if !fits {
        b.layers = None;
        b.hidden = None;
    }
}

/// A Boltzmann machine's choices: hidden layer sizes, label units (DBN), CD-k and PCD, and the
/// updates per greedy phase.
fn boltzmann_rows(ui: &mut egui::Ui, run: &mut RunOptions) {
    let kind = run.model;
    let b = &mut run.boltzmann;
    let mut layers = b
        .layers
        .clone()
        .or(b.hidden.map(|h| vec![h]))
        .unwrap_or_else(|| kind.default_layers());
    let l = ui.label("Hidden layers");
    let mut changed = false;
    ui.horizontal(|ui| {
        for units in layers.iter_mut() {
            changed |= ui
                .add(egui::DragValue::new(units).range(1..=MAX_UNITS))
                .labelled_by(l.id)
                .changed();
        }
        if kind != ModelKind::Rbm {
            if layers.len() < MAX_LAYERS
                && ui.small_button("+").on_hover_text("add a layer").clicked()
            {
                layers.push(layers.last().copied().unwrap_or(500));
                changed = true;
            }
            let min = if kind == ModelKind::Dbm { 2 } else { 1 };
            if layers.len() > min
                && ui
                    .small_button("-")
                    .on_hover_text("remove the top layer")
                    .clicked()
            {
                layers.pop();
                changed = true;
            }
        }
    });
    if changed {
        b.layers = Some(layers);
        b.hidden = None;
    }
    ui.end_row();
    if kind == ModelKind::Dbn {
        ui.label("Labels");
        ui.checkbox(&mut b.labels, "label units in the top layer")
            .on_hover_text("lets Explore clamp a class while sampling");
        ui.end_row();
    }
    let l = ui.label("CD-k");
    let mut k = b.cd_k.unwrap_or(1);
    if ui
        .add(egui::DragValue::new(&mut k).range(1..=100))
        .labelled_by(l.id)
        .changed()
    {
        b.cd_k = Some(k);
    }
    ui.end_row();
    ui.label("Persistent");
    ui.checkbox(&mut b.pcd, "PCD (persistent chains)");
    ui.end_row();
    if b.pcd {
        let l = ui.label("Chain restarts");
        let mut r = b.chain_restarts.unwrap_or(0);
        if ui
            .add(egui::DragValue::new(&mut r).range(0..=100))
            .labelled_by(l.id)
            .on_hover_text(
                "persistent chains restarted from noise per update, as sampling starts them: \
                 training then unlearns what a young chain draws",
            )
            .changed()
        {
            b.chain_restarts = Some(r);
        }
        ui.end_row();
        if kind == ModelKind::Dbn && b.labels {
            ui.label("Label chains");
            ui.checkbox(&mut b.label_chains, "each chain holds one class")
                .on_hover_text("the top layer learns to draw a given class, as Explore clamps it");
            ui.end_row();
        }
    }
    if kind != ModelKind::Rbm {
        let l = ui.label("Steps per layer");
        let mut steps = b.layer_steps.unwrap_or(CdConfig::default().layer_steps);
        if ui
            .add(egui::DragValue::new(&mut steps).range(1..=1_000_000))
            .labelled_by(l.id)
            .on_hover_text("updates per greedy phase")
            .changed()
        {
            b.layer_steps = Some(steps);
        }
        ui.end_row();
    }
}

/// A super-resolution run's choices: the factor and the adversarial weight.
fn sr_rows(ui: &mut egui::Ui, run: &mut RunOptions) {
    let sr = &mut run.sr;
    let l = ui.label("Upscale");
    let text = |s: Option<usize>| format!("{}x", s.unwrap_or(2));
    egui::ComboBox::from_id_salt("sr-scale")
        .selected_text(text(sr.scale))
        .show_ui(ui, |ui| {
            for s in [2, 4] {
                ui.selectable_value(&mut sr.scale, Some(s), text(Some(s)));
            }
        })
        .response
        .labelled_by(l.id)
        .on_hover_text("The inputs are the data shrunk this many times");
    ui.end_row();
    let l = ui.label("Adversarial weight");
    let mut w = sr
        .adv_weight
        .unwrap_or(crate::types::sr_config::DEFAULT_ADV_WEIGHT);
    if ui
        .add(egui::DragValue::new(&mut w).range(0.0..=1.0).speed(1e-4))
        .labelled_by(l.id)
        .on_hover_text("0 trains on the content loss alone (SRResNet); the paper uses 0.001")
        .changed()
    {
        sr.adv_weight = Some(w);
    }
    ui.end_row();
}

/// The sets a CycleGAN can pair without a network (the shapes one shape at a time).
fn pair_sets() -> Vec<DataSource> {
    let mut v = vec![
        DataSource::Default,
        DataSource::Fashion,
        DataSource::ColourDigits,
    ];
    v.extend(
        crate::data::shapes::CLASS_NAMES
            .iter()
            .map(|c| DataSource::ShapesOf(c.to_string())),
    );
    v
}

/// A CycleGAN's second set (B); the Data row above is set A.
fn data_b_row(ui: &mut egui::Ui, run: &mut RunOptions) {
    let l = ui.label("Data B");
    let text = run
        .data_b
        .as_ref()
        .map_or("choose the second set".to_string(), data_label);
    egui::ComboBox::from_id_salt("data-b")
        .selected_text(text)
        .width(170.0)
        .show_ui(ui, |ui| {
            for d in pair_sets() {
                let label = data_label(&d);
                ui.selectable_value(&mut run.data_b, Some(d), label);
            }
        })
        .response
        .labelled_by(l.id)
        .on_hover_text("CycleGAN learns to turn images of the Data set into this one's and back");
    ui.end_row();
    let l = ui.label("Data A");
    egui::ComboBox::from_id_salt("data-a-shapes")
        .selected_text("or one shape…")
        .show_ui(ui, |ui| {
            for c in crate::data::shapes::CLASS_NAMES {
                let d = DataSource::ShapesOf(c.to_string());
                let label = data_label(&d);
                ui.selectable_value(&mut run.data, d, label);
            }
        })
        .response
        .labelled_by(l.id);
    ui.end_row();
}

/// What the server field holds when Remote… is first picked (`latentlab serve`'s default).
const REMOTE_EXAMPLE: &str = "ws://127.0.0.1:3000";

/// The remote server's address and token file, shown while the device is Remote…. The
/// connection is made by the training thread when the run starts (with a timeout), and the
/// token is read there: the form holds only the file's path.
fn remote_rows(ui: &mut egui::Ui, run: &mut RunOptions) {
    let DeviceChoice::Remote(address) = &mut run.device else {
        return;
    };
    let l = ui.label("Server");
    ui.add(egui::TextEdit::singleline(address).hint_text(REMOTE_EXAMPLE))
        .labelled_by(l.id)
        .on_hover_text(
            "ws://HOST:PORT, iroh:ID or iroh:ID@HOST:PORT, as `latentlab serve` printed it",
        );
    ui.end_row();
    let l = ui.label("Token file");
    let mut text = run
        .token_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let r = ui
        .add(egui::TextEdit::singleline(&mut text).hint_text("or set LATENTLAB_TOKEN"))
        .labelled_by(l.id)
        .on_hover_text("the server's token file, copied from the server");
    if r.changed() {
        let t = text.trim();
        run.token_file = (!t.is_empty()).then(|| std::path::PathBuf::from(t));
    }
    ui.end_row();
}
