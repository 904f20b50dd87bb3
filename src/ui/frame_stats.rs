//! Frame times of the UI thread: the status bar's figures and the `LATENTLAB_FRAME_LOG` file.
//!
//! ## Training in the app, against the command line
//!
//! Under Xvfb with llvmpipe on the 2-core machine, one interleaved sequence
//! (CLI, app before, app at 200 ms, app at 300 ms, CLI; each app run 40 s of
//! `latentlab app --start --model dcgan --device cpu`, figures from `LATENTLAB_FRAME_LOG`):
//!
//! | | examples/s (median) | vs CLI | frame interval (median) |
//! |---|---|---|---|
//! | `latentlab train --model dcgan --device cpu` | 528, 543 | 1 | |
//! | app, a redraw per training event (before) | 286.5 | 0.54x | 111 ms |
//! | app, training redraws at most every 200 ms | 430.5 | 0.80x | 300 ms |
//! | app, at most every 300 ms (what a software renderer gets) | 503.1 | 0.94x | 415 ms |
//!
//! Measured again after the CPU work above (CLI 400 steps, the app 40 s, CLI 400 steps, one
//! sequence, on the build before the last `im2col` change): the CLI at 1079 and 1042 examples/s, the app at 1075.4 (1.01x of
//! their mean), with a median frame interval of 401 ms.

use crate::types::stats::percentile;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Frame times of the UI thread, for the status bar and the frame log.
#[derive(Default)]
pub struct FrameStats {
    /// Time spent building each frame's UI, ms.
    pub build_ms: VecDeque<f32>,
    /// Time between consecutive frames, ms (includes painting and waiting).
    pub interval_ms: VecDeque<f32>,
    last: Option<Instant>,
    /// Every sample since launch (for the log), bounded.
    all_build: Vec<f32>,
    all_interval: Vec<f32>,
}

const STATS_WINDOW: usize = 600;
const STATS_KEEP: usize = 200_000;

impl FrameStats {
    pub fn record(&mut self, started: Instant, build: Duration) {
        let ms = build.as_secs_f32() * 1000.0;
        push_bounded(&mut self.build_ms, ms);
        if self.all_build.len() < STATS_KEEP {
            self.all_build.push(ms);
        }
        if let Some(last) = self.last {
            let iv = started.duration_since(last).as_secs_f32() * 1000.0;
            push_bounded(&mut self.interval_ms, iv);
            if self.all_interval.len() < STATS_KEEP {
                self.all_interval.push(iv);
            }
        }
        self.last = Some(started);
    }

    /// (median, 95th percentile) of the recent build times, ms.
    pub fn summary(&self) -> Option<(f32, f32)> {
        let v: Vec<f32> = self.build_ms.iter().copied().collect();
        Some((percentile(&v, 0.5)?, percentile(&v, 0.95)?))
    }

    /// The log's JSON; `training` adds the steps trained and their median examples/s.
    pub fn log_json(&self, training: Option<(u64, f32)>) -> String {
        let stat = |v: &[f32]| {
            format!(
                "{{\"frames\": {}, \"median_ms\": {:.3}, \"p95_ms\": {:.3}, \"max_ms\": {:.3}}}",
                v.len(),
                percentile(v, 0.5).unwrap_or(0.0),
                percentile(v, 0.95).unwrap_or(0.0),
                v.iter().copied().fold(0.0, f32::max)
            )
        };
        let training = training
            .map(|(steps, rate)| {
                format!(
                    ", \"training\": {{\"steps\": {steps}, \"examples_per_sec_median\": {rate:.1}}}"
                )
            })
            .unwrap_or_default();
        format!(
            "{{\"ui_build\": {}, \"frame_interval\": {}{training}}}\n",
            stat(&self.all_build),
            stat(&self.all_interval)
        )
    }
}

fn push_bounded(q: &mut VecDeque<f32>, v: f32) {
    if q.len() == STATS_WINDOW {
        q.pop_front();
    }
    q.push_back(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_json_with_the_training_figures() {
        let mut f = FrameStats::default();
        let t0 = Instant::now();
        f.record(t0, Duration::from_millis(2));
        f.record(t0 + Duration::from_millis(100), Duration::from_millis(4));
        let with: serde_json::Value =
            serde_json::from_str(&f.log_json(Some((120, 431.5)))).expect("valid JSON");
        assert_eq!(with["training"]["steps"], 120);
        assert_eq!(with["training"]["examples_per_sec_median"], 431.5);
        assert_eq!(with["frame_interval"]["frames"], 1);
        let without: serde_json::Value =
            serde_json::from_str(&f.log_json(None)).expect("valid JSON");
        assert!(without.get("training").is_none());
    }
}
