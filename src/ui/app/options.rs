//! How the app starts ([`AppOptions`]) and how often training redraws it.

use crate::ui::dialogs::{Dialogs, NativeDialogs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

/// The longest a training event waits for its redraw: 15 frames a second on a GPU; about 3 on a
/// software renderer (llvmpipe), where a frame costs the training thread ~100 ms of CPU.
pub const TRAINING_REPAINT_GPU: std::time::Duration = std::time::Duration::from_millis(66);
pub const TRAINING_REPAINT_SOFTWARE: std::time::Duration = std::time::Duration::from_millis(300);

/// The training redraw interval for the window's renderer.
pub fn training_repaint(
    render_state: Option<&eframe::egui_wgpu::RenderState>,
) -> std::time::Duration {
    let software =
        render_state.is_none_or(|rs| rs.adapter.get_info().device_type == wgpu::DeviceType::Cpu);
    if software {
        TRAINING_REPAINT_SOFTWARE
    } else {
        TRAINING_REPAINT_GPU
    }
}

/// How the app starts.
pub struct AppOptions {
    pub dialogs: Arc<dyn Dialogs>,
    /// Loaded into the explorer at start (unless the stored settings name a checkpoint that
    /// still exists).
    pub initial_checkpoint: Option<PathBuf>,
    /// Ignore stored settings (tests).
    pub fresh_settings: bool,
    /// Write frame-time statistics here every 30 s and on exit.
    pub frame_log: Option<PathBuf>,
    /// Termination signals received (SIGINT, SIGTERM, SIGHUP; counted by the launcher's
    /// handler): the first saves an unsaved run into `recovery_dir` and closes the window.
    pub signals: Arc<AtomicUsize>,
    /// Where a signal saves an unsaved run (`run-UNIXTIME` inside it).
    pub recovery_dir: Option<PathBuf>,
    /// Open this run in Explore, over the one the stored settings name (`latentlab app
    /// --checkpoint`).
    pub open_checkpoint: Option<PathBuf>,
    /// The Train form's choices, over the stored ones (`latentlab app` with train flags).
    pub run: Option<crate::train::RunOptions>,
    /// Start training at once (`latentlab app --start`).
    pub autostart: bool,
}

impl AppOptions {
    /// What `latentlab` with no subcommand uses: native dialogs and the shipped cDCGAN.
    pub fn for_launch() -> Self {
        let shipped = crate::checkpoint::shipped_dir("mnist-cdcgan");
        Self {
            dialogs: Arc::new(NativeDialogs),
            initial_checkpoint: shipped
                .join(crate::checkpoint::MANIFEST)
                .is_file()
                .then_some(shipped),
            fresh_settings: false,
            frame_log: std::env::var_os("LATENTLAB_FRAME_LOG").map(PathBuf::from),
            signals: Arc::new(AtomicUsize::new(0)),
            recovery_dir: crate::checkpoint::recovery_dir(),
            open_checkpoint: None,
            run: None,
            autostart: false,
        }
    }
}
