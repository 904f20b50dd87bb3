//! Training the quality meter's classifier (the meter itself, and its scores, are in
//! `crate::quality`).

use super::TrainError;
use crate::checkpoint;
use crate::data::Dataset;
use crate::model::classifier::Classifier;
use crate::model::seeded_init;
use crate::quality::{ClassifierInfo, accuracy, split};
use crate::types::noise;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// Train a classifier on the training split (Adam 1e-3, batch 64, cross-entropy) and measure
/// it on the held-out split. `progress(step, loss)` is called every 100 steps.
pub fn train_classifier(
    data: &Dataset,
    steps: usize,
    seed: u64,
    device: &Device,
    mut progress: impl FnMut(usize, f32),
) -> Result<(Classifier, ClassifierInfo), TrainError> {
    super::check_shape(data)?;
    if data.num_classes() < 2 {
        return Err(TrainError::NeedsLabels {
            kind: "classifier",
            data: data.name.clone(),
        });
    }
    let (train, heldout) = split(data.len());
    if train.is_empty() || heldout.is_empty() {
        return Err(TrainError::TooSmall {
            len: data.len(),
            batch: 10,
        });
    }
    let ad = device.clone().autodiff();
    let classes = data.num_classes();
    let (side, channels) = (data.height, data.channels);
    let mut model = seeded_init(&ad, seed, || Classifier::new(classes, side, channels, &ad));
    let mut opt = AdamConfig::new().init();
    let mut batcher = crate::data::Batcher::new(train.len(), seed);
    for step in 1..=steps {
        let idx: Vec<usize> = batcher
            .next_indices(64)
            .into_iter()
            .map(|i| train[i])
            .collect();
        let x = Tensor::<4>::from_data(
            TensorData::new(data.pixels(&idx), [idx.len(), channels, side, side]),
            &ad,
        );
        let labels: Vec<u8> = idx.iter().map(|&i| data.labels[i]).collect();
        let target = Tensor::<2>::from_data(
            TensorData::new(noise::one_hot(&labels, classes), [idx.len(), classes]),
            &ad,
        );
        let (_, logits) = model.forward(x);
        let loss = (log_softmax(logits, 1) * target).sum_dim(1).mean().neg(); // cross-entropy
        if step % 100 == 0 {
            progress(step, loss.clone().into_scalar::<f32>());
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(1e-3, model, grads);
    }
    let model = model.valid();
    let heldout_accuracy = accuracy(&model, data, &heldout, device)?;
    Ok((
        model,
        ClassifierInfo {
            format_version: checkpoint::FORMAT_VERSION,
            data: data.name.clone(),
            class_names: data.class_names.clone(),
            train_len: train.len(),
            heldout_len: heldout.len(),
            heldout_accuracy,
            steps,
            seed,
            image_size: side,
            channels,
        },
    ))
}
