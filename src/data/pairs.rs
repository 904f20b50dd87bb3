//! Data for unpaired translation (CycleGAN): two sets as one, and the built-in sets that make
//! demo pairs without a network: digits drawn over coloured, textured grounds (in the manner of
//! MNIST-M) and the shapes set restricted to one shape.
//!
//! A pair is one [`Dataset`] whose label is the domain (0 for A, 1 for B), so a run's data,
//! manifest and resume work as for any set; both halves are loaded at one size and made as
//! deep as the deeper of the two (a grey set beside a colour one is copied into R, G and B).

use super::{DataError, DataSource, Dataset};

/// The separator of a pair's two sources in its name (`default <-> fashion`).
pub const PAIR_SEPARATOR: &str = " <-> ";

/// The two halves of `data` (a pair's): the image indices of domain A and of domain B.
pub fn domains(data: &Dataset) -> (Vec<usize>, Vec<usize>) {
    (0..data.len()).partition(|&i| data.labels[i] == 0)
}

/// Image indices per domain: A's, then B's.
pub type PerDomain = [Vec<usize>; 2];

/// A pair's images of each domain (A, then B) split into training and held-out ones: every
/// 10th image of a domain is held out (at most 500; sets are often sorted by class). `None`
/// unless `data` is a pair with images of both kinds in both domains.
pub fn split_domains(data: &Dataset) -> Option<(PerDomain, PerDomain)> {
    if !data.name.contains(PAIR_SEPARATOR) {
        return None;
    }
    let (a, b) = domains(data);
    let split = |v: Vec<usize>| {
        let (mut t, mut h) = (Vec::new(), Vec::new());
        for (i, x) in v.into_iter().enumerate() {
            if i % 10 == 9 { &mut h } else { &mut t }.push(x);
        }
        h.truncate(super::held_out(10 * h.len()));
        (t, h)
    };
    let ((ta, ha), (tb, hb)) = (split(a), split(b));
    if ta.is_empty() || tb.is_empty() || ha.is_empty() || hb.is_empty() {
        return None;
    }
    Some(([ta, tb], [ha, hb]))
}

/// `a` and `b` as one set at `size` (their own sizes when `None`: A's wins), labelled by domain.
pub fn load_pair(
    a: &DataSource,
    b: &DataSource,
    size: Option<usize>,
) -> Result<Dataset, DataError> {
    let first = a.load_opts(size, &Default::default())?.0;
    let side = size.unwrap_or(first.height);
    let second = b.load_opts(Some(side), &Default::default())?.0;
    let channels = first.channels.max(second.channels);
    let (first, second) = (first.to_channels(channels), second.to_channels(channels));
    let mut images = first.images;
    images.extend_from_slice(&second.images);
    let mut labels = vec![0u8; first.labels.len()];
    labels.extend(std::iter::repeat_n(1u8, second.labels.len()));
    Ok(Dataset {
        name: format!("{}{PAIR_SEPARATOR}{}", first.name, second.name),
        height: side,
        width: side,
        channels,
        images,
        labels,
        class_names: vec![format!("A: {a}"), format!("B: {b}")],
    })
}

/// The embedded digits drawn over coloured, textured grounds at 28 px, in colour: each image
/// `|ground - digit|` per channel (MNIST-M's blend), the ground two random colours blended
/// along a random direction with a ripple, all seeded by the image's index. Labels are the
/// digits.
pub fn colour_digits() -> Result<Dataset, DataError> {
    let digits = super::embedded::load()?;
    let (h, w) = (digits.height, digits.width);
    let plane = h * w;
    let mut images = Vec::with_capacity(digits.len() * 3 * plane);
    for (i, digit) in digits.images.chunks_exact(plane).enumerate() {
        let mut rng = Lcg(0x5eed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let c0 = [rng.unit(), rng.unit(), rng.unit()];
        let c1 = [rng.unit(), rng.unit(), rng.unit()];
        let angle = rng.unit() * std::f32::consts::TAU;
        let (dx, dy) = (angle.cos(), angle.sin());
        let freq = 0.3 + 0.6 * rng.unit();
        let phase = rng.unit() * std::f32::consts::TAU;
        for c in 0..3 {
            for y in 0..h {
                for x in 0..w {
                    let t = ((x as f32 * dx + y as f32 * dy) / w as f32 + 1.0) / 2.0;
                    let ripple = 0.15 * ((x as f32 * dy - y as f32 * dx) * freq + phase).sin();
                    let ground = (c0[c] * (1.0 - t) + c1[c] * t + ripple).clamp(0.0, 1.0);
                    let ink = f32::from(digit[y * w + x]) / 255.0;
                    images.push(((ground - ink).abs() * 255.0).round() as u8);
                }
            }
        }
    }
    Ok(Dataset {
        name: "colour-digits".into(),
        height: h,
        width: w,
        channels: 3,
        images,
        labels: digits.labels,
        class_names: digits.class_names,
    })
}

/// The shapes set restricted to the shape named `class` (square, circle, triangle, cross).
pub fn shapes_of(class: &str, size: usize) -> Result<Dataset, DataError> {
    let names = super::shapes::CLASS_NAMES;
    let Some(k) = names.iter().position(|n| *n == class) else {
        return Err(DataError::UnknownShape {
            name: class.into(),
            known: names.join(", "),
        });
    };
    let all = super::shapes::dataset(
        super::shapes::DEFAULT_LEN,
        size,
        super::shapes::DEFAULT_SEED,
    );
    let keep: Vec<usize> = (0..all.len())
        .filter(|&i| all.labels[i] as usize == k)
        .collect();
    let mut images = Vec::with_capacity(keep.len() * all.image_len());
    for &i in &keep {
        images.extend_from_slice(all.image(i));
    }
    Ok(Dataset {
        name: format!("shapes:{class}"),
        labels: vec![k as u8; keep.len()],
        images,
        ..all
    })
}

/// A small seeded generator (the grounds need no statistical quality, only determinism).
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_labelled_by_domain_and_as_deep_as_its_deeper_half() {
        let pair = load_pair(&DataSource::Default, &DataSource::ColourDigits, None).unwrap();
        assert_eq!((pair.channels, pair.height), (3, 28));
        let (a, b) = domains(&pair);
        assert_eq!((a.len(), b.len()), (5000, 5000));
        assert_eq!(pair.name, "mnist5k <-> colour-digits");
        // The grey digits became RGB with equal planes; the colour ones are not grey.
        let grey = pair.image(a[0]);
        assert_eq!(grey[..784], grey[784..1568]);
        let colour = pair.image(b[0]);
        assert_ne!(colour[..784], colour[784..1568]);
    }

    #[test]
    fn one_shape_alone_and_unknown_shapes_are_named() {
        let circles = shapes_of("circle", 16).unwrap();
        assert!(circles.len() > 4000 && circles.labels.iter().all(|&l| l == 1));
        let e = shapes_of("hexagon", 16).unwrap_err().to_string();
        assert!(e.contains("hexagon") && e.contains("circle"), "{e}");
    }
}
