//! A conditional discriminator's first convolution over an image and its label planes.
//!
//! Why: the label enters as one constant plane per class, so those planes took ten of the
//! layer's eleven input channels: most of its work, and a gradient for each plane that is
//! thrown away. The convolution is linear in its input, so the planes' share is the label
//! mixing ten per-class maps (the convolution of one all-ones plane per class, borders
//! included). Here the layer convolves the image alone, the ten one-class pictures once, and
//! mixes the maps by the labels, which also holds for soft labels. Same function and gradients
//! (the test compares them with the concatenation through burn's layer); same weights.

use super::conv::{conv_fits, conv_parts};
use super::{count_dispatch, wanted};
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

/// `layer` over channels-last `x` [n, 2h, 2w, cin] with `label` [n, classes] appended as
/// constant planes (the layer takes cin + classes channels) -> [n, h, w, cout].
pub fn conv_with_label_planes(layer: &Conv2d, x: Tensor<4>, label: Tensor<2>) -> Tensor<4> {
    let [n, hh, ww, cin] = x.dims();
    let classes = label.dims()[1];
    let weight = layer.weight.val(); // [cout, cin + classes, 4, 4]
    let [cout, total, _, _] = weight.dims();
    let fits = conv_fits(layer) && hh % 2 == 0 && ww % 2 == 0 && total == cin + classes;
    let device = x.device();
    let bias = match &layer.bias {
        Some(b) if fits && x.dtype() == DType::F32 && wanted(&device) => b.val(),
        _ => {
            let planes = label
                .reshape([n, 1, 1, classes])
                .expand([n, hh, ww, classes]);
            return super::conv::conv(layer, Tensor::cat(vec![x, planes], 3));
        }
    };
    count_dispatch();
    let (h, w) = (hh / 2, ww / 2);
    let image = conv_parts(x, weight.clone().slice([0..cout, 0..cin]), bias); // [n, h, w, cout]
    // One picture per class: channel c all ones, the others zero.
    let ones: Vec<f32> = (0..classes)
        .flat_map(|c| (0..hh * ww * classes).map(move |i| f32::from(u8::from(i % classes == c))))
        .collect();
    let ones = Tensor::<4>::from_data(TensorData::new(ones, [classes, hh, ww, classes]), &device);
    let no_bias = Tensor::<1>::zeros([cout], &device);
    let maps = conv_parts(ones, weight.slice([0..cout, cin..total]), no_bias); // [classes, h, w, cout]
    let mixed = label.matmul(maps.reshape([classes, h * w * cout])); // [n, h*w*cout]
    image + mixed.reshape([n, h, w, cout])
}

#[cfg(test)]
mod tests {
    use super::super::{assert_rel, weight_bias_grads};
    use super::*;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;

    fn host<const D: usize>(shape: [usize; D], salt: usize, device: &Device) -> Tensor<D> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| ((i * 37 + salt * 11) % 53) as f32 / 26.0 - 1.0)
            .collect();
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    /// Values and the gradients of image, weight and bias agree with burn's layer over the
    /// concatenated planes, for soft labels too.
    #[test]
    fn label_planes_by_class_maps_match_the_concatenation() {
        let device = Device::flex().autodiff();
        let layer = Conv2dConfig::new([2 + 3, 6], [4, 4])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        let x = host([2, 8, 8, 2], 1, &device); // [n, 8, 8, cin]
        let label = host([2, 3], 2, &device).abs(); // soft labels
        let mix = host([2, 4, 4, 6], 3, &device);
        let run = |ours: bool| {
            let xg = x.clone().require_grad();
            let y = if ours {
                let before = super::super::dispatched_here();
                let y = conv_with_label_planes(&layer, xg.clone(), label.clone());
                assert!(
                    super::super::dispatched_here() > before,
                    "the class maps ran"
                );
                y
            } else {
                let planes = label.clone().reshape([2, 3, 1, 1]).expand([2, 3, 8, 8]);
                let nchw = Tensor::cat(vec![xg.clone().permute([0, 3, 1, 2]), planes], 1);
                layer.forward(nchw).permute([0, 2, 3, 1]) // [n, 4, 4, cout]
            };
            let grads = (y.clone() * mix.clone()).sum().backward();
            let (w, b) = weight_bias_grads(&layer.weight, layer.bias.as_ref(), &grads);
            (y.inner(), xg.grad(&grads).expect("input gradient"), w, b)
        };
        let (ours, theirs) = (run(true), run(false));
        assert_rel(ours.0, theirs.0, 1e-5, "values");
        assert_rel(ours.1, theirs.1, 1e-5, "image gradient");
        assert_rel(ours.2, theirs.2, 1e-5, "weight gradient");
        assert_rel(ours.3, theirs.3, 1e-5, "bias gradient");
    }
}
