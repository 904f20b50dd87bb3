//! The explorer thread's replies, each routed to the tab state it is for.

use super::LatentLabApp;
use crate::explore::worker::{Reply, Tag};

impl LatentLabApp {
    pub(super) fn on_reply(&mut self, r: Reply) {
        match r {
            Reply::Loaded(info) => {
                self.notice(format!("loaded {}", info.origin));
                self.interp.on_model_changed();
                self.translate.on_model_changed();
                let cached = info
                    .path
                    .as_deref()
                    .and_then(crate::explore::directions::cache_path);
                for req in self.explore.on_loaded(info) {
                    self.explorer.send(req);
                }
                if let Some(path) = cached {
                    self.read_directions(path, true);
                }
            }
            Reply::Images {
                tag: Tag::Candidates,
                grid,
                ..
            } => self.interp.on_candidates(grid),
            Reply::Images {
                tag: Tag::Strip,
                values,
                grid,
                ..
            } => {
                let shape = self.explore.shape();
                self.interp.on_strip(&values, grid, shape);
            }
            Reply::Images {
                tag,
                values,
                grid,
                millis,
                ..
            } => self.explore.on_images(tag, &values, grid, millis),
            Reply::StyleImages {
                tag,
                grid,
                ws,
                millis,
                ..
            } => self.explore.on_style_images(tag, grid, ws, millis),
            Reply::JobProgress { id, fraction, text } => {
                self.explore.on_job_progress(id, fraction, text)
            }
            Reply::JobDone { id, result } => {
                let after = self.explore.on_job_done(id, result);
                self.after_job(after);
            }
            Reply::JobFailed { id, text } => {
                let after = self.explore.on_job_failed(id, text);
                self.after_job(after);
            }
            Reply::Encoded { points, labels } => self.explore.scatter = Some((points, labels)),
            Reply::Gibbs(frame) => self.explore.gibbs.on_frame(frame),
            Reply::Translated(t) => self.translate.on_result(&self.ctx, *t),
            Reply::Pyramid(p) => self.translate.on_pyramid(&self.ctx, *p),
            Reply::DeviceChanged {
                description,
                remote,
            } => {
                self.notice(format!("explorer: the generator runs on {description}"));
                self.explore.remote = remote;
            }
            Reply::Error(text) => {
                self.explore.on_explorer_error();
                self.notice(format!("explorer: {text}"));
            }
        }
    }
}
