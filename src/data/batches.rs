//! Seeded, shuffled mini-batches as f32 pixels in [-1, 1] plus labels.

use super::Dataset;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Walks a data set in a new seeded random order every epoch.
#[derive(Debug, Clone)]
pub struct Batcher {
    order: Vec<usize>,
    cursor: usize,
    seed: u64,
    pub epoch: u64,
}

impl Batcher {
    pub fn new(len: usize, seed: u64) -> Self {
        Self::over((0..len).collect(), seed)
    }

    /// Walks only `indices` (a training set with images held out).
    pub fn over(indices: Vec<usize>, seed: u64) -> Self {
        let mut b = Self {
            order: indices,
            cursor: 0,
            seed,
            epoch: 0,
        };
        b.shuffle();
        b
    }

    fn shuffle(&mut self) {
        let mut rng =
            StdRng::seed_from_u64(self.seed ^ self.epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        self.order.sort_unstable();
        self.order.shuffle(&mut rng);
    }

    /// The indices this batcher walks, in increasing order.
    pub fn indices(&self) -> Vec<usize> {
        let mut all = self.order.clone();
        all.sort_unstable();
        all
    }

    /// Indices of the next `batch` examples, wrapping into a new epoch when needed.
    pub fn next_indices(&mut self, batch: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(batch);
        while out.len() < batch && !self.order.is_empty() {
            if self.cursor == self.order.len() {
                self.epoch += 1;
                self.cursor = 0;
                self.shuffle();
            }
            out.push(self.order[self.cursor]);
            self.cursor += 1;
        }
        out
    }

    /// The next batch: pixels `[batch * h * w]` scaled to [-1, 1], and labels.
    pub fn next_batch(&mut self, data: &Dataset, batch: usize) -> (Vec<f32>, Vec<u8>) {
        let idx = self.next_indices(batch);
        let labels = idx.iter().map(|&i| data.labels[i]).collect();
        (data.pixels(&idx), labels)
    }

    /// Fast-forward to where a resumed run left off (same seed, same order).
    pub fn skip(&mut self, examples: u64) {
        let len = self.order.len() as u64;
        if len == 0 {
            return;
        }
        self.epoch = examples / len;
        self.shuffle();
        self.cursor = (examples % len) as usize;
    }
}
