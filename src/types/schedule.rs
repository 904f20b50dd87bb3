//! Learning-rate schedules: a linear warm-up, then constant, linear or cosine decay to zero at
//! the schedule's last step. Stored in the manifest with the steps it spans, so a resumed run
//! continues where it left off.

use serde::{Deserialize, Serialize};

/// How the rate falls after the warm-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LrShape {
    /// The rate stays as set (after any warm-up). The default.
    #[default]
    Constant,
    /// Falls in a straight line to zero at the last step (CycleGAN's recipe).
    Linear,
    /// Falls along half a cosine to zero at the last step (SGDR without restarts).
    Cosine,
}

impl LrShape {
    pub const ALL: [LrShape; 3] = [LrShape::Constant, LrShape::Linear, LrShape::Cosine];

    pub fn name(self) -> &'static str {
        match self {
            LrShape::Constant => "constant",
            LrShape::Linear => "linear",
            LrShape::Cosine => "cosine",
        }
    }
}

/// A run's schedule: the rates set for G and D are multiplied by [`LrSchedule::factor`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LrSchedule {
    pub shape: LrShape,
    /// Steps over which the rate climbs linearly from 1/warmup of itself to all of it.
    pub warmup: u64,
    /// The step the schedule starts at (0, or where a resumed run chose a new schedule).
    pub start: u64,
    /// The step where a decaying schedule reaches zero (the run's last step); unused by
    /// a constant one.
    pub end: u64,
}

impl LrSchedule {
    /// Constant with no warm-up: every older run's schedule.
    pub fn is_constant(&self) -> bool {
        self.shape == LrShape::Constant && self.warmup == 0
    }

    /// A decaying schedule has nothing left to give from `step` on (its rate is zero).
    pub fn ended_by(&self, step: u64) -> bool {
        self.shape != LrShape::Constant && step >= self.end
    }

    /// The multiplier of the set rates at `step` (the update that step makes), in [0, 1].
    pub fn factor(&self, step: u64) -> f64 {
        let t = step.saturating_sub(self.start);
        let warm = if self.warmup > 0 {
            ((t + 1) as f64 / self.warmup as f64).min(1.0)
        } else {
            1.0
        };
        // The decay starts after the warm-up and reaches zero at `end`.
        let span = self
            .end
            .saturating_sub(self.start)
            .saturating_sub(self.warmup);
        let done = if span == 0 {
            0.0
        } else {
            (t.saturating_sub(self.warmup) as f64 / span as f64).min(1.0)
        };
        let decay = match self.shape {
            LrShape::Constant => 1.0,
            LrShape::Linear => 1.0 - done,
            LrShape::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * done).cos()),
        };
        warm * decay
    }

    /// One line for logs and `inspect`.
    pub fn describe(&self) -> String {
        let warm = match self.warmup {
            0 => String::new(),
            w => format!(" after a {w}-step warm-up"),
        };
        match self.shape {
            LrShape::Constant => format!("constant{warm}"),
            s => format!("{} to zero at step {}{warm}", s.name(), self.end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_climbs_then_decay_reaches_zero_at_the_end() {
        let s = LrSchedule {
            shape: LrShape::Cosine,
            warmup: 10,
            start: 0,
            end: 110,
        };
        assert!((s.factor(0) - 0.1).abs() < 1e-12);
        assert_eq!(s.factor(9), 1.0);
        assert!(
            (s.factor(60) - 0.5).abs() < 1e-12,
            "half way down the cosine"
        );
        assert_eq!(s.factor(110), 0.0);
        assert!(s.ended_by(110) && !s.ended_by(109));
        let lin = LrSchedule {
            shape: LrShape::Linear,
            ..s
        };
        assert!((lin.factor(35) - 0.75).abs() < 1e-12);
        // A schedule chosen at step 1000 of a resumed run starts there.
        let later = LrSchedule {
            start: 1000,
            end: 1100,
            warmup: 0,
            ..lin
        };
        assert_eq!(later.factor(1000), 1.0);
        assert!((later.factor(1050) - 0.5).abs() < 1e-12);
        assert_eq!(LrSchedule::default().factor(123_456), 1.0);
    }
}
