//! The window's chrome: the tab bar, the status bar and the keyboard shortcuts.

use super::LatentLabApp;
use crate::train::Command;
use crate::ui::actions::Action;
use crate::ui::settings::Tab;
use crate::ui::train_panel::RunStatus;
use eframe::egui;

impl LatentLabApp {
    pub(super) fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() || !ctx.input(|i| i.key_pressed(egui::Key::Space)) {
            return;
        }
        match self.train.status {
            RunStatus::Running => self.act(Action::Train(Command::Pause)),
            RunStatus::Paused => self.act(Action::Train(Command::Resume)),
            _ => {}
        }
    }

    pub(super) fn top_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("latentlab");
                ui.separator();
                for (tab, name) in [
                    (Tab::Train, "Train"),
                    (Tab::Explore, "Explore"),
                    (Tab::Interpolate, "Interpolate"),
                    (Tab::Detect, "Detect"),
                    (Tab::Translate, "Translate"),
                ] {
                    ui.selectable_value(&mut self.settings.tab, tab, name);
                }
                ui.separator();
                // The run being trained and the model being explored are named apart: they
                // are often different models.
                let live = matches!(self.train.status, RunStatus::Running | RunStatus::Paused);
                if let (true, Some(m)) = (live, &self.train.model) {
                    ui.label(format!("training: {}", m.kind.name()))
                        .on_hover_text("the run in the Train tab");
                    ui.separator();
                }
                if let Some(info) = &self.explore.info {
                    ui.label(format!("exploring: {}", info.origin))
                        .on_hover_text("the model Explore and Interpolate use");
                }
            });
        });
    }

    pub(super) fn status_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                if let Some((median, p95)) = self.frame_stats.summary() {
                    ui.label(format!("UI frame {median:.1} ms (p95 {p95:.1})"));
                    ui.separator();
                }
                if self.busy_files > 0 {
                    ui.add(egui::Spinner::new());
                }
                if let Some(n) = self.notices.last() {
                    ui.label(n);
                }
            });
        });
    }
}
