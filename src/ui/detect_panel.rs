//! The Detect tab: the running GAN's discriminator as a real/fake detector. A histogram of
//! its P(real) on real images and on fresh samples with the ROC AUC, refreshed during
//! training, the AUC over the run, and D's verdict on images a user drops or picks.

use super::actions::Action;
use super::image_view::Tex;
use crate::detect::{Detection, Judged};
use crate::train::{Command, Event};
use eframe::egui::{self, Color32};
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints};

/// Histogram bins over P(real) in [0, 1].
pub const BINS: usize = 20;
/// Data images and fresh samples judged by "Judge samples".
pub const JUDGE_N: usize = 8;
const REAL: Color32 = Color32::from_rgb(230, 120, 40);
const FAKE: Color32 = Color32::from_rgb(60, 140, 230);

#[derive(Default)]
pub struct DetectState {
    pub latest: Option<Detection>,
    /// (step, AUC) over the run.
    pub auc: Vec<(u64, f64)>,
    pub judged: Option<Judged>,
    tiles: Vec<Tex>,
}

impl DetectState {
    /// Take in what the training thread reports; true when the event was the Detect tab's.
    pub fn apply(&mut self, e: &Event) -> bool {
        match e {
            Event::Detection(d) => {
                self.auc.push((d.step, d.auc));
                self.latest = Some(d.clone());
                true
            }
            Event::Judged(j) => {
                self.judged = Some(j.clone());
                self.tiles.clear();
                true
            }
            Event::Started { .. } => {
                *self = Self::default();
                false
            }
            _ => false,
        }
    }
}

/// Counts of `values` in `BINS` equal bins over [0, 1].
pub fn histogram(values: &[f32]) -> [usize; BINS] {
    let mut h = [0; BINS];
    for v in values.iter().filter(|v| v.is_finite()) {
        h[((v.clamp(0.0, 1.0) * BINS as f32) as usize).min(BINS - 1)] += 1;
    }
    h
}

fn bars(name: &str, values: &[f32], color: Color32) -> BarChart {
    let w = 1.0 / BINS as f64;
    let bars = histogram(values)
        .iter()
        .enumerate()
        .map(|(i, &c)| Bar::new((i as f64 + 0.5) * w, c as f64).width(w * 0.9))
        .collect();
    BarChart::new(name, bars).color(color.gamma_multiply(0.7))
}

pub fn show(ui: &mut egui::Ui, d: &mut DetectState, out: &mut Vec<Action>) {
    // A central panel gives the tab the window margin the other tabs have.
    egui::CentralPanel::default().show(ui, |ui| content(ui, d, out));
}

fn content(ui: &mut egui::Ui, d: &mut DetectState, out: &mut Vec<Action>) {
    ui.heading("The discriminator as a real/fake detector");
    ui.label(
        "During a GAN run, D scores 256 real images (every 10th of the data set; GAN training \
         sees them too) and 256 fresh samples of G each time the samples refresh. AUC 1 means D \
         tells them apart perfectly, 0.5 not at all: watch its edge shrink as G improves.",
    );
    match &d.latest {
        None => {
            ui.label("Start a GAN run in the Train tab: the histogram appears here.");
        }
        Some(latest) => {
            ui.label(format!("step {}: ROC AUC {:.3}", latest.step, latest.auc));
            let h = (ui.available_height() * 0.35).clamp(140.0, 320.0);
            Plot::new("detect-histogram")
                .height(h)
                .legend(Legend::default())
                .x_axis_label("P(real) = sigmoid(D(x))")
                .y_axis_label("images")
                .allow_scroll(false)
                .show(ui, |p| {
                    p.bar_chart(bars("real images", &latest.real, REAL));
                    p.bar_chart(bars("generated", &latest.fake, FAKE));
                });
            let points: Vec<[f64; 2]> = d.auc.iter().map(|(s, a)| [*s as f64, *a]).collect();
            Plot::new("detect-auc")
                .height(h * 0.6)
                .x_axis_label("step")
                .y_axis_label("ROC AUC")
                .include_y(0.5)
                .include_y(1.0)
                .allow_scroll(false)
                .show(ui, |p| {
                    p.line(
                        Line::new("AUC", PlotPoints::from(points))
                            .color(REAL)
                            .width(2.0),
                    );
                });
        }
    }
    ui.separator();
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Judge samples")
            .on_hover_text("D's verdict on 8 random data images and 8 fresh samples")
            .clicked()
        {
            out.push(Action::Train(Command::Judge {
                names: Vec::new(),
                images: Vec::new(),
                n: JUDGE_N,
            }));
        }
        ui.label("or drop pictures of the run's size on the window while this tab is open.");
    });
    let Some(j) = &d.judged else { return };
    if d.tiles.len() != j.verdicts.len() {
        d.tiles = (0..j.verdicts.len())
            .map(|i| {
                let mut t = Tex::named(&format!("judged-{i}"));
                let (side, channels) = j.shape;
                let len = channels * side * side;
                let px = j.images.get(i * len..(i + 1) * len).unwrap_or_default();
                t.set_picture(
                    ui.ctx(),
                    &crate::types::grid::grid_of(px, side, channels, 1),
                );
                t
            })
            .collect();
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        // Rows of JUDGE_N: the data images, then the samples.
        egui::Grid::new("judged").show(ui, |ui| {
            for (i, v) in j.verdicts.iter().enumerate() {
                ui.vertical(|ui| {
                    d.tiles[i].show(ui, egui::vec2(84.0, 84.0));
                    let name = j.names.get(i).map_or("", String::as_str);
                    ui.label(name);
                    let label = v.label.map_or(String::new(), |l| format!(" as {l}"));
                    ui.colored_label(
                        if v.p_real >= 0.5 { REAL } else { FAKE },
                        format!("P(real) {:.2}{label}", v.p_real),
                    );
                });
                if (i + 1) % JUDGE_N == 0 {
                    ui.end_row();
                }
            }
        });
    });
}
