//! The Train tab's run form: the choices of [`RunOptions`] a run starts with (model, loss, data,
//! batch, seed, device, how often to sample and score).

use super::actions::Action;
use crate::data::DataSource;
use crate::device::DeviceChoice;
use crate::model::ModelKind;
use crate::train::RunOptions;
use crate::train::objective::Loss;
use eframe::egui;

/// The name a user sees for a model family.
pub fn model_label(k: ModelKind) -> &'static str {
    match k {
        ModelKind::Mlp => "MLP GAN",
        ModelKind::Dcgan => "DCGAN-28",
        ModelKind::Cmlp => "conditional MLP GAN",
        ModelKind::Cdcgan => "conditional DCGAN-28",
        ModelKind::Acgan => "ACGAN (D also classifies)",
        ModelKind::Infogan => "InfoGAN (codes learned without labels)",
        ModelKind::Vae => "VAE",
    }
}

const KINDS: [ModelKind; 7] = [
    ModelKind::Mlp,
    ModelKind::Dcgan,
    ModelKind::Cmlp,
    ModelKind::Cdcgan,
    ModelKind::Acgan,
    ModelKind::Infogan,
    ModelKind::Vae,
];
const LOSSES: [Loss; 4] = [Loss::Nonsat, Loss::Minimax, Loss::Lsgan, Loss::WganGp];

fn data_label(d: &DataSource) -> String {
    match d {
        DataSource::Default => "digits (embedded, 5,000)".into(),
        DataSource::Fashion => "Fashion-MNIST".into(),
        DataSource::Path(p) => format!("folder: {}", p.display()),
    }
}

pub fn show(ui: &mut egui::Ui, run: &mut RunOptions, out: &mut Vec<Action>) {
    egui::Grid::new("train-settings")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            let l = ui.label("Model");
            egui::ComboBox::from_id_salt("model")
                .selected_text(model_label(run.model))
                .show_ui(ui, |ui| {
                    for k in KINDS {
                        ui.selectable_value(&mut run.model, k, model_label(k));
                    }
                })
                .response
                .labelled_by(l.id);
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
                    ui.selectable_value(
                        &mut run.data,
                        DataSource::Fashion,
                        data_label(&DataSource::Fashion),
                    );
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
            let l = ui.label("Batch");
            ui.add(egui::DragValue::new(&mut run.batch).range(1..=1024))
                .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Seed");
            ui.add(egui::DragValue::new(&mut run.seed))
                .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Device");
            egui::ComboBox::from_id_salt("device")
                .selected_text(format!("{:?}", run.device).to_lowercase())
                .show_ui(ui, |ui| {
                    for d in [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Wgpu] {
                        ui.selectable_value(&mut run.device, d, format!("{d:?}").to_lowercase());
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
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
        });
}
