//! The desktop app (eframe/egui): Train, Explore and Interpolate tabs over the engine. Only
//! plain data reaches this module: configs, metrics, images and typed events.

pub mod actions;
pub mod app;
pub mod colormap;
pub mod detect_panel;
pub mod dialogs;
pub mod directions_panel;
pub mod explore_panel;
mod explore_replies;
pub mod explore_state;
pub mod frame_stats;
pub mod gibbs_panel;
pub mod gpu_view;
pub mod image_view;
pub mod info_codes;
pub mod interpolate_panel;
pub mod plots;
pub mod run_form;
pub mod settings;
pub mod style_panel;
pub mod style_state;
pub mod sweep_view;
pub mod train_charts;
pub mod train_panel;
pub mod translate_panel;

pub use app::{AppOptions, LatentLabApp};

use std::sync::{Arc, OnceLock};

/// Open the window (wgpu renderer) and run until it is closed.
pub fn run(options: AppOptions) -> anyhow::Result<()> {
    let native = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("latentlab")
            .with_app_id("latentlab")
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([800.0, 560.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    // SIGINT, SIGTERM, SIGHUP: the first wakes the app, which saves an unsaved run and closes;
    // a second exits at once.
    let ctx: Arc<OnceLock<eframe::egui::Context>> = Arc::new(OnceLock::new());
    let signals = {
        let ctx = ctx.clone();
        crate::signals::on_termination(move |n| {
            if n > 1 {
                crate::signals::exit_now();
            }
            if let Some(ctx) = ctx.get() {
                ctx.request_repaint();
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot install the signal handler: {e}"))?
    };
    let options = AppOptions { signals, ..options };
    eframe::run_native(
        "latentlab",
        native,
        Box::new(move |cc| {
            let _ = ctx.set(cc.egui_ctx.clone());
            Ok(Box::new(LatentLabApp::new(cc, options)?))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the latentlab window: {e}"))
}
