//! The Train tab's live charts (egui_plot): losses raw and smoothed, D(x) and D(G(z)) with the
//! 0.5 line, ACGAN's class accuracy, InfoGAN's information term, a Boltzmann machine's
//! monitors, throughput, and the quality meter's curve; hyper-parameter changes and training
//! phases as vertical markers on each.

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

/// Reads one number of a step's metrics.
type Pick = fn(&StepMetrics) -> f32;

/// Two series of `metrics`, D-coloured and G-coloured, each raw (faint) and smoothed (bold).
fn pair(
    p: &mut egui_plot::PlotUi<'_>,
    metrics: &[StepMetrics],
    smoothing: f32,
    series_d: (&str, Pick),
    series_g: (&str, Pick),
) {
    for ((name, pick), color) in [(series_d, D_COLOR), (series_g, G_COLOR)] {
        let (x, y) = series(metrics, pick);
        let s = smooth(&y, smoothing as f64);
        p.line(Line::new(format!("{name} (raw)"), points(&x, &y)).color(faint(color)));
        p.line(Line::new(name, points(&x, &s)).color(color).width(2.0));
    }
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
    base("plot-losses", "loss", height).show(ui, |p| {
        pair(
            p,
            metrics,
            smoothing,
            (d_name, |m| m.loss_d),
            (g_name, |m| m.loss_g),
        );
        markers(p, marks);
    });
}

/// One series, raw (faint) and smoothed (bold).
fn single(
    p: &mut egui_plot::PlotUi<'_>,
    metrics: &[StepMetrics],
    smoothing: f32,
    (name, pick): (&str, Pick),
    color: Color32,
) {
    let (x, y) = series(metrics, pick);
    let s = smooth(&y, smoothing as f64);
    p.line(Line::new(format!("{name} (raw)"), points(&x, &y)).color(faint(color)));
    p.line(Line::new(name, points(&x, &s)).color(color).width(2.0));
}

/// A Boltzmann machine's four charts: reconstruction error, pseudo-log-likelihood, the
/// free-energy gap between held-out and training images, and weight and hidden-unit
/// statistics (all of the layer being trained).
pub fn boltzmann(
    ui: &mut egui::Ui,
    metrics: &[StepMetrics],
    marks: &[Marker],
    smoothing: f32,
    height: f32,
) {
    base("plot-recon", "reconstruction error", height)
        .include_y(0.0)
        .show(ui, |p| {
            single(
                p,
                metrics,
                smoothing,
                ("reconstruction error", |m| m.loss_d),
                D_COLOR,
            );
            markers(p, marks);
        });
    base("plot-pll", "pseudo-log-likelihood", height).show(ui, |p| {
        let pll: Pick = |m| m.pseudo_log_likelihood();
        single(
            p,
            metrics,
            smoothing,
            ("pseudo-log-likelihood", pll),
            G_COLOR,
        );
        markers(p, marks);
    });
    base("plot-gap", "free energy gap", height)
        .include_y(0.0)
        .show(ui, |p| {
            let gap: Pick = |m| m.free_energy_gap.unwrap_or(f32::NAN);
            // Measured every few updates: no smoothing, points visible.
            let (x, y) = series(metrics, gap);
            p.line(
                Line::new("F(held-out) - F(train)", points(&x, &y))
                    .color(MARK_COLOR)
                    .width(2.0),
            );
            p.hline(
                HLine::new("0: no gap", 0.0)
                    .color(Color32::GRAY)
                    .style(egui_plot::LineStyle::dashed_dense()),
            );
            markers(p, marks);
        });
    base("plot-stats", "weights and hidden units", height)
        .include_y(0.0)
        .show(ui, |p| {
            pair(
                p,
                metrics,
                smoothing,
                ("weight RMS", |m| m.weight_rms.unwrap_or(f32::NAN)),
                ("mean P(h=1|v)", |m| m.hidden_mean.unwrap_or(f32::NAN)),
            );
            markers(p, marks);
        });
}

/// What a D's second head reports: ACGAN's class accuracy, or InfoGAN's information term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuxHead {
    /// The fraction of real and of generated images whose class D names correctly.
    Class,
    /// The information loss (lower is more mutual information) and the share of generated
    /// images whose categorical code Q reads back.
    Info,
}

/// The second head's two curves, on a 0-1 scale.
pub fn aux_head(
    ui: &mut egui::Ui,
    metrics: &[StepMetrics],
    marks: &[Marker],
    smoothing: f32,
    height: f32,
    head: AuxHead,
) {
    let (id, title, a, b): (&str, &str, (&str, Pick), (&str, Pick)) = match head {
        AuxHead::Class => (
            "plot-class",
            "D's class accuracy",
            ("on real", |m| m.class_acc_real.unwrap_or(f32::NAN)),
            ("on generated", |m| m.class_acc_fake.unwrap_or(f32::NAN)),
        ),
        AuxHead::Info => (
            "plot-info",
            "codes",
            ("information loss", |m| m.info_loss.unwrap_or(f32::NAN)),
            ("Q's code accuracy", |m| m.code_acc.unwrap_or(f32::NAN)),
        ),
    };
    base(id, title, height)
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |p| {
            pair(p, metrics, smoothing, a, b);
            markers(p, marks);
        });
}

/// An image-to-image run's own measure: a super-resolution net's PSNR on each training batch
/// in dB (higher is closer to the originals), or a CycleGAN's round-trip error (lower is
/// better).
pub fn restoration(
    ui: &mut egui::Ui,
    metrics: &[StepMetrics],
    marks: &[Marker],
    smoothing: f32,
    height: f32,
) {
    let psnr = metrics.last().is_some_and(|m| m.psnr.is_some());
    let (id, title, name, pick): (&str, &str, &str, Pick) = if psnr {
        ("plot-psnr", "PSNR on the batch (dB)", "PSNR", |m| {
            m.psnr.unwrap_or(f32::NAN)
        })
    } else {
        ("plot-cycle", "round-trip error", "cycle error", |m| {
            m.content_loss.unwrap_or(f32::NAN)
        })
    };
    base(id, title, height).show(ui, |p| {
        single(p, metrics, smoothing, (name, pick), Color32::LIGHT_BLUE);
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
    base("plot-d", "mean D output", height)
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |p| {
            let real: Pick = |m| m.d_real;
            let fake: Pick = |m| m.d_fake_before;
            pair(p, metrics, smoothing, ("D(x)", real), ("D(G(z))", fake));
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

/// The fixed-noise samples' diversity as a share of the data's, with the mode-collapse
/// alarm's floor.
pub fn diversity(ui: &mut egui::Ui, values: &[(u64, f32)], marks: &[Marker], height: f32) {
    let x: Vec<f64> = values.iter().map(|(s, _)| *s as f64).collect();
    let y: Vec<f64> = values.iter().map(|(_, r)| *r as f64).collect();
    base("plot-diversity", "diversity / data's", height)
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |p| {
            p.line(
                Line::new("sample diversity", points(&x, &y))
                    .color(Color32::from_rgb(220, 190, 60))
                    .width(2.0),
            );
            p.hline(
                HLine::new(
                    "collapse alarm",
                    crate::quality::collapse::DIVERSITY_FLOOR as f64,
                )
                .color(Color32::GRAY)
                .style(egui_plot::LineStyle::dashed_loose()),
            );
            markers(p, marks);
        });
}

/// The quality meter over the run: classifier accuracy on per-label samples (conditional
/// models) or class coverage, the predicted-class entropy relative to its maximum, and k-NN
/// precision and recall, with the newest real-against-real recall as the line to reach.
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
    let precision: Vec<f64> = scores.iter().map(|(_, s)| s.precision).collect();
    let recall: Vec<f64> = scores.iter().map(|(_, s)| s.recall).collect();
    let reference = scores.last().and_then(|(_, s)| s.real_vs_real);
    base("plot-quality", "share (0-1)", height)
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |p| {
            if acc.iter().any(|a| a.is_finite()) {
                p.line(Line::new("label accuracy", points(&x, &acc)).width(2.0));
            }
            p.line(Line::new("classes covered", points(&x, &cover)));
            p.line(Line::new("entropy / max", points(&x, &entropy)));
            p.line(Line::new("precision", points(&x, &precision)));
            p.line(Line::new("recall", points(&x, &recall)));
            if let Some(r) = reference {
                p.hline(
                    HLine::new("recall, real against real", r.recall)
                        .color(Color32::GRAY)
                        .style(egui_plot::LineStyle::dashed_loose()),
                );
            }
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
