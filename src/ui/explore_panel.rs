//! The Explore tab: the generated image large and crisp, raw latent sliders or named
//! directions, randomise / reset / truncation, a label picker with a two-label blend for
//! conditional models, encoding a real image, the before | after | difference view, the 2-D
//! sweep grid, and for a 2-D VAE the manifold grid and the encoded data scatter.

use super::actions::{Action, Payload};
use super::colormap::{self, ColorMap};
use super::directions_panel;
use super::gpu_view;
use super::image_view::fit;
use super::settings::Settings;
use crate::explore::jobs::ImageSource;
use crate::explore::worker::{ModelInfo, Request};
use crate::types::grid::Picture;
use eframe::egui;

pub use super::explore_state::{
    ExploreState, LatentMode, MANIFOLD_RANGE, MANIFOLD_SIDE, SCATTER_POINTS, ViewMode,
};

fn content_hash(img: &Picture) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    img.hash(&mut h);
    h.finish()
}

fn class_name(info: &ModelInfo, i: usize) -> String {
    info.class_names
        .get(i)
        .cloned()
        .unwrap_or_else(|| format!("class {i}"))
}

pub fn show(ui: &mut egui::Ui, s: &mut Settings, e: &mut ExploreState, out: &mut Vec<Action>) {
    if let Some(info) = e.info.clone().filter(|i| i.model.kind.is_boltzmann()) {
        return super::gibbs_panel::show(ui, &info, &mut e.gibbs, out);
    }
    if let Some(info) = e.info.as_ref().filter(|i| i.model.kind.is_image_to_image()) {
        return no_latent_space(ui, s, info);
    }
    egui::Panel::left("explore-controls")
        .resizable(true)
        .default_size(300.0)
        .show(ui, |ui| controls(ui, s, e, out));
    egui::CentralPanel::default().show(ui, |ui| view(ui, s, e, out));
}

/// What Explore and Interpolate show for an image-to-image run: it has no latent space.
pub fn no_latent_space(
    ui: &mut egui::Ui,
    s: &mut Settings,
    info: &crate::explore::worker::ModelInfo,
) {
    model_summary(ui, info);
    ui.label(
        "This run turns pictures into larger ones; it has no latent space to explore or \
         interpolate in.",
    );
    if ui.button("Open the Translate tab").clicked() {
        s.tab = super::settings::Tab::Translate;
    }
}

/// The loaded model's family, data set and step (its origin on hover), then a separator.
pub fn model_summary(ui: &mut egui::Ui, info: &crate::explore::worker::ModelInfo) {
    ui.label(format!(
        "{} · {} · step {}",
        super::run_form::model_label(info.model.kind),
        info.data_name,
        info.step
    ))
    .on_hover_text(&info.origin);
    ui.separator();
}

fn controls(ui: &mut egui::Ui, _s: &mut Settings, e: &mut ExploreState, out: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        if ui.button("Open checkpoint…").clicked() {
            out.push(Action::OpenCheckpoint);
        }
    });
    let Some(info) = e.info.clone() else {
        if e.loading {
            ui.horizontal(|ui| {
                ui.add(egui::Spinner::new());
                ui.label("loading the model…");
            });
        } else {
            ui.label("No model loaded: open a checkpoint, drop a run directory here, or train one and press \"Explore this model\".");
        }
        return;
    };
    model_summary(ui, &info);
    ui.horizontal(|ui| {
        if ui.button("Randomise").clicked() {
            let seed = e.seed.wrapping_add(1);
            e.randomise(seed);
        }
        let l = ui.label("seed");
        let mut seed = e.seed;
        if ui
            .add(egui::DragValue::new(&mut seed))
            .labelled_by(l.id)
            .changed()
        {
            e.randomise(seed);
        }
    });
    ui.horizontal(|ui| {
        if ui.button("Reset to zero").clicked() {
            e.reference = e.image.clone();
            e.z.iter_mut().for_each(|v| *v = 0.0);
            e.dirty = true;
        }
        ui.add(egui::Slider::new(&mut e.truncation, 0.25..=3.0).text("truncation"))
            .on_hover_text("Randomise redraws latent entries beyond this magnitude (3 = off)");
    });
    if info.model.kind.has_codes() {
        ui.separator();
        if e.codes.show(ui, &info.model) {
            e.reference = e.image.clone();
            e.dirty = true;
        }
    }
    if info.model.is_conditional() {
        ui.separator();
        ui.label("Condition");
        ui.horizontal_wrapped(|ui| {
            for i in 0..info.model.num_classes {
                let selected = e.label_a == i;
                if ui
                    .selectable_label(selected, class_name(&info, i))
                    .clicked()
                    && !selected
                {
                    e.reference = e.image.clone();
                    e.label_a = i;
                    e.dirty = true;
                }
            }
        });
        ui.horizontal(|ui| {
            let l = ui.label("blend with");
            let before = e.label_b;
            egui::ComboBox::from_id_salt("blend-label")
                .selected_text(class_name(&info, e.label_b))
                .show_ui(ui, |ui| {
                    for i in 0..info.model.num_classes {
                        ui.selectable_value(&mut e.label_b, i, class_name(&info, i));
                    }
                })
                .response
                .labelled_by(l.id);
            if before != e.label_b {
                e.dirty = true;
            }
        });
        let r = ui.add(egui::Slider::new(&mut e.mix, 0.0..=1.0).text("mix"));
        if r.drag_started() {
            e.reference = e.image.clone();
        }
        if r.changed() {
            e.dirty = true;
        }
    }
    if e.style.levels() > 0 {
        ui.separator();
        if super::style_panel::controls(ui, &mut e.style, info.model.latent_dim) {
            e.reference = e.image.clone();
            e.dirty = true;
        }
    }
    ui.separator();
    job_progress(ui, e);
    encode_controls(ui, e, out);
    ui.separator();
    ui.horizontal(|ui| {
        ui.selectable_value(&mut e.mode, LatentMode::Raw, "Raw latent");
        ui.selectable_value(&mut e.mode, LatentMode::Directions, "Directions");
    });
    if e.mode == LatentMode::Directions {
        let busy = e.job.is_some();
        let label = e.label();
        let changed = directions_panel::controls(ui, &mut e.dirs, &info, label, busy, out);
        if changed.drag_started {
            e.reference = e.image.clone();
        }
        if changed.latent {
            e.touch();
        }
        return;
    }
    ui.label(format!("Latent ({} dimensions)", e.z.len()));
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for i in 0..e.z.len() {
                let r = ui.add(
                    egui::Slider::new(&mut e.z[i], -3.0..=3.0)
                        .text(format!("z{i}"))
                        .fixed_decimals(2),
                );
                if r.drag_started() {
                    e.reference = e.image.clone();
                }
                if r.changed() {
                    e.dirty = true;
                }
            }
        });
}

/// The running latent job's progress bar and Cancel button.
fn job_progress(ui: &mut egui::Ui, e: &mut ExploreState) {
    let Some(job) = &e.job else {
        return;
    };
    let mut cancel = false;
    ui.horizontal(|ui| {
        ui.add(
            egui::ProgressBar::new(job.fraction)
                .desired_width(160.0)
                .text(job.what),
        );
        cancel = ui.button("Cancel").clicked();
    });
    if !job.text.is_empty() {
        ui.small(&job.text);
    }
    if cancel {
        e.cancel_job();
    }
}

/// Encoding a real image: from the data set, or dropped on the window.
fn encode_controls(ui: &mut egui::Ui, e: &mut ExploreState, out: &mut Vec<Action>) {
    egui::CollapsingHeader::new("Encode a real image")
        .id_salt("encode")
        .show(ui, |ui| {
            ui.label("Drop a picture (PNG, JPEG, WebP, BMP, GIF) on the window, or:");
            if e.style.levels() > 0 {
                use crate::explore::project::Space;
                ui.horizontal(|ui| {
                    ui.label("project into");
                    ui.selectable_value(&mut e.project_space, Space::W, "W")
                        .on_hover_text("One w for every level: stays where G is at home");
                    ui.selectable_value(&mut e.project_space, Space::WPlus, "W+")
                        .on_hover_text("One w per level: a closer fit, less editable");
                });
            }
            ui.horizontal_wrapped(|ui| {
                if ui
                    .add_enabled(e.job.is_none(), egui::Button::new("Pick from data set"))
                    .on_hover_text("A random image of the model's data set")
                    .clicked()
                {
                    let seed = e.seed.wrapping_add(e.encode_steps as u64 * 7919);
                    e.seed = e.seed.wrapping_add(1);
                    let job = e.encode_job(ImageSource::DataSet { index: None, seed });
                    out.push(Action::Job(job));
                }
                let gan = e.info.as_ref().is_some_and(|i| i.model.kind.is_gan());
                ui.add_enabled_ui(gan, |ui| {
                    let l = ui.label("steps");
                    ui.add(egui::DragValue::new(&mut e.encode_steps).range(10..=5000))
                        .labelled_by(l.id);
                    let l = ui.label("restarts");
                    ui.add(egui::DragValue::new(&mut e.encode_restarts).range(1..=64))
                        .labelled_by(l.id);
                });
            });
            if ui
                .add_enabled(e.encoded.is_some(), egui::Button::new("Hide original"))
                .clicked()
            {
                e.encoded = None;
            }
            if let Some(enc) = &e.encoded {
                let how = if enc.steps == 0 {
                    "the VAE's encoder".to_string()
                } else {
                    format!("{} steps x {} restarts", enc.steps, enc.restarts)
                };
                ui.small(format!(
                    "{}: pixel error {:.4} ({how})",
                    enc.name, enc.pixel_mse
                ));
            }
        });
}

fn view(ui: &mut egui::Ui, s: &mut Settings, e: &mut ExploreState, out: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        // Colour maps are for grey images; a colour model's pictures show as they are.
        let grey = e.shape().1 == 1;
        let l = ui.label("Colour map");
        ui.add_enabled_ui(grey, |ui| {
            egui::ComboBox::from_id_salt("colormap")
                .selected_text(if grey {
                    s.colormap.name()
                } else {
                    "(colour image)"
                })
                .show_ui(ui, |ui| {
                    for m in ColorMap::ALL {
                        ui.selectable_value(&mut s.colormap, m, m.name());
                    }
                })
                .response
                .labelled_by(l.id)
                .on_disabled_hover_text("Colour maps apply to grey images only");
        });
        ui.separator();
        let before = e.view_mode;
        ui.selectable_value(&mut e.view_mode, ViewMode::Image, "Image");
        ui.selectable_value(&mut e.view_mode, ViewMode::Sweep, "2-D sweep");
        if before != e.view_mode {
            e.touch();
        }
        ui.separator();
        ui.checkbox(&mut e.diff_view, "Difference view")
            .on_hover_text(
                "Before | after | |after - before|: where the image changed with the last move",
            );
        if let Some(img) = e.image.clone()
            && ui.button("Export image (PNG)…").clicked()
        {
            out.push(Action::export(
                "image",
                &format!("latentlab-seed{}", e.seed),
                Payload::Png {
                    image: img,
                    scale: 8,
                    metadata: e.metadata(),
                },
            ));
        }
        remote_toggle(ui, s, e, out);
        ui.label(format!(
            "{} · {:.2} ms per image{}",
            if e.gpu { "GPU view" } else { "CPU view" },
            e.last_generate_ms,
            if e.remote.is_some() {
                " via the server"
            } else {
                ""
            }
        ));
    });
    if e.view_mode == ViewMode::Sweep {
        if let Some(info) = e.info.clone()
            && e.sweep.show(ui, &info.model, &e.dirs, out)
        {
            e.touch();
        }
        return;
    }
    let Some(img) = e.image.clone() else {
        return;
    };
    let vae2d = e.manifold.is_some();
    let reference = e.diff_view.then(|| e.reference.clone()).flatten();
    let panels = if reference.is_some() {
        3.0
    } else if e.encoded.is_some() {
        2.0
    } else {
        1.0
    };
    // A style generator's mixing figure takes the lower part.
    let style = e.style.levels() > 0;
    let avail = ui.available_size() - egui::vec2(0.0, if style { 220.0 } else { 24.0 });
    let side = if vae2d {
        (avail.x * 0.5).min(avail.y)
    } else {
        (avail.x / panels - 8.0).min(avail.y)
    };
    let size = fit(
        egui::vec2(img.width as f32, img.height as f32),
        egui::vec2(side, side),
    );
    ui.horizontal_top(|ui| {
        if let Some(r) = reference {
            difference_panels(ui, e, &img, &r, s.colormap, size);
        } else {
            if let Some(enc) = e.encoded.as_mut() {
                if !enc.uploaded {
                    e.encoded_tex.set_picture(ui.ctx(), &enc.original);
                    enc.uploaded = true;
                }
                ui.vertical(|ui| {
                    ui.label("original");
                    e.encoded_tex.show(ui, size);
                });
            }
            ui.vertical(|ui| {
                if e.encoded.is_some() {
                    ui.label("reconstruction (edit it with the sliders)");
                }
                current_image(ui, e, &img, s, size);
            });
        }
        if vae2d {
            ui.vertical(|ui| vae_views(ui, e));
        }
    });
    if e.diff_view && e.reference.is_none() {
        ui.label("Move a slider: the difference view shows where the image changed.");
    }
    if style {
        super::style_panel::figure(ui, &mut e.style, 170.0);
    }
}

/// The generated image: on the GPU view when there is one, else a CPU texture.
fn current_image(
    ui: &mut egui::Ui,
    e: &mut ExploreState,
    img: &std::sync::Arc<Picture>,
    s: &Settings,
    size: egui::Vec2,
) {
    if e.gpu {
        let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
        gpu_view::paint(
            ui,
            rect,
            gpu_view::ImageViewCallback {
                current: img.clone(),
                reference: None,
                map: s.colormap.index(),
            },
        );
        return;
    }
    // Content hashes, not pointers: a freed image's address can be reused by the next.
    let key = (content_hash(img), 0, s.colormap, false);
    if e.tex_key != Some(key) {
        let rgba = colormap::colorize(img, s.colormap);
        e.tex.set_rgba(ui.ctx(), img.width, img.height, &rgba);
        e.tex_key = Some(key);
    }
    e.tex.show(ui, size);
}

/// Before | after | |after - before| side by side.
fn difference_panels(
    ui: &mut egui::Ui,
    e: &mut ExploreState,
    after: &Picture,
    before: &Picture,
    map: ColorMap,
    size: egui::Vec2,
) {
    let key = (content_hash(after), content_hash(before));
    if e.diff_key != Some(key) && before.pixels.len() == after.pixels.len() {
        let (w, h) = (after.width, after.height);
        e.diff_tex[0].set_rgba(ui.ctx(), w, h, &colormap::colorize(before, map));
        e.diff_tex[1].set_rgba(ui.ctx(), w, h, &colormap::colorize(after, map));
        let heat = colormap::difference(after, before);
        e.diff_tex[2].set_rgba(ui.ctx(), w, h, &heat);
        e.diff_key = Some(key);
    }
    for (tex, title) in e.diff_tex.iter().zip(["before", "after", "|difference|"]) {
        ui.vertical(|ui| {
            ui.label(title);
            tex.show(ui, size);
        });
    }
}

/// The 2-D VAE's decoded manifold and the encoded data, coloured by label; clicking the
/// scatter moves the latent there.
fn vae_views(ui: &mut egui::Ui, e: &mut ExploreState) {
    if let Some(m) = &e.manifold
        && !e.manifold_uploaded
    {
        e.manifold_tex.set_picture(ui.ctx(), m);
        e.manifold_uploaded = true;
    }
    let w = ui.available_width();
    ui.label(format!(
        "Decoded manifold, z in [-{MANIFOLD_RANGE}, {MANIFOLD_RANGE}]²"
    ));
    e.manifold_tex
        .show(ui, egui::vec2(w, ui.available_height() * 0.5));
    let Some((points, labels)) = &e.scatter else {
        return;
    };
    let names = e
        .info
        .as_ref()
        .map(|i| i.class_names.clone())
        .unwrap_or_default();
    let z = [
        e.z.first().copied().unwrap_or(0.0) as f64,
        e.z.get(1).copied().unwrap_or(0.0) as f64,
    ];
    let classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    let color = |c: usize| -> egui::Color32 {
        egui::ecolor::Hsva::new(c as f32 / classes.max(1) as f32, 0.8, 0.9, 1.0).into()
    };
    // A key row instead of the plot legend, which cannot fit ten classes in a short plot.
    ui.horizontal_wrapped(|ui| {
        ui.label("Encoded data:");
        for c in 0..classes {
            ui.colored_label(color(c), names.get(c).cloned().unwrap_or(c.to_string()));
        }
        ui.label("(white cross: current z)");
    });
    let response = egui_plot::Plot::new("vae-scatter")
        .data_aspect(1.0)
        .x_axis_label("z0")
        .y_axis_label("z1")
        .show(ui, |p| {
            for c in 0..classes {
                let pts: Vec<[f64; 2]> = points
                    .iter()
                    .zip(labels)
                    .filter(|(_, l)| **l as usize == c)
                    .map(|(p, _)| [p[0] as f64, p[1] as f64])
                    .collect();
                p.points(
                    egui_plot::Points::new(names.get(c).cloned().unwrap_or(c.to_string()), pts)
                        .radius(1.5)
                        .color(color(c)),
                );
            }
            p.points(
                egui_plot::Points::new("current z", vec![z])
                    .radius(6.0)
                    .shape(egui_plot::MarkerShape::Cross)
                    .color(egui::Color32::WHITE),
            );
            p.pointer_coordinate()
        });
    if response.response.clicked()
        && let Some(pos) = response.inner
    {
        e.reference = e.image.clone();
        e.z[0] = pos.x as f32;
        if e.z.len() > 1 {
            e.z[1] = pos.y as f32;
        }
        e.dirty = true;
    }
}

/// "Generate on the server": offered while the run form's device is a remote server; the
/// explorer connects and moves its model there (or back to this CPU) on its own thread.
fn remote_toggle(ui: &mut egui::Ui, s: &Settings, e: &ExploreState, out: &mut Vec<Action>) {
    let crate::device::DeviceChoice::Remote(address) = &s.run.device else {
        if e.remote.is_some() && ui.button("Generate here").clicked() {
            out.push(Action::Explore(Request::UseDevice {
                device: crate::device::DeviceChoice::Cpu,
                token_file: None,
            }));
        }
        return;
    };
    let mut on = e.remote.is_some();
    if ui
        .checkbox(&mut on, "on the server")
        .on_hover_text(format!(
            "Run the explorer's generator on {address} (the Train form's server)"
        ))
        .changed()
    {
        let device = if on {
            s.run.device.clone()
        } else {
            crate::device::DeviceChoice::Cpu
        };
        out.push(Action::Explore(Request::UseDevice {
            device,
            token_file: s.run.token_file.clone(),
        }));
    }
}
