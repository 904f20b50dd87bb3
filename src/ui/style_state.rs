//! What Explore holds for a style generator: truncation ψ and its cutoff level, source B and
//! which levels take its style, each level's noise (seed, strength, animated or frozen), a
//! projected picture standing in for A or B, and the mixing figure; the render requests they
//! make and the export metadata that restores them.

use super::image_view::Tex;
use crate::explore::style::{self, Source, StyleSpec};
use crate::explore::worker::{Request, Tag};
use crate::export::{StyleRecord, format_floats};
use crate::model::ModelConfig;
use crate::types::grid::Picture;
use crate::types::noise;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Images in the mixing figure: A, B, coarse, middle and fine from B, and the chosen rows.
pub const FIGURE_CELLS: usize = 6;

/// How often an animated level's noise is re-drawn.
pub const ANIMATE_EVERY: Duration = Duration::from_millis(120);

/// A picture projected into W+ (or a restored export's w) standing in for a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixed {
    /// `[levels * w_dim]`.
    pub ws: Vec<f32>,
    pub name: String,
}

pub struct StyleState {
    /// Each level's side, coarsest first (empty: not a style generator).
    pub sides: Vec<usize>,
    pub w_dim: usize,
    /// A's w is moved by directions in W (an export then records A by its w).
    pub a_edited: bool,
    pub psi: f32,
    /// Truncate the levels below this one (`sides.len()`: every level).
    pub cutoff: usize,
    pub b_seed: u64,
    /// Source B's latent (from `b_seed`, or a restored export's).
    pub b_z: Vec<f32>,
    /// A picture or export standing in for B.
    pub b_fixed: Option<Fixed>,
    /// A picture or export standing in for A (the z sliders take over again on "Use z").
    pub a_fixed: Option<Fixed>,
    /// Per level: its style comes from B.
    pub from_b: Vec<bool>,
    pub noise_seeds: Vec<u64>,
    pub noise_scales: Vec<f32>,
    /// Per level: re-draw the noise continuously.
    pub animate: Vec<bool>,
    /// The next dropped picture or export sets B instead of A.
    pub drop_to_b: bool,
    /// A's w per level as last rendered, for exports.
    pub last_ws: Vec<f32>,
    pub figure: Option<Arc<Picture>>,
    pub(super) figure_tex: Tex,
    pub(super) figure_shown: Option<usize>,
    next_noise: u64,
    last_animated: Option<Instant>,
}

impl Default for StyleState {
    fn default() -> Self {
        Self {
            sides: Vec::new(),
            w_dim: 0,
            a_edited: false,
            psi: 1.0,
            cutoff: 0,
            b_seed: 1,
            b_z: Vec::new(),
            b_fixed: None,
            a_fixed: None,
            from_b: Vec::new(),
            noise_seeds: Vec::new(),
            noise_scales: Vec::new(),
            animate: Vec::new(),
            drop_to_b: false,
            last_ws: Vec::new(),
            figure: None,
            figure_tex: Tex::named("style-figure"),
            figure_shown: None,
            next_noise: 1000,
            last_animated: None,
        }
    }
}

impl StyleState {
    pub fn levels(&self) -> usize {
        self.sides.len()
    }

    /// A new model: fresh controls sized to its levels (none for other families).
    pub fn on_model(&mut self, model: &ModelConfig) {
        let sides = if model.kind == crate::model::ModelKind::Stylegan {
            crate::model::style::level_sides(model)
        } else {
            Vec::new()
        };
        let n = sides.len();
        *self = Self {
            psi: self.psi,
            b_seed: self.b_seed,
            cutoff: n,
            b_z: noise::gaussian(self.b_seed, model.latent_dim),
            // The explored image is A until a row is switched; the figure shows the mixes.
            from_b: vec![false; n],
            noise_seeds: vec![0; n],
            noise_scales: vec![1.0; n],
            animate: vec![false; n],
            sides,
            w_dim: crate::model::style::w_dim(model),
            ..Self::default()
        };
    }

    pub fn set_b_seed(&mut self, seed: u64, latent: usize) {
        self.b_seed = seed;
        self.b_z = noise::gaussian(seed, latent);
        self.b_fixed = None;
    }

    /// Give level `l` new noise.
    pub fn redraw(&mut self, l: usize) {
        self.next_noise = self.next_noise.wrapping_add(1);
        if let Some(s) = self.noise_seeds.get_mut(l) {
            *s = self.next_noise;
        }
    }

    /// Re-draw the animated levels' noise when it is time; true when something changed. The
    /// caller asks for a repaint after [`ANIMATE_EVERY`] while any level animates.
    pub fn tick(&mut self, now: Instant) -> bool {
        if !self.animate.iter().any(|&a| a) {
            self.last_animated = None;
            return false;
        }
        if self
            .last_animated
            .is_some_and(|t| now.duration_since(t) < ANIMATE_EVERY)
        {
            return false;
        }
        self.last_animated = Some(now);
        for l in 0..self.animate.len() {
            if self.animate[l] {
                self.redraw(l);
            }
        }
        true
    }

    fn source_a(&self, z: Vec<f32>, label: Option<Vec<f32>>) -> Source {
        Source {
            z,
            label,
            ws: self.a_fixed.as_ref().map(|f| f.ws.clone()),
        }
    }

    fn spec(&self, a: Source, label: Option<Vec<f32>>, w_offset: Vec<f32>) -> StyleSpec {
        let n = self.levels();
        StyleSpec {
            a,
            w_offset,
            b: Some(Source {
                z: self.b_z.clone(),
                label,
                ws: self.b_fixed.as_ref().map(|f| f.ws.clone()),
            }),
            layouts: Vec::new(),
            psi: self.psi,
            cutoff: (self.cutoff < n).then_some(self.cutoff),
            noise_seeds: self.noise_seeds.clone(),
            noise_scales: self.noise_scales.clone(),
        }
    }

    /// The requests for the explored image (A with B at the chosen levels) under `id`, and
    /// the mixing figure.
    pub fn requests(
        &self,
        id: u64,
        z: Vec<f32>,
        label: Option<Vec<f32>>,
        w_offset: Vec<f32>,
    ) -> Vec<Request> {
        let a = self.source_a(z, label.clone());
        let mut image = self.spec(a, label, w_offset);
        // The paper's five, then the rows as chosen.
        let mut figure_layouts: Vec<Vec<bool>> = style::figure_layouts(self.levels())
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        figure_layouts.push(self.from_b.clone());
        let mut figure = image.clone();
        image.layouts = vec![self.from_b.clone()];
        figure.layouts = figure_layouts;
        vec![
            Request::Style {
                tag: Tag::Explore,
                id,
                spec: Box::new(image),
                cols: 1,
            },
            Request::Style {
                tag: Tag::Mixing,
                id,
                spec: Box::new(figure),
                cols: FIGURE_CELLS,
            },
        ]
    }

    pub fn on_figure(&mut self, grid: Picture) {
        self.figure = Some(Arc::new(grid));
    }

    /// Export metadata: A's w per level, ψ and cutoff, B and its levels, the noise.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        let levels = |pick: &dyn Fn(usize) -> bool| {
            (0..self.levels())
                .filter(|&l| pick(l))
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut m = vec![
            ("w_plus", format_floats(&self.last_ws)),
            ("truncation", self.psi.to_string()),
            ("cutoff", self.cutoff.to_string()),
            ("mix_layers", levels(&|l| self.from_b[l])),
            (
                "noise_seeds",
                self.noise_seeds
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("noise_scales", format_floats(&self.noise_scales)),
        ];
        match &self.b_fixed {
            Some(f) => {
                m.push(("mix_from", f.name.clone()));
                m.push(("mix_w_plus", format_floats(&f.ws)));
            }
            None => m.push(("mix_from", format!("seed {}", self.b_seed))),
        }
        if let Some(f) = &self.a_fixed {
            m.push(("a_from", f.name.clone()));
        } else if self.a_edited {
            m.push(("a_from", "z moved by directions in W".into()));
        }
        m
    }

    /// A projection finished: its w per level stands in for A or B. Returns the notice.
    pub fn on_projected(
        &mut self,
        name: &str,
        p: &crate::explore::project::Projection,
        to_b: bool,
        secs: f32,
    ) -> String {
        let per = p.ws.len() / p.levels.max(1);
        // W (one row) is the same w at every level.
        let ws = if p.ws.len() == self.w_dim {
            p.ws.repeat(self.levels())
        } else {
            p.ws[..per * p.levels].to_vec()
        };
        let fixed = Some(Fixed {
            ws,
            name: name.to_string(),
        });
        if to_b {
            self.b_fixed = fixed;
        } else {
            self.a_fixed = fixed;
        }
        format!(
            "projected {name} into {} for source {}: pixel error {:.4} (mean squared, [0, 1] intensities) in {secs:.1} s",
            if p.ws.len() == self.w_dim { "W" } else { "W+" },
            if to_b { 'B' } else { 'A' },
            p.pixel_mse
        )
    }

    /// A dropped export sets source B: its w when it records one, else its z.
    pub fn set_source_b(&mut self, r: &crate::export::LatentRecord) -> Result<(), String> {
        match &r.style {
            Some(sr) if sr.w_plus.len() == self.levels() * self.w_dim => {
                self.b_fixed = Some(Fixed {
                    ws: sr.w_plus.clone(),
                    name: "a dropped export".into(),
                });
            }
            Some(_) => return Err("its w does not fit this generator".into()),
            None => {
                self.b_z = r.z.clone();
                self.b_fixed = None;
            }
        }
        Ok(())
    }

    /// Take the controls from an export's metadata (`latent`: z's size, for B's seed). Checks
    /// every size against the loaded generator first, so a refused file changes nothing.
    pub fn restore(&mut self, r: &StyleRecord, latent: usize) -> Result<(), String> {
        let n = self.levels();
        let ws_len = n * self.w_dim;
        if r.w_plus.len() != ws_len {
            return Err(format!(
                "its w has {} numbers, this generator takes {n} levels of {}",
                r.w_plus.len(),
                self.w_dim
            ));
        }
        if !style::PSI_RANGE.contains(&r.truncation) {
            return Err(format!("truncation {} is outside -1 to 2", r.truncation));
        }
        if r.cutoff.is_some_and(|c| c > n)
            || r.mix_layers.iter().any(|&l| l >= n)
            || r.noise_seeds.len() > n
            || r.noise_scales.len() > n
        {
            return Err(format!("it names levels this generator (with {n}) has not"));
        }
        if r.mix_w_plus.as_ref().is_some_and(|w| w.len() != ws_len) {
            return Err("its source B's w does not fit this generator".into());
        }
        self.psi = r.truncation;
        self.cutoff = r.cutoff.unwrap_or(n);
        self.from_b = (0..n).map(|l| r.mix_layers.contains(&l)).collect();
        for l in 0..n {
            self.noise_seeds[l] = r.noise_seeds.get(l).copied().unwrap_or(0);
            self.noise_scales[l] = r.noise_scales.get(l).copied().unwrap_or(1.0);
        }
        self.animate = vec![false; n];
        self.a_fixed = r.a_from.as_ref().map(|name| Fixed {
            ws: r.w_plus.clone(),
            name: name.clone(),
        });
        let from = r.mix_from.clone().unwrap_or_default();
        match (
            &r.mix_w_plus,
            from.strip_prefix("seed ").map(str::parse::<u64>),
        ) {
            (Some(ws), _) => {
                self.b_fixed = Some(Fixed {
                    ws: ws.clone(),
                    name: from,
                })
            }
            (None, Some(Ok(seed))) => self.set_b_seed(seed, latent),
            _ => {}
        }
        Ok(())
    }
}
