//! `latentlab inspect`: what a run directory holds, model by model.

use anyhow::{Context, Result};
use latentlab::checkpoint;

pub fn inspect(dir: &std::path::Path) -> Result<()> {
    let m =
        checkpoint::read_manifest(dir).with_context(|| format!("inspecting {}", dir.display()))?;
    let t = &m.train;
    let model = &t.model;
    out!("run directory {}", dir.display());
    if let Some((name, origin)) = checkpoint::shipped::describe(dir) {
        out!("  shipped:   {name}, found in {origin}");
    }
    if model.kind.is_boltzmann() {
        out!(
            "  model:     {} (784 binary visible units, hidden layers {:?})",
            model.kind.name(),
            model.layers
        );
    } else if model.kind == latentlab::model::ModelKind::Lapgan {
        out!(
            "  model:     {} (Laplacian pyramid of {} levels at {:?} px; input: {} coarse noise values, then a noise plane per finer level, {} in all; width {})",
            model.kind.name(),
            model.levels,
            model.level_sides(),
            latentlab::types::config::COARSE_LATENT,
            model.latent_dim,
            model.width
        );
    } else if model.kind == latentlab::model::ModelKind::Cyclegan {
        let c = t.cycle.clone().unwrap_or_default();
        out!(
            "  model:     {} (two generators of {} residual blocks, width {}, two PatchGAN discriminators); cycle weight {}, identity {}, pool of {} fakes",
            model.kind.name(),
            model.blocks,
            model.width,
            c.cycle_weight,
            c.identity,
            c.pool
        );
    } else if model.kind.is_image_to_image() {
        let sr = t.sr.clone().unwrap_or_default();
        out!(
            "  model:     {} ({}x from {} px, {} residual blocks, width {}); content loss {}, adversarial weight {}",
            model.kind.name(),
            model.scale,
            model.low_side(),
            model.blocks,
            model.width,
            sr.content.name(),
            sr.adv_weight
        );
    } else {
        out!(
            "  model:     {} (latent size {}, width {}{})",
            model.kind.name(),
            model.latent_dim,
            model.width,
            if model.is_conditional() {
                format!(", conditional on {} classes", model.num_classes)
            } else if model.kind.has_codes() {
                format!(
                    ", codes: one {}-way categorical and {} continuous",
                    model.num_classes, model.codes
                )
            } else {
                String::new()
            } + &if model.mapping_layers > 0 {
                format!(", mapping network of {} layers", model.mapping_layers)
            } else {
                String::new()
            }
        );
    }
    if model.kind.is_boltzmann() {
        for line in latentlab::model::boltzmann::describe(model) {
            out!("  {line}");
        }
        if let Some(cd) = &t.cd {
            out!(
                "  training:  {}CD-{}, {} chains, learning rate {}, momentum {}, weight decay {}, {} updates per greedy phase; samples take {} Gibbs steps",
                if cd.persistent { "persistent " } else { "" },
                cd.k,
                cd.chains,
                t.lr_g,
                cd.momentum,
                cd.weight_decay,
                cd.layer_steps,
                cd.sample_gibbs
            );
            if cd.restarts > 0 || cd.label_chains {
                out!(
                    "  chains:    {} restarted from noise per update{}",
                    cd.restarts,
                    if cd.label_chains {
                        "; each holds one class in its label units"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    if model.kind.is_gan() {
        out!("  loss:      {}", t.loss.name());
        match t.ema {
            Some(decay) => out!(
                "  weights:   moving average of G (decay {decay}) for sample, explore and score"
            ),
            None => out!("  weights:   G as trained (no moving average kept)"),
        }
    }
    out!(
        "  data:      {} from `{}` ({} images {}x{}); classes: {}",
        m.data.name,
        m.data.source,
        m.data.len,
        m.data.width,
        m.data.height,
        m.class_names.join(", ")
    );
    out!(
        "  images:    {}x{} pixels, {} channel{} ({})",
        model.image_size,
        model.image_size,
        model.channels,
        if model.channels == 1 { "" } else { "s" },
        if model.channels == 1 {
            "grey"
        } else {
            "colour"
        }
    );
    if model.kind.is_boltzmann() {
        out!(
            "  trained:   {} steps, {} examples seen, batch {}, seed {}",
            m.step,
            m.examples_seen,
            t.batch,
            t.seed
        );
    } else {
        out!(
            "  trained:   {} steps, {} examples seen, batch {}, lr G {} / D {}, Adam betas ({}, {}), seed {}",
            m.step,
            m.examples_seen,
            t.batch,
            t.lr_g,
            t.lr_d,
            t.beta1,
            t.beta2,
            t.seed
        );
    }
    if !t.schedule.is_constant() {
        let (g, d) = t.rates_at(m.step);
        out!(
            "  schedule:  {} (now lr G {g:.3e} / D {d:.3e})",
            t.schedule.describe()
        );
    }
    if let Some(last) = m.history.last() {
        if model.kind.is_boltzmann() {
            out!(
                "  last step: reconstruction error {:.4}, pseudo-log-likelihood {:.1} (per image), {:.0} examples/s",
                last.reconstruction(),
                last.pseudo_log_likelihood(),
                last.examples_per_sec
            );
        } else if let (None, Some(cycle)) = (last.psnr, last.content_loss) {
            out!(
                "  last step: round-trip error {cycle:.4} (both directions summed, pixels in [0, 1]), loss_D {:.4}, loss_G {:.4}, {:.0} examples/s",
                last.loss_d,
                last.loss_g,
                last.examples_per_sec
            );
        } else if let (Some(psnr), Some(content)) = (last.psnr, last.content_loss) {
            out!(
                "  last step: content loss {content:.5}, PSNR {psnr:.2} dB on the batch, loss_D {:.4}, D(x) {:.3}, D(G(x)) {:.3}, {:.0} examples/s",
                last.loss_d,
                last.d_real,
                last.d_fake_after,
                last.examples_per_sec
            );
        } else if model.kind.is_gan() {
            out!(
                "  last step: loss_D {:.4}, loss_G {:.4}, D(x) {:.3}, D(G(z)) {:.3}, {:.0} examples/s",
                last.loss_d,
                last.loss_g,
                last.d_real,
                last.d_fake_after,
                last.examples_per_sec
            );
        } else {
            out!(
                "  last step: reconstruction {:.2}, KL {:.2} (per image), {:.0} examples/s",
                last.reconstruction(),
                last.kl(),
                last.examples_per_sec
            );
        }
    }
    out!(
        "  format:    version {}, written by latentlab {} at unix time {}",
        m.format_version,
        m.crate_version,
        m.created_unix_secs
    );
    Ok(())
}
