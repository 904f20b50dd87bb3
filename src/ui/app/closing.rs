//! Closing the window: an unsaved run is asked about (Save / Discard / Cancel), and a
//! termination signal saves it into the recovery directory without asking.

use super::LatentLabApp;
use crate::train::Command;
use crate::ui::actions::Action;
use eframe::egui;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Closing the window with an unsaved run: ask Save / Discard / Cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Closing {
    #[default]
    No,
    /// The Save / Discard / Cancel question is showing.
    Asking,
    /// Save was chosen: close once the save has succeeded.
    AfterSave,
    /// Nothing (more) to ask: let the window close.
    Allowed,
}

/// How long closing waits for a save or step under way on the training thread.
pub(super) const CLOSE_WAIT: Duration = Duration::from_secs(60);

impl LatentLabApp {
    /// A termination signal (logout, `kill`, Ctrl-C in the terminal): nobody may be there to
    /// answer a question, so an unsaved run is saved into the recovery directory, then the
    /// window closes.
    pub(super) fn on_signal(&mut self, ctx: &egui::Context) {
        let n = self.signals.load(Ordering::SeqCst);
        if n <= self.signals_seen {
            return;
        }
        self.signals_seen = n;
        self.closing_by_signal = true;
        let target = self
            .recovery_dir
            .as_deref()
            .map(crate::checkpoint::recovered_run);
        match target {
            Some(path) if self.train.unsaved() => {
                self.notice(format!(
                    "signal received: saving the run to {} before closing",
                    path.display()
                ));
                self.closing = Closing::AfterSave;
                self.training.send(Command::Save(path));
            }
            _ => {
                self.closing = Closing::Allowed;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }

    /// A close request with an unsaved run is held back and asked about.
    pub(super) fn guard_close(&mut self, ctx: &egui::Context) {
        if !ctx.input(|i| i.viewport().close_requested()) {
            return;
        }
        match self.closing {
            Closing::Allowed => {}
            _ if !self.train.unsaved() => self.closing = Closing::Allowed,
            _ => {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                if self.closing == Closing::No {
                    self.closing = Closing::Asking;
                }
            }
        }
    }

    pub(super) fn close_window(&mut self, ctx: &egui::Context) {
        if self.closing != Closing::Asking {
            return;
        }
        let mut choice = None;
        egui::Window::new("Unsaved run")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                let saved = match self.train.saved_step {
                    Some(s) if s > 0 => format!("the last save holds step {s}"),
                    _ => "it has never been saved".into(),
                };
                ui.label(format!(
                    "The run is at step {}, and {saved}. Save it before closing?",
                    self.train.step
                ));
                ui.horizontal(|ui| {
                    if ui.button("Save…").clicked() {
                        choice = Some(Closing::AfterSave);
                    }
                    if ui.button("Discard").clicked() {
                        choice = Some(Closing::Allowed);
                    }
                    if ui.button("Cancel").clicked() {
                        choice = Some(Closing::No);
                    }
                });
            });
        match choice {
            Some(Closing::AfterSave) => {
                self.closing = Closing::AfterSave;
                self.act(Action::SaveCheckpoint);
            }
            Some(Closing::Allowed) => {
                self.closing = Closing::Allowed;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            Some(_) => self.closing = Closing::No,
            None => {}
        }
    }
}
