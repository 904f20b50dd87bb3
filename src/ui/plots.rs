//! The Train tab's live charts (egui_plot): losses raw and smoothed, D(x) and D(G(z)) with the
//! 0.5 line, ACGAN's class accuracy, throughput, and the quality meter's curve; hyper-parameter changes as vertical
//! markers on each.

use crate::quality::Score;
use crate::train::StepMetrics;
use eframe::egui::{self, Color32};
use egui_plot::{HLine, Legend, Line, Plot, PlotPoints, VLine};

/// A hyper-parameter change mid-run, marked on every chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub step: u64,
    pub text: String,
}

const D_COLOR: Color32 = Color32::from_rgb(230, 120, 40);
const G_COLOR: Color32 = Color32::from_rgb(60, 140, 230);
const MARK_COLOR: Color32 = Color32::from_rgb(170, 90, 200);

/// Exponential moving average with bias correction (the first points are not pulled to 0).
/// `alpha` = 0 returns the raw values.
pub fn smooth(values: &[f64], alpha: f64) -> Vec<f64> {
    let alpha = alpha.clamp(0.0, 0.999);
    let mut avg = 0.0;
    let mut weight = 0.0;
    values
        .iter()
        .map(|&v| {
            avg = alpha * avg + (1.0 - alpha) * v;
            weight = alpha * weight + (1.0 - alpha);
            avg / weight
        })
        .collect()
}

fn series(metrics: &[StepMetrics], f: impl Fn(&StepMetrics) -> f32) -> (Vec<f64>, Vec<f64>) {
    metrics
        .iter()
        .filter(|m| f(m).is_finite())
        .map(|m| (m.step as f64, f(m) as f64))
        .unzip()
}

fn points(x: &[f64], y: &[f64]) -> PlotPoints<'static> {
    PlotPoints::from(x.iter().zip(y).map(|(a, b)| [*a, *b]).collect::<Vec<_>>())
}

fn faint(c: Color32) -> Color32 {
    c.gamma_multiply(0.35)
}

fn markers(plot_ui: &mut egui_plot::PlotUi<'_>, markers: &[Marker]) {
    for m in markers {
        plot_ui.vline(
            VLine::new(format!("step {}: {}", m.step, m.text), m.step as f64)
                .color(MARK_COLOR)
                .style(egui_plot::LineStyle::dashed_loose()),
        );
    }
}

fn base(id: &str, y_label: &str, height: f32) -> Plot<'static> {
    Plot::new(id.to_string())
        .height(height)
        .legend(Legend::default())
        .x_axis_label("step")
        .y_axis_label(y_label.to_string())
        .allow_scroll(false)
}

/// Losses of both networks (for the VAE: reconstruction and KL), raw faint, smoothed bold.
pub fn losses(
    ui: &mut egui::Ui,
    metrics: &[StepMetrics],
    marks: &[Marker],
    smoothing: f32,
    vae: bool,
    height: f32,
) {
    let (d_name, g_name) = if vae {
        ("reconstruction", "KL")
    } else {
        ("loss_D", "loss_G")
    };
    let (xd, yd) = series(metrics, |m| m.loss_d);
    let (xg, yg) = series(metrics, |m| m.loss_g);
    let sd = smooth(&yd, smoothing as f64);
    let sg = smooth(&yg, smoothing as f64);
    base("plot-losses", "loss", height).show(ui, |p| {
        p.line(Line::new(format!("{d_name} (raw)"), points(&xd, &yd)).color(faint(D_COLOR)));
        p.line(Line::new(format!("{g_name} (raw)"), points(&xg, &yg)).color(faint(G_COLOR)));
        p.line(
            Line::new(d_name, points(&xd, &sd))
                .color(D_COLOR)
                .width(2.0),
        );
        p.line(
            Line::new(g_name, points(&xg, &sg))
                .color(G_COLOR)
                .width(2.0),
        );
        markers(p, marks);
    });
}

/// ACGAN: the fraction of real and of generated images whose class D names correctly.
pub fn class_accuracy(
    ui: &mut egui::Ui,
    metrics: &[StepMetrics],
    marks: &[Marker],
    smoothing: f32,
    height: f32,
) {
    let (xr, real) = series(metrics, |m| m.class_acc_real.unwrap_or(f32::NAN));
    let (xf, fake) = series(metrics, |m| m.class_acc_fake.unwrap_or(f32::NAN));
    let (sr, sf) = (
        smooth(&real, smoothing as f64),
        smooth(&fake, smoothing as f64),
    );
    base("plot-class", "D's class accuracy", height)
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |p| {
            p.line(Line::new("real (raw)", points(&xr, &real)).color(faint(D_COLOR)));
            p.line(Line::new("generated (raw)", points(&xf, &fake)).color(faint(G_COLOR)));
            p.line(
                Line::new("on real", points(&xr, &sr))
                    .color(D_COLOR)
                    .width(2.0),
            );
            p.line(
                Line::new("on generated", points(&xf, &sf))
                    .color(G_COLOR)
                    .width(2.0),
            );
            markers(p, marks);
        });
}

/// Mean D(x) on real data and D(G(z)) on generated data, with the 0.5 line of a confused D.
pub fn discriminator(
    ui: &mut egui::Ui,
    metrics: &[StepMetrics],
    marks: &[Marker],
    smoothing: f32,
    height: f32,
) {
    let (x, real) = series(metrics, |m| m.d_real);
    let (_, fake) = series(metrics, |m| m.d_fake_before);
    let (sr, sf) = (
        smooth(&real, smoothing as f64),
        smooth(&fake, smoothing as f64),
    );
    base("plot-d", "mean D output", height)
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |p| {
            p.line(Line::new("D(x) (raw)", points(&x, &real)).color(faint(D_COLOR)));
            p.line(Line::new("D(G(z)) (raw)", points(&x, &fake)).color(faint(G_COLOR)));
            p.line(Line::new("D(x)", points(&x, &sr)).color(D_COLOR).width(2.0));
            p.line(
                Line::new("D(G(z))", points(&x, &sf))
                    .color(G_COLOR)
                    .width(2.0),
            );
            p.hline(
                HLine::new("0.5: D cannot tell", 0.5)
                    .color(Color32::GRAY)
                    .style(egui_plot::LineStyle::dashed_dense()),
            );
            markers(p, marks);
        });
}

/// Training throughput.
pub fn throughput(
    ui: &mut egui::Ui,
    metrics: &[StepMetrics],
    marks: &[Marker],
    smoothing: f32,
    height: f32,
) {
    let (x, y) = series(metrics, |m| m.examples_per_sec);
    let s = smooth(&y, smoothing as f64);
    base("plot-speed", "examples/s", height)
        .include_y(0.0)
        .show(ui, |p| {
            p.line(
                Line::new("examples/s (raw)", points(&x, &y)).color(faint(Color32::LIGHT_GREEN)),
            );
            p.line(
                Line::new("examples/s", points(&x, &s))
                    .color(Color32::LIGHT_GREEN)
                    .width(2.0),
            );
            markers(p, marks);
        });
}

/// The quality meter over the run: classifier accuracy on per-label samples (conditional
/// models) or class coverage, and the predicted-class entropy relative to its maximum.
pub fn quality(ui: &mut egui::Ui, scores: &[(u64, Score)], marks: &[Marker], height: f32) {
    let x: Vec<f64> = scores.iter().map(|(s, _)| *s as f64).collect();
    let acc: Vec<f64> = scores
        .iter()
        .map(|(_, s)| s.overall_accuracy.unwrap_or(f32::NAN) as f64)
        .collect();
    let cover: Vec<f64> = scores
        .iter()
        .map(|(_, s)| s.classes_covered as f64 / s.classes.max(1) as f64)
        .collect();
    let entropy: Vec<f64> = scores
        .iter()
        .map(|(_, s)| s.entropy_bits as f64 / (s.classes.max(2) as f64).log2())
        .collect();
    base("plot-quality", "share (0-1)", height)
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |p| {
            if acc.iter().any(|a| a.is_finite()) {
                p.line(Line::new("label accuracy", points(&x, &acc)).width(2.0));
            }
            p.line(Line::new("classes covered", points(&x, &cover)));
            p.line(Line::new("entropy / max", points(&x, &entropy)));
            markers(p, marks);
        });
}

#[cfg(test)]
mod tests {
    use super::smooth;

    #[test]
    fn smoothing_keeps_constants_and_damps_noise() {
        assert_eq!(smooth(&[2.0, 2.0, 2.0], 0.9), vec![2.0, 2.0, 2.0]);
        assert_eq!(smooth(&[1.0, 3.0], 0.0), vec![1.0, 3.0]);
        let noisy: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 0.0 } else { 2.0 })
            .collect();
        let s = smooth(&noisy, 0.9);
        assert!((s[199] - 1.0).abs() < 0.15, "{}", s[199]);
    }
}
