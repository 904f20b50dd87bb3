//! The mode-collapse alarm. A collapsing GAN draws the same few images for every noise
//! vector, so the cheap signal is always on: the mean pairwise distance between the
//! fixed-noise samples of the trained weights, as a share of the same distance between real
//! images (the sample *diversity*, 1.0 when as varied as the data). When the run also scores
//! with the meter, a class histogram that covers few classes or has a low entropy is the
//! second signal.
//!
//! Thresholds, from what runs measure (`latentlab score` prints the diversity):
//! - every shipped GAN reads 0.99 to 1.08 (DCGAN, conditional, ACGAN, InfoGAN, style, on
//!   digits, fashion and shapes); an untrained G reads 0.00 to 0.06;
//! - a DCGAN on the digits passes 0.8 by step 200 (0.47 at 100, 0.97 at 800); an MLP GAN rises
//!   slowly (0.10 at 300, 0.46 at 800) and is not collapsed, only blurry;
//! - a tiny DCGAN on four patterns dips to 0.05 at step 250 on its way to 0.9 (a passing
//!   phase of early training), while a tiny MLP GAN there ends drawing one pattern (0.05 from
//!   step 500 on): a real collapse.
//!
//! So the alarm sounds when a run that has taken off ([`DIVERSITY_TAKE_OFF`], 0.6) falls under
//! [`DIVERSITY_FLOOR`] (0.4, with room on both sides of healthy runs), or when after
//! [`GRACE_STEPS`] it is still under [`SEVERE_FLOOR`] (0.15: every healthy run measured is
//! above it long before). The meter sounds it when at most half the classes are drawn, or the
//! class histogram's entropy is under half its maximum (healthy digit runs: 10/10 at 3.0-3.3
//! bits of 3.32; the shapes runs 1.4-1.8 of 2.0).

/// The alarm sounds under this share of the data's diversity, once the run has taken off.
pub const DIVERSITY_FLOOR: f32 = 0.4;
/// A run has taken off once its samples reach this share of the data's diversity.
pub const DIVERSITY_TAKE_OFF: f32 = 0.6;
/// Steps after which a run still this undiverse is collapsed (or not learning).
pub const GRACE_STEPS: u64 = 1000;
/// See [`GRACE_STEPS`].
pub const SEVERE_FLOOR: f32 = 0.15;
/// The meter's entropy floor, as a share of log2(classes).
pub const ENTROPY_FLOOR: f32 = 0.5;

/// Mean pairwise root-mean-square distance between `images` (each `len` values).
pub fn mean_pairwise_distance(images: &[f32], len: usize) -> f32 {
    let v: Vec<&[f32]> = images.chunks_exact(len.max(1)).collect();
    let (mut sum, mut pairs) = (0.0f64, 0u64);
    for (i, a) in v.iter().enumerate() {
        for b in &v[i + 1..] {
            let d: f32 = a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum();
            sum += (d / len as f32).sqrt() as f64;
            pairs += 1;
        }
    }
    if pairs == 0 {
        0.0
    } else {
        (sum / pairs as f64) as f32
    }
}

/// What raised the alarm.
#[derive(Debug, Clone, PartialEq)]
pub enum CollapseSign {
    /// The samples' diversity as a share of the data's.
    Diversity(f32),
    /// The meter's classes drawn (of all) and the entropy of its histogram, in bits.
    Classes {
        covered: usize,
        classes: usize,
        entropy_bits: f32,
    },
}

impl CollapseSign {
    /// One line: what was seen, and what to try.
    pub fn describe(&self) -> String {
        let seen = match self {
            CollapseSign::Diversity(r) => format!(
                "the samples are {:.0}% as varied as the data (alarm under {:.0}%)",
                r * 100.0,
                DIVERSITY_FLOOR * 100.0
            ),
            CollapseSign::Classes {
                covered,
                classes,
                entropy_bits,
            } => format!(
                "the meter sees {covered} of {classes} classes drawn, entropy {entropy_bits:.2} \
                 bits of {:.2}",
                (*classes as f32).log2()
            ),
        };
        format!(
            "mode collapse? {seen}. Try: a lower learning rate for D or G (--lr-d, --lr-g), \
             --loss wgan-gp or lsgan, a larger batch, or resume from an earlier save"
        )
    }
}

/// Watches a run's diversity and meter readings; raises each alarm once per fall.
#[derive(Debug, Clone, Default)]
pub struct CollapseWatch {
    took_off: bool,
    raised: bool,
}

impl CollapseWatch {
    /// The fixed-noise samples' diversity at a sample step.
    pub fn diversity(&mut self, step: u64, ratio: f32) -> Option<CollapseSign> {
        if ratio >= DIVERSITY_TAKE_OFF {
            self.took_off = true;
            self.raised = false;
            return None;
        }
        let fell = self.took_off && ratio < DIVERSITY_FLOOR;
        let never = step >= GRACE_STEPS && ratio < SEVERE_FLOOR;
        self.raise(fell || never, CollapseSign::Diversity(ratio))
    }

    /// The meter's class coverage and entropy.
    pub fn classes(
        &mut self,
        covered: usize,
        classes: usize,
        entropy_bits: f32,
    ) -> Option<CollapseSign> {
        if classes < 2 {
            return None;
        }
        let low = covered * 2 <= classes || entropy_bits < ENTROPY_FLOOR * (classes as f32).log2();
        self.raise(
            low,
            CollapseSign::Classes {
                covered,
                classes,
                entropy_bits,
            },
        )
    }

    fn raise(&mut self, low: bool, sign: CollapseSign) -> Option<CollapseSign> {
        if low && !self.raised {
            self.raised = true;
            return Some(sign);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_images_have_no_diversity() {
        let one = [0.5f32; 8];
        assert_eq!(mean_pairwise_distance(&one.repeat(4), 8), 0.0);
        let two = [[0.0f32; 4], [1.0; 4]].concat();
        assert!((mean_pairwise_distance(&two, 4) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_alarm_waits_for_take_off_and_sounds_once_per_fall() {
        let mut w = CollapseWatch::default();
        assert_eq!(
            w.diversity(0, 0.05),
            None,
            "an untrained G is not a collapse"
        );
        assert_eq!(w.diversity(300, 0.3), None, "nor a slow start");
        assert_eq!(w.diversity(400, 0.9), None);
        assert_eq!(w.diversity(500, 0.2), Some(CollapseSign::Diversity(0.2)));
        assert_eq!(w.diversity(600, 0.1), None, "once per fall");
        assert_eq!(w.diversity(700, 0.9), None);
        assert!(
            w.diversity(800, 0.3).is_some(),
            "a second fall sounds again"
        );
        let mut late = CollapseWatch::default();
        assert_eq!(late.diversity(900, 0.1), None);
        assert!(
            late.diversity(1000, 0.1).is_some(),
            "still undiverse after the grace"
        );
    }
}
