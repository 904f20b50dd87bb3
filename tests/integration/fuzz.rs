//! Mutation fuzzing of every parser that reads bytes a user (or a stranger) can hand us: IDX
//! files, image folders, `manifest.json`, `classifier.json`, PNG latent metadata and the app's
//! settings. Each case starts from a valid seed (or pure random bytes), applies 1-8 random
//! mutations and runs the parser under `catch_unwind`: a typed `Ok` or `Err` passes, a panic
//! fails, naming the case and saving its input to
//! `std::env::temp_dir()/latentlab-fuzz-<parser>-<case>.bin`.
//!
//! Every case has its own seed (derived from the parser's name and the case index), so a
//! failure reproduces by running the same test again.
//!
//! `LATENTLAB_FUZZ_CASES=N` sets the number of cases per parser. The long run, a million cases
//! for each byte-level parser:
//!
//! ```text
//! cargo test --release --test integration fuzz_million -- --ignored --nocapture
//! ```

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

const INTERESTING_U8: [u8; 4] = [0, 0xff, 0x7f, 0x80];
const INTERESTING_U32: [u32; 7] = [
    0,
    1,
    0xffff_ffff,
    0x7fff_ffff,
    0x0001_0000,
    0x8000_0000,
    0x0000_0803,
];
/// What JSON-aware mutations put in place of a number.
const JSON_TOKENS: [&str; 11] = [
    "-1",
    "0",
    "1e309",
    "1e39",
    "18446744073709551615",
    "4294967296",
    "null",
    "\"x\"",
    "[]",
    "{}",
    "-0.0",
];

/// Cases per parser: `LATENTLAB_FUZZ_CASES` when set, else `default`.
fn cases(default: usize) -> usize {
    std::env::var("LATENTLAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// FNV-1a: a stable seed from a parser's name.
fn name_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The random stream of one case: independent of every other case, so any case reproduces.
fn case_rng(name: &str, case: usize) -> StdRng {
    StdRng::seed_from_u64(name_seed(name) ^ (case as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Replace `v[a..b]` with `bytes`.
fn replace_range(v: &mut Vec<u8>, a: usize, b: usize, bytes: &[u8]) {
    let tail = v.split_off(b);
    v.truncate(a);
    v.extend_from_slice(bytes);
    v.extend_from_slice(&tail);
}

/// A random range `a..b` of `0..len` (at most 64 long); `len` must be positive.
fn random_span(rng: &mut StdRng, len: usize) -> (usize, usize) {
    let a = rng.random_range(0..len);
    let b = rng.random_range(a..=len.min(a + 64));
    (a, b)
}

/// Apply 1-8 random byte-level mutations.
fn mutate(rng: &mut StdRng, input: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..=8) {
        let len = input.len();
        match rng.random_range(0..9) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                input[i] ^= 1u8 << rng.random_range(0..8u32);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                input[i] = INTERESTING_U8[rng.random_range(0..INTERESTING_U8.len())];
            }
            2 => {
                let at = rng.random_range(0..=len);
                let n = rng.random_range(1..=16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random::<u8>()).collect();
                replace_range(input, at, at, &bytes);
            }
            3 if len > 0 => {
                let (a, b) = random_span(rng, len);
                replace_range(input, a, b, &[]);
            }
            4 if len > 0 => {
                let (a, b) = random_span(rng, len);
                let chunk = input[a..b].to_vec();
                let at = rng.random_range(0..=len);
                replace_range(input, at, at, &chunk);
            }
            5 if rng.random_bool(0.5) => input.truncate(rng.random_range(0..=len)),
            6 | 7 if len >= 4 => {
                // Headers live at the front: favour the first four aligned words.
                let i = if rng.random_bool(0.5) {
                    4 * rng.random_range(0..=(len - 4).min(12) / 4)
                } else {
                    rng.random_range(0..=len - 4)
                };
                let word = if rng.random_bool(0.2) {
                    len as u32
                } else {
                    INTERESTING_U32[rng.random_range(0..INTERESTING_U32.len())]
                };
                input[i..i + 4].copy_from_slice(&word.to_be_bytes());
            }
            _ if len > 0 => {
                let i = rng.random_range(0..len);
                input[i] = rng.random();
            }
            _ => input.push(rng.random()),
        }
    }
}

/// A case's input: pure random bytes now and then, else a mutated seed.
fn byte_case(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if seeds.is_empty() || rng.random_bool(0.05) {
        let n = rng.random_range(0..=256);
        return (0..n).map(|_| rng.random::<u8>()).collect();
    }
    let mut input = seeds[rng.random_range(0..seeds.len())].clone();
    mutate(rng, &mut input);
    input
}

/// Byte spans of the numbers in JSON text (runs of `[0-9.eE+-]` starting with a digit or `-`).
fn number_spans(text: &[u8]) -> Vec<(usize, usize)> {
    let in_number = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-');
    let mut spans = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let starts = (text[i].is_ascii_digit() || text[i] == b'-')
            && (i == 0 || !text[i - 1].is_ascii_alphanumeric());
        if starts {
            let start = i;
            while i < text.len() && in_number(text[i]) {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

/// A mutated JSON document: numbers swapped for hostile tokens, byte mutations, or both.
fn json_case(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut text = seed.to_vec();
    let style = rng.random_range(0..4);
    if style != 0 {
        for _ in 0..rng.random_range(1..=3) {
            let spans = number_spans(&text);
            if spans.is_empty() {
                break;
            }
            let (a, b) = spans[rng.random_range(0..spans.len())];
            let token = JSON_TOKENS[rng.random_range(0..JSON_TOKENS.len())];
            replace_range(&mut text, a, b, token.as_bytes());
        }
    }
    if style != 1 {
        mutate(rng, &mut text);
    }
    text
}

/// Run `check` on `count` inputs made by `make`; fail on the first case that panics.
fn run(name: &str, count: usize, make: impl Fn(&mut StdRng) -> Vec<u8>, check: impl Fn(&[u8])) {
    for case in 0..count {
        let mut rng = case_rng(name, case);
        let input = make(&mut rng);
        if catch_unwind(AssertUnwindSafe(|| check(input.as_slice()))).is_err() {
            let file = std::env::temp_dir().join(format!("latentlab-fuzz-{name}-{case}.bin"));
            let saved = match std::fs::write(&file, &input) {
                Ok(()) => format!("saved to {}", file.display()),
                Err(e) => format!("not saved ({e})"),
            };
            panic!(
                "fuzz {name}: case {case} ({} bytes) panicked; input {saved}",
                input.len()
            );
        }
    }
    eprintln!("fuzz {name}: {count} cases, no panic");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// A valid IDX3 file of `n` 28x28 images.
fn idx_images(n: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for word in [0x0803u32, n, 28, 28] {
        v.extend_from_slice(&word.to_be_bytes());
    }
    v.extend((0..n as usize * 784).map(|i| (i * 7 % 256) as u8));
    v
}

fn idx_labels(n: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for word in [0x0801u32, n] {
        v.extend_from_slice(&word.to_be_bytes());
    }
    v.extend((0..n).map(|i| (i % 10) as u8));
    v
}

/// A raw or a `.gz` name (the name decides whether gzip is required), chosen by the input's
/// length so a saved input reproduces with its name.
fn idx_path(bytes: &[u8]) -> &'static Path {
    Path::new(if bytes.len().is_multiple_of(2) {
        "fuzz"
    } else {
        "fuzz.gz"
    })
}

fn fuzz_idx_images(count: usize) {
    let raw = idx_images(3);
    let seeds = vec![gzip(&raw), raw];
    run(
        "idx-images",
        count,
        |rng| byte_case(rng, &seeds),
        |bytes| {
            if let Ok((n, h, w, pixels)) = latentlab::data::parse_idx_images(idx_path(bytes), bytes)
            {
                assert_eq!(pixels.len(), n * h * w);
            }
        },
    );
}

fn fuzz_idx_labels(count: usize) {
    let raw = idx_labels(5);
    let seeds = vec![gzip(&raw), raw];
    run(
        "idx-labels",
        count,
        |rng| byte_case(rng, &seeds),
        |bytes| {
            let _ = latentlab::data::parse_idx_labels(idx_path(bytes), bytes);
        },
    );
}

fn shipped(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A small manifest: a shipped one with its history cut to three points.
fn manifest_seed() -> Vec<u8> {
    let text = std::fs::read(shipped("checkpoints/mnist-vae2d/manifest.json")).expect("manifest");
    let mut value: serde_json::Value = serde_json::from_slice(&text).expect("json");
    if let Some(points) = value
        .pointer_mut("/history/points")
        .and_then(|p| p.as_array_mut())
    {
        points.truncate(3);
    }
    serde_json::to_vec_pretty(&value).expect("json")
}

fn fuzz_manifest(count: usize) {
    let seed = manifest_seed();
    latentlab::checkpoint::parse_manifest(&seed, Path::new("manifest.json"))
        .expect("the seed manifest parses");
    run(
        "manifest",
        count,
        |rng| json_case(rng, &seed),
        |bytes| {
            if let Ok(m) = latentlab::checkpoint::parse_manifest(bytes, Path::new("manifest.json"))
            {
                assert!((1..=4096).contains(&m.train.model.latent_dim));
                assert!((1..=4096).contains(&m.train.model.width));
                assert!(m.train.sample_count <= 1024);
                assert!((1..=latentlab::checkpoint::MAX_BATCH).contains(&m.train.batch));
                for p in &m.history.points {
                    let values = [
                        p.loss_d,
                        p.loss_g,
                        p.d_real,
                        p.d_fake_before,
                        p.d_fake_after,
                        p.examples_per_sec,
                        p.step_secs,
                    ];
                    assert!(values.iter().all(|v| !v.is_infinite()), "{p:?}");
                }
            }
        },
    );
}

fn fuzz_classifier(count: usize) {
    let seed =
        std::fs::read(shipped("checkpoints/classifier-mnist5k/classifier.json")).expect("json");
    latentlab::quality::parse_classifier_info(&seed, Path::new("classifier.json"))
        .expect("the seed classifier.json parses");
    run(
        "classifier",
        count,
        |rng| json_case(rng, &seed),
        |bytes| {
            if let Ok(info) =
                latentlab::quality::parse_classifier_info(bytes, Path::new("classifier.json"))
            {
                assert!((1..=256).contains(&info.class_names.len()));
            }
        },
    );
}

fn fuzz_settings(count: usize) {
    use latentlab::ui::settings::Settings;
    let seed = serde_json::to_vec(&Settings::default()).expect("json");
    run(
        "settings",
        count,
        |rng| json_case(rng, &seed),
        |bytes| {
            if let Ok(s) = serde_json::from_slice::<Settings>(bytes) {
                let s = s.sanitized();
                assert!((1..=4096).contains(&s.run.batch), "batch {}", s.run.batch);
                assert!((0.0..=0.99).contains(&s.smoothing), "{}", s.smoothing);
                assert!((2..=64).contains(&s.interp_steps), "{}", s.interp_steps);
                assert!(
                    s.interp_fps.is_finite() && (0.5..=60.0).contains(&s.interp_fps),
                    "{}",
                    s.interp_fps
                );
                for lr in [s.run.lr, s.run.lr_g, s.run.lr_d].into_iter().flatten() {
                    assert!(lr.is_finite() && lr > 0.0, "learning rate {lr}");
                }
                for v in [s.run.width, s.run.latent].into_iter().flatten() {
                    assert!((1..=4096).contains(&v), "{v}");
                }
            }
        },
    );
}

/// A 28x28 test pattern.
fn grid() -> latentlab::types::grid::Picture {
    latentlab::types::grid::Picture::gray(
        28,
        28,
        (0..28 * 28).map(|i| (i * 3 % 256) as u8).collect(),
    )
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Recompute the CRC of every complete chunk, so mutations reach the chunk parsers instead of
/// stopping at the checksum.
fn fix_png_crcs(png: &mut [u8]) {
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|&e| e + 4 <= png.len()) else {
            break;
        };
        let crc = crc32(&png[at + 4..end]);
        png[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
}

/// Hostile text for a metadata value.
fn hostile_text(rng: &mut StdRng) -> String {
    match rng.random_range(0..12) {
        0 => "NaN".into(),
        1 => "inf,-inf".into(),
        2 => "1e39".into(),
        3 => String::new(),
        4 => ",,,".into(),
        5 => " 1 , 2 ".into(),
        6 => "0.5,".repeat(rng.random_range(1..=300)),
        // Past the 65,536-number limit: rare, it is the slowest case.
        7 if rng.random_bool(0.05) => "0,".repeat(70_000),
        8 => "9".repeat(rng.random_range(1..=5000)),
        9 => "18446744073709551616".into(),
        10 => (0..rng.random_range(0..64))
            .map(|_| char::from(rng.random_range(0x20u8..0x7f)))
            .collect(),
        _ => latentlab::export::format_floats(&[rng.random::<f32>(), -1.5, 1e-40]),
    }
}

/// A PNG whose latentlab:* values are hostile text (valid chunks, so the text is parsed).
fn latent_png_case(rng: &mut StdRng) -> Vec<u8> {
    let keys = ["z", "label_mix", "seed", "model", "checkpoint"];
    let mut meta: Vec<(&str, String)> = Vec::new();
    for key in keys {
        if rng.random_bool(0.7) {
            meta.push((key, hostile_text(rng)));
        }
    }
    latentlab::export::png_bytes(&grid(), &meta).unwrap_or_default()
}

fn fuzz_png_latent(count: usize) {
    use latentlab::export::{format_floats, png_bytes};
    let seed = png_bytes(
        &grid(),
        &[
            ("z", format_floats(&[0.5; 8])),
            ("label_mix", "0,1".into()),
            ("seed", "3".into()),
        ],
    )
    .expect("png");
    let record =
        latentlab::export::parse_latent(&seed, Path::new("fuzz.png")).expect("the seed parses");
    assert_eq!(record.z, [0.5; 8]);
    let seeds = vec![seed];
    run(
        "png-latent",
        count,
        |rng| match rng.random_range(0..3) {
            0 => latent_png_case(rng),
            1 => byte_case(rng, &seeds),
            _ => {
                let mut png = byte_case(rng, &seeds);
                fix_png_crcs(&mut png);
                png
            }
        },
        |bytes| {
            if let Ok(r) = latentlab::export::parse_latent(bytes, Path::new("fuzz.png")) {
                assert!(r.z.len() <= 65_536 && r.z.iter().all(|v| v.is_finite()));
                if let Some(label) = &r.label {
                    assert!(label.len() <= 256 && label.iter().all(|v| v.is_finite()));
                }
            }
        },
    );
}

/// Image folders: 1-2 class folders of 1-3 mutated PNG/JPEG files each, loaded through the
/// public entry point. Files on disk make this slow, so it runs a handful of cases.
fn fuzz_folders(count: usize) {
    let png = latentlab::export::png_bytes(&grid(), &[]).expect("png");
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageLuma8(
        image::GrayImage::from_raw(28, 28, grid().pixels).expect("28x28"),
    )
    .write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .expect("jpeg");
    let seeds = [png, jpeg];
    let name = "folder";
    for case in 0..count {
        let mut rng = case_rng(name, case);
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut files = Vec::new();
        for class in 0..rng.random_range(1..=2) {
            let class_dir = dir.path().join(format!("class{class}"));
            std::fs::create_dir(&class_dir).expect("mkdir");
            for i in 0..rng.random_range(1..=3) {
                let kind = rng.random_range(0..seeds.len());
                let mut bytes = byte_case(&mut rng, &seeds[kind..=kind]);
                if kind == 0 && rng.random_bool(0.5) {
                    fix_png_crcs(&mut bytes);
                }
                // Extensions need not match the content: the loader guesses from the bytes.
                let ext = ["png", "jpg", "jpeg"][rng.random_range(0..3usize)];
                let file = class_dir.join(format!("{i}.{ext}"));
                std::fs::write(&file, &bytes).expect("write");
                files.push(bytes);
            }
        }
        let source = latentlab::data::DataSource::Path(dir.path().into());
        if catch_unwind(AssertUnwindSafe(|| source.load(28))).is_err() {
            for (i, bytes) in files.iter().enumerate() {
                let file =
                    std::env::temp_dir().join(format!("latentlab-fuzz-{name}-{case}-{i}.bin"));
                let _ = std::fs::write(file, bytes);
            }
            panic!(
                "fuzz {name}: case {case} ({} files, {} bytes) panicked; inputs saved as {}",
                files.len(),
                files.iter().map(Vec::len).sum::<usize>(),
                std::env::temp_dir()
                    .join(format!("latentlab-fuzz-{name}-{case}-*.bin"))
                    .display()
            );
        }
    }
    eprintln!("fuzz {name}: {count} cases, no panic");
}

#[test]
fn fuzz_idx_images_never_panic() {
    fuzz_idx_images(cases(2000));
}

#[test]
fn fuzz_idx_labels_never_panic() {
    fuzz_idx_labels(cases(2000));
}

#[test]
fn fuzz_image_folders_never_panic() {
    fuzz_folders(cases(50).min(200));
}

#[test]
fn fuzz_manifest_never_panics() {
    fuzz_manifest(cases(2000));
}

#[test]
fn fuzz_classifier_info_never_panics() {
    fuzz_classifier(cases(2000));
}

#[test]
fn fuzz_png_latent_never_panics() {
    fuzz_png_latent(cases(2000));
}

#[test]
fn fuzz_settings_never_panic() {
    fuzz_settings(cases(2000));
}

/// The long run: a million cases for each byte-level parser (minutes, not seconds).
#[test]
#[ignore]
fn fuzz_million() {
    let n = cases(1_000_000);
    fuzz_idx_images(n);
    fuzz_idx_labels(n);
    fuzz_manifest(n);
    fuzz_classifier(n);
    fuzz_png_latent(n);
    fuzz_settings(n);
}
