//! The explorer thread's replies for the Explore tab, each to the part it is for (the
//! Interpolate tab's own replies are routed by the app).

use super::explore_state::ExploreState;
use crate::explore::worker::Tag;
use crate::types::grid::Picture;

impl ExploreState {
    /// Images for one of Explore's views (`values`: their pixels in [-1, 1]).
    pub fn on_images(&mut self, tag: Tag, values: &[f32], grid: Picture, millis: f32) {
        match tag {
            Tag::Explore => self.on_image(grid, millis),
            Tag::Manifold => self.on_manifold(grid),
            Tag::Sweep => self.codes.on_sweep(grid),
            Tag::Grid2d => self.sweep.on_grid(grid),
            Tag::Bins => {
                let (side, channels) = self.shape();
                self.dirs.on_candidates(values, side, channels);
            }
            Tag::Mixing => self.style.on_figure(grid),
            // The Interpolate tab's: the app routes them there.
            Tag::Candidates | Tag::Strip => {}
        }
    }

    /// A style render arrived: the mixing figure, or the explored image with A's w per level
    /// (what an export records).
    pub fn on_style_images(&mut self, tag: Tag, grid: Picture, ws: Vec<f32>, millis: f32) {
        if tag == Tag::Mixing {
            self.style.on_figure(grid);
        } else {
            self.style.last_ws = ws;
            self.on_image(grid, millis);
        }
    }

    /// The explorer reported an error: nothing is loading any more, and a failed chain step
    /// stops the chain (playing would wait for it forever).
    pub fn on_explorer_error(&mut self) {
        self.loading = false;
        self.gibbs.waiting = false;
        self.gibbs.playing = false;
    }
}
