//! Explore's 2-D sweep grid: pick two axes (directions, raw dimensions or InfoGAN codes); the
//! grid varies one down the rows and the other across the columns around the current latent.

use super::actions::{Action, Payload};
use super::directions_panel::DirectionsState;
use super::image_view::Tex;
use crate::explore::sweep::{self, Axis, Move};
use crate::explore::worker::{Request, Tag};
use crate::model::ModelConfig;
use crate::types::grid::Picture;
use eframe::egui;
use std::sync::Arc;

pub struct SweepState {
    pub row: Axis,
    pub col: Axis,
    pub steps: usize,
    /// Each axis goes from -range to +range (sigmas for a direction, raw units otherwise).
    pub range: f32,
    pub image: Option<Arc<Picture>>,
    tex: Tex,
    uploaded: bool,
    dirty: bool,
    next_id: u64,
    /// The user picked the axes (until then, the first two directions are offered once there).
    chosen: bool,
}

impl Default for SweepState {
    fn default() -> Self {
        Self {
            row: Axis::Raw(0),
            col: Axis::Raw(1),
            steps: 7,
            range: 2.0,
            image: None,
            tex: Tex::named("sweep-grid"),
            uploaded: false,
            dirty: true,
            next_id: 0,
            chosen: false,
        }
    }
}

fn axis_name(a: Axis, dirs: &DirectionsState) -> String {
    match a {
        Axis::Raw(i) => format!("z{i}"),
        Axis::Direction(i) => dirs
            .list
            .get(i)
            .map_or_else(|| format!("direction {i}"), |d| d.name.clone()),
        Axis::Code(i) => format!("code c{}", i + 1),
    }
}

impl SweepState {
    pub fn on_model(&mut self, latent_dim: usize) {
        let fits = |a: Axis| matches!(a, Axis::Raw(i) if i < latent_dim);
        if !fits(self.row) || !fits(self.col) {
            self.row = Axis::Raw(0);
            self.col = Axis::Raw(1.min(latent_dim.saturating_sub(1)));
            self.chosen = false;
        }
        self.image = None;
        self.dirty = true;
    }

    pub fn on_grid(&mut self, grid: Picture) {
        self.image = Some(Arc::new(grid));
        self.uploaded = false;
    }

    /// The grid request, when the axes changed or the caller says the latent did.
    pub fn request(
        &mut self,
        model: &ModelConfig,
        z: &[f32],
        cond: Option<Vec<f32>>,
        dirs: &DirectionsState,
    ) -> Option<Request> {
        self.dirty = false;
        let unit = |i: usize| {
            let mut e = vec![0.0; z.len()];
            if let Some(v) = e.get_mut(i) {
                *v = 1.0;
            }
            e
        };
        let vector = |a: Axis| -> Option<Vec<f32>> {
            match a {
                Axis::Raw(i) => Some(unit(i)),
                Axis::Direction(i) => dirs
                    .list
                    .get(i)
                    .map(|d| d.vector.iter().map(|v| v * d.sigma).collect()),
                Axis::Code(_) => None,
            }
        };
        let (rv, cv) = (vector(self.row), vector(self.col));
        fn mv(a: Axis, v: Option<&[f32]>, codes: usize) -> Option<Move<'_>> {
            match (a, v) {
                (Axis::Code(i), _) if i < codes => Some(Move::Code(i)),
                (_, Some(v)) => Some(Move::Latent(v)),
                _ => None,
            }
        }
        let row = mv(self.row, rv.as_deref(), model.codes)?;
        let col = mv(self.col, cv.as_deref(), model.codes)?;
        let (z, labels) = sweep::grid(
            z,
            cond.as_deref(),
            model.num_classes,
            row,
            col,
            self.steps,
            self.range,
        );
        self.next_id += 1;
        Some(Request::Generate {
            tag: Tag::Grid2d,
            id: self.next_id,
            z,
            labels,
            cols: self.steps,
        })
    }

    /// Whether a setting changed (the caller marks the latent dirty so a grid is requested).
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        model: &ModelConfig,
        dirs: &DirectionsState,
        out: &mut Vec<Action>,
    ) -> bool {
        let mut axes: Vec<Axis> = (0..dirs.list.len()).map(Axis::Direction).collect();
        axes.extend((0..model.codes).map(Axis::Code));
        axes.extend((0..model.latent_dim).map(Axis::Raw));
        let mut changed = self.dirty;
        if !self.chosen && dirs.list.len() >= 2 {
            (self.row, self.col) = (Axis::Direction(0), Axis::Direction(1));
            self.chosen = true;
            changed = true;
        }
        ui.horizontal_wrapped(|ui| {
            for (label, salt, axis) in [
                ("rows", "sweep-rows", &mut self.row),
                ("columns", "sweep-cols", &mut self.col),
            ] {
                let l = ui.label(label);
                let before = *axis;
                egui::ComboBox::from_id_salt(salt)
                    .selected_text(axis_name(*axis, dirs))
                    .height(300.0)
                    .show_ui(ui, |ui| {
                        for a in &axes {
                            ui.selectable_value(axis, *a, axis_name(*a, dirs));
                        }
                    })
                    .response
                    .labelled_by(l.id);
                if before != *axis {
                    changed = true;
                    self.chosen = true;
                }
            }
            changed |= ui
                .add(egui::Slider::new(&mut self.steps, 3..=11).text("steps"))
                .changed();
            changed |= ui
                .add(egui::Slider::new(&mut self.range, 0.5..=4.0).text("range ±"))
                .on_hover_text("Sigmas for a direction, raw units for z and the codes")
                .changed();
            if let Some(img) = self.image.clone()
                && ui.button("Export grid (PNG)…").clicked()
            {
                let meta = vec![
                    ("rows", axis_name(self.row, dirs)),
                    ("columns", axis_name(self.col, dirs)),
                    ("range", format!("{}", self.range)),
                    ("steps", self.steps.to_string()),
                ];
                out.push(Action::export(
                    "2-D sweep grid",
                    "latentlab-sweep",
                    Payload::Png {
                        image: img,
                        scale: 4,
                        metadata: meta,
                    },
                ));
            }
        });
        ui.label(format!(
            "down: {} from -{r} to +{r}; across: {} from -{r} to +{r}",
            axis_name(self.row, dirs),
            axis_name(self.col, dirs),
            r = self.range
        ));
        if let Some(img) = &self.image
            && !self.uploaded
        {
            self.tex.set_picture(ui.ctx(), img);
            self.uploaded = true;
        }
        self.tex.show(ui, ui.available_size());
        changed
    }
}
