//! What the app remembers between launches (eframe persistence): the last data set, the
//! hyper-parameters and view choices. Window size and position are eframe's own.

use crate::data::DataSource;
use crate::device::DeviceChoice;
use crate::explore::interpolate::Mode;
use crate::model::ModelKind;
use crate::train::objective::Loss;
use crate::train::options::RunOptions;
use crate::ui::colormap::ColorMap;
use serde::{Deserialize, Serialize};

/// Storage key of [`Settings`].
pub const KEY: &str = "latentlab-settings";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Tab {
    #[default]
    Train,
    Explore,
    Interpolate,
    Detect,
    Translate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub tab: Tab,
    /// The run the Train tab starts: the same options as `latentlab train`'s flags.
    pub run: RunOptions,
    /// Exponential smoothing of the loss curves, 0 (raw) to 0.99.
    pub smoothing: f32,
    pub colormap: ColorMap,
    pub interp_steps: usize,
    pub interp_mode: Mode,
    pub interp_fps: f32,
    /// Blend the condition label from A's to B's along the interpolation.
    pub interp_blend_labels: bool,
    /// The checkpoint last opened in the explorer.
    pub last_checkpoint: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tab: Tab::Train,
            // The app opens on the conditional model (its label picker is the showcase) and
            // refreshes the live sample grid more often than the CLI saves it.
            run: RunOptions {
                model: ModelKind::Cdcgan,
                sample_every: 20,
                ..RunOptions::default()
            },
            smoothing: 0.9,
            colormap: ColorMap::Gray,
            interp_steps: 10,
            interp_mode: Mode::Spherical,
            interp_fps: 8.0,
            interp_blend_labels: true,
            last_checkpoint: None,
        }
    }
}

impl Settings {
    /// The settings stored under [`KEY`] (RON, as eframe writes them): defaults where there are
    /// none or they do not parse, and older files' flat run fields carried over.
    pub fn from_ron(text: &str) -> Self {
        let Ok(mut s) = ron::from_str::<Settings>(text) else {
            return Settings::default();
        };
        if let Ok(old) = ron::from_str::<Flat>(text)
            && old.run.is_none()
        {
            old.carry_into(&mut s.run);
        }
        s.sanitized()
    }

    /// Clamp values a hand-edited or older settings file could have put out of range.
    pub fn sanitized(mut self) -> Self {
        self.run = self.run.sanitized();
        // The live sample grid needs a period.
        self.run.sample_every = self.run.sample_every.max(1);
        // `clamp` keeps a NaN, so non-finite values fall back to the defaults first.
        let d = Settings::default();
        if !self.smoothing.is_finite() {
            self.smoothing = d.smoothing;
        }
        if !self.interp_fps.is_finite() {
            self.interp_fps = d.interp_fps;
        }
        self.smoothing = self.smoothing.clamp(0.0, 0.99);
        self.interp_steps = self.interp_steps.clamp(2, 64);
        self.interp_fps = self.interp_fps.clamp(0.5, 60.0);
        self
    }
}

/// The run fields as latentlab 0.1 stored them, at the top level of [`Settings`]. A field is
/// `Some` where the file has it (RON writes options as `Some(..)`, hence [`present`]).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Flat {
    #[serde(deserialize_with = "present")]
    run: Option<serde::de::IgnoredAny>,
    #[serde(deserialize_with = "present")]
    model: Option<ModelKind>,
    #[serde(deserialize_with = "present")]
    loss: Option<Loss>,
    #[serde(deserialize_with = "present")]
    data: Option<DataSource>,
    #[serde(deserialize_with = "present")]
    batch: Option<usize>,
    #[serde(deserialize_with = "present")]
    lr_g: Option<f64>,
    #[serde(deserialize_with = "present")]
    lr_d: Option<f64>,
    #[serde(deserialize_with = "present")]
    seed: Option<u64>,
    #[serde(deserialize_with = "present")]
    device: Option<DeviceChoice>,
    #[serde(deserialize_with = "present")]
    sample_every: Option<u64>,
    #[serde(deserialize_with = "present")]
    score_every: Option<u64>,
    #[serde(deserialize_with = "present")]
    width: Option<Option<usize>>,
    #[serde(deserialize_with = "present")]
    latent: Option<Option<usize>>,
}

fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl Flat {
    fn carry_into(self, run: &mut RunOptions) {
        macro_rules! carry {
            ($($field:ident),*) => {$(
                if let Some(v) = self.$field {
                    run.$field = v;
                }
            )*};
        }
        carry!(
            model,
            loss,
            data,
            batch,
            seed,
            device,
            sample_every,
            score_every,
            width,
            latent
        );
        run.lr_g = self.lr_g.or(run.lr_g);
        run.lr_d = self.lr_d.or(run.lr_d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by latentlab before the run options moved under `run` (eframe's RON).
    const FLAT: &str = "(tab:Explore,model:vae,loss:lsgan,data:Path(\"/data/glyphs\"),batch:32,\
        lr_g:0.001,lr_d:0.0005,seed:7,device:cpu,sample_every:50,score_every:200,width:Some(16),\
        latent:None,smoothing:0.5,colormap:Gray,interp_steps:12,interp_mode:Spherical,\
        interp_fps:8.0,interp_blend_labels:false,last_checkpoint:None)";

    #[test]
    fn settings_from_before_the_run_section_keep_their_choices() {
        let s = Settings::from_ron(FLAT);
        let r = &s.run;
        assert_eq!(
            (r.model, r.loss, r.batch, r.seed),
            (ModelKind::Vae, Loss::Lsgan, 32, 7)
        );
        assert_eq!(r.data, DataSource::Path("/data/glyphs".into()));
        assert_eq!((r.lr_g, r.lr_d, r.lr), (Some(1e-3), Some(5e-4), None));
        assert_eq!(
            (r.device.clone(), r.sample_every, r.score_every),
            (DeviceChoice::Cpu, 50, 200)
        );
        assert_eq!((r.width, r.latent), (Some(16), None));
        assert_eq!(
            (s.tab, s.smoothing, s.interp_steps),
            (Tab::Explore, 0.5, 12)
        );
        assert!(!s.interp_blend_labels);
    }

    #[test]
    fn settings_round_trip_through_ron_and_junk_gives_defaults() {
        let mut s = Settings::default();
        s.run.model = ModelKind::Mlp;
        s.run.lr_d = Some(3e-4);
        s.tab = Tab::Interpolate;
        let text = ron::to_string(&s).unwrap_or_default();
        assert_eq!(Settings::from_ron(&text), s);
        assert_eq!(Settings::from_ron("(model: Nope"), Settings::default());
        assert_eq!(Settings::from_ron("()"), Settings::default());
    }
}
