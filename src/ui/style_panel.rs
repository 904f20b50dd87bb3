//! Explore's Style section for a style generator: truncation ψ with a cutoff level, source B
//! and one row per level saying which source gives its style, each level's noise (re-draw,
//! animate, strength), and the mixing figure (A, B, coarse, middle and fine styles from B, as
//! in the StyleGAN paper's figure 3).

use super::image_view::fit;
use super::style_state::StyleState;
use crate::explore::style::{PSI_RANGE, figure_layouts};
use eframe::egui;

/// The controls; true when the image must be rendered again.
pub fn controls(ui: &mut egui::Ui, st: &mut StyleState, latent: usize) -> bool {
    let mut changed = false;
    if st.tick(std::time::Instant::now()) {
        changed = true;
    }
    if st.animate.iter().any(|&a| a) {
        ui.ctx()
            .request_repaint_after(super::style_state::ANIMATE_EVERY);
    }
    let n = st.levels();
    egui::CollapsingHeader::new("Style (W)")
        .id_salt("style")
        .default_open(true)
        .show(ui, |ui| {
            changed |= ui
                .add(
                    egui::Slider::new(&mut st.psi, PSI_RANGE)
                        .text("truncation ψ")
                        .fixed_decimals(2),
                )
                .on_hover_text(
                    "w becomes w_avg + ψ (w - w_avg): 1 is off, 0 the average image, below 1 \
                     more typical, above 1 more unusual, negative the 'opposite' image",
                )
                .changed();
            ui.horizontal(|ui| {
                let l = ui.label("at levels");
                let text = |c: usize| {
                    if c >= n {
                        "all".to_string()
                    } else {
                        format!("below {0}x{0}", st.sides[c])
                    }
                };
                let before = st.cutoff;
                egui::ComboBox::from_id_salt("style-cutoff")
                    .selected_text(text(st.cutoff))
                    .show_ui(ui, |ui| {
                        for c in 1..=n {
                            ui.selectable_value(&mut st.cutoff, c, text(c));
                        }
                    })
                    .response
                    .labelled_by(l.id);
                changed |= before != st.cutoff;
            });
            ui.separator();
            changed |= sources(ui, st, latent);
            ui.separator();
            changed |= level_rows(ui, st);
        });
    changed
}

/// Source A (the latent, or a projected picture) and source B (a seed or a picture).
fn sources(ui: &mut egui::Ui, st: &mut StyleState, latent: usize) -> bool {
    let mut changed = false;
    ui.horizontal_wrapped(|ui| match &st.a_fixed {
        Some(f) => {
            ui.label(format!("A: {}", f.name));
            if ui
                .button("Use z")
                .on_hover_text("Let the latent sliders drive A again")
                .clicked()
            {
                st.a_fixed = None;
                changed = true;
            }
        }
        None => {
            ui.label("A: the latent (sliders, directions)");
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("B:");
        if let Some(f) = &st.b_fixed {
            ui.label(&f.name);
            if ui.button("Use seed").clicked() {
                st.b_fixed = None;
                let seed = st.b_seed;
                st.set_b_seed(seed, latent);
                changed = true;
            }
        } else {
            let l = ui.label("seed");
            let mut seed = st.b_seed;
            if ui
                .add(egui::DragValue::new(&mut seed))
                .labelled_by(l.id)
                .changed()
            {
                st.set_b_seed(seed, latent);
                changed = true;
            }
            if ui.button("Next B").clicked() {
                st.set_b_seed(seed.wrapping_add(1), latent);
                changed = true;
            }
        }
    });
    ui.horizontal(|ui| {
        ui.label("A dropped picture or export sets");
        ui.selectable_value(&mut st.drop_to_b, false, "source A");
        ui.selectable_value(&mut st.drop_to_b, true, "source B");
    });
    changed
}

/// One row per level: its side, whether its style comes from B, and its noise.
fn level_rows(ui: &mut egui::Ui, st: &mut StyleState) -> bool {
    let mut changed = false;
    ui.horizontal(|ui| {
        ui.label("Levels, coarsest first");
        if ui
            .button("Re-draw all noise")
            .on_hover_text("New per-pixel noise at every level: only fine detail should move")
            .clicked()
        {
            for l in 0..st.levels() {
                st.redraw(l);
            }
            changed = true;
        }
    });
    egui::Grid::new("style-levels")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            ui.strong("level");
            ui.strong("style");
            ui.strong("noise");
            ui.strong("strength");
            ui.end_row();
            for l in 0..st.levels() {
                let side = st.sides[l];
                ui.label(format!("{side}x{side}"));
                changed |= ui
                    .checkbox(&mut st.from_b[l], format!("{side} px from B"))
                    .on_hover_text("Take this level's style from source B instead of A")
                    .changed();
                ui.horizontal(|ui| {
                    if ui
                        .small_button(format!("re-draw {side} px"))
                        .on_hover_text("Re-draw this level's noise once")
                        .clicked()
                    {
                        st.redraw(l);
                        changed = true;
                    }
                    ui.checkbox(&mut st.animate[l], format!("animate {side} px"))
                        .on_hover_text("Re-draw this level's noise continuously (off: frozen)");
                });
                changed |= ui
                    .add(
                        egui::Slider::new(&mut st.noise_scales[l], 0.0..=3.0)
                            .text(format!("{side} px noise"))
                            .fixed_decimals(1),
                    )
                    .changed();
                ui.end_row();
            }
        });
    changed
}

/// The mixing figure under the explored image: A, B, the three mixes and the chosen rows,
/// captioned.
pub fn figure(ui: &mut egui::Ui, st: &mut StyleState, max_side: f32) {
    let Some(fig) = st.figure.clone() else {
        return;
    };
    let key = std::sync::Arc::as_ptr(&fig) as usize;
    if st.figure_shown != Some(key) {
        st.figure_tex.set_picture(ui.ctx(), &fig);
        st.figure_shown = Some(key);
    }
    ui.separator();
    ui.label("Style mixing (StyleGAN's figure 3)");
    let mut captions: Vec<&str> = figure_layouts(st.levels())
        .iter()
        .map(|(name, _)| *name)
        .collect();
    captions.push("your rows");
    let width = (ui.available_width() - 8.0).max(100.0);
    let size = fit(
        egui::vec2(fig.width as f32, fig.height as f32),
        egui::vec2(width, max_side),
    );
    st.figure_tex.show(ui, size);
    ui.horizontal(|ui| {
        let cell = size.x / captions.len() as f32;
        for name in &captions {
            ui.add_sized([cell - 8.0, 16.0], egui::Label::new(*name));
        }
    });
}
