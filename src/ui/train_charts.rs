//! The Train tab's centre: the mode-collapse banner and the charts that fit the model.

use super::plots;
use super::settings::Settings;
use super::train_panel::TrainState;
use crate::model::ModelKind;
use eframe::egui;

/// A coloured strip with `text` and a Dismiss button; true when dismissed.
pub fn banner(ui: &mut egui::Ui, fill: egui::Color32, text: String) -> bool {
    let mut dismissed = false;
    egui::Frame::new()
        .fill(fill)
        .inner_margin(6.0)
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(egui::Color32::WHITE, text);
                dismissed = ui.button("Dismiss").clicked();
            });
        });
    dismissed
}

/// The mode-collapse alarm, until dismissed: what fell, at which step, and what to try.
pub fn collapse_banner(ui: &mut egui::Ui, t: &mut TrainState) {
    if let Some((step, text)) = t.collapse.clone() {
        let amber = egui::Color32::from_rgb(95, 70, 20);
        if banner(ui, amber, format!("Step {step}: {text}")) {
            t.collapse = None;
        }
    }
}

pub fn charts(ui: &mut egui::Ui, s: &Settings, t: &TrainState) {
    let vae = t.model.as_ref().map_or(s.run.model, |m| m.kind) == ModelKind::Vae;
    let m = t.metrics();
    // Before a run starts, the charts of the model the form has chosen.
    let kind = t.model.as_ref().map_or(s.run.model, |m| m.kind);
    if kind.is_boltzmann() {
        let n_plots = 5.0 + if t.quality.is_empty() { 0.0 } else { 1.0 };
        let h = ((ui.available_height() - 20.0) / n_plots - 8.0).clamp(90.0, 320.0);
        egui::ScrollArea::vertical().show(ui, |ui| {
            plots::boltzmann(ui, m, &t.markers, s.smoothing, h);
            plots::throughput(ui, m, &t.markers, s.smoothing, h);
            if !t.quality.is_empty() {
                plots::quality(ui, &t.quality, &t.markers, h);
            }
        });
        return;
    }
    let class = m.last().is_some_and(|p| p.class_acc_real.is_some());
    let info = m.last().is_some_and(|p| p.info_loss.is_some());
    let psnr = m
        .last()
        .is_some_and(|p| p.psnr.is_some() || p.content_loss.is_some());
    let extra = [
        class,
        info,
        psnr,
        !t.diversity.is_empty(),
        !t.quality.is_empty(),
    ];
    let n_plots = 3.0 + extra.iter().filter(|x| **x).count() as f32;
    let h = ((ui.available_height() - 20.0) / n_plots - 8.0).clamp(110.0, 320.0);
    plots::losses(ui, m, &t.markers, s.smoothing, vae, h);
    if psnr {
        plots::restoration(ui, m, &t.markers, s.smoothing, h);
    }
    if !vae {
        plots::discriminator(ui, m, &t.markers, s.smoothing, h);
    }
    if class {
        plots::aux_head(ui, m, &t.markers, s.smoothing, h, plots::AuxHead::Class);
    }
    if info {
        plots::aux_head(ui, m, &t.markers, s.smoothing, h, plots::AuxHead::Info);
    }
    plots::throughput(ui, m, &t.markers, s.smoothing, h);
    if !t.diversity.is_empty() {
        plots::diversity(ui, &t.diversity, &t.markers, h);
    }
    if !t.quality.is_empty() {
        plots::quality(ui, &t.quality, &t.markers, h);
    }
}
