//! The PyTorch side of `latentlab bench`: `tests/reference/pytorch_ref.py` run for one model
//! (when `python3` can import torch), its JSON line read back.

use anyhow::{Context, Result, bail};
use latentlab::bench::ReferenceRun;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The models the reference script has.
pub const MODELS: &[&str] = &["mlp", "dcgan", "cdcgan", "vae", "stylegan"];

/// The reference script: `LATENTLAB_PYTORCH_REF`, else `tests/reference/pytorch_ref.py` under
/// the current directory (a checkout), else under the checkout this binary was built from.
pub fn script() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LATENTLAB_PYTORCH_REF") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let rel = Path::new("tests/reference/pytorch_ref.py");
    [
        rel.to_path_buf(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(rel),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Why the PyTorch side cannot run here, if it cannot.
pub fn unavailable(python: &str) -> Option<String> {
    if script().is_none() {
        return Some(
            "the reference script tests/reference/pytorch_ref.py is not here (set \
             LATENTLAB_PYTORCH_REF to its path)"
                .into(),
        );
    }
    match Command::new(python).args(["-c", "import torch"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(_) => Some(format!(
            "`{python}` cannot import torch (pip install torch)"
        )),
        Err(e) => Some(format!("cannot run `{python}`: {e}")),
    }
}

/// What one reference run needs besides the model.
pub struct Plan<'a> {
    pub python: &'a str,
    pub device: &'a str,
    pub threads: usize,
    pub batch: usize,
    pub steps: usize,
    pub runs: usize,
    pub warmup: usize,
    pub size: usize,
    pub channels: usize,
}

/// Run the reference for `model` and read its result.
pub fn run(model: &str, plan: &Plan) -> Result<ReferenceRun> {
    let script = script().context("no reference script")?;
    let out = Command::new(plan.python)
        .arg(&script)
        .args(["--model", model, "--device", plan.device])
        .args(["--threads", &plan.threads.to_string()])
        .args(["--batch", &plan.batch.to_string()])
        .args(["--steps", &plan.steps.to_string()])
        .args(["--runs", &plan.runs.to_string()])
        .args(["--warmup", &plan.warmup.to_string()])
        .args(["--size", &plan.size.to_string()])
        .args(["--channels", &plan.channels.to_string()])
        // The style generator at latentlab's default width, which bench measures.
        .args([
            "--width",
            &latentlab::model::ModelKind::Stylegan
                .default_width()
                .to_string(),
        ])
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("no message");
        bail!("the PyTorch reference for {model} failed: {last}");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("the PyTorch reference for {model} printed no JSON"))?;
    serde_json::from_str(line)
        .with_context(|| format!("reading the PyTorch reference's JSON for {model}"))
}
