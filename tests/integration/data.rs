//! Data loading: the embedded set, image folders, and one test per malformed input.

use latentlab::data::{DataError, DataSource, Dataset};
use std::io::Write;
use std::path::Path;

fn idx_images(n: u32, h: u32, w: u32, pixels: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for word in [0x0803u32, n, h, w] {
        v.extend_from_slice(&word.to_be_bytes());
    }
    v.extend(std::iter::repeat_n(7u8, pixels));
    v
}

fn idx_labels(n: u32, count: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for word in [0x0801u32, n] {
        v.extend_from_slice(&word.to_be_bytes());
    }
    v.extend((0..count).map(|i| (i % 3) as u8));
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

fn write_pair(dir: &Path, images: &[u8], labels: &[u8]) {
    std::fs::write(dir.join("train-images-idx3-ubyte"), images).expect("write");
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).expect("write");
}

fn load(dir: &Path) -> Result<Dataset, DataError> {
    DataSource::Path(dir.into()).load(28)
}

#[test]
fn embedded_default_is_5000_labelled_digits() {
    let d = DataSource::Default.load(28).expect("embedded data");
    assert_eq!(
        (d.len(), d.height, d.width, d.num_classes()),
        (5000, 28, 28, 10)
    );
    for class in 0..10u8 {
        assert_eq!(d.labels.iter().filter(|&&l| l == class).count(), 500);
    }
    // Real digits: mostly black background with some bright strokes.
    let mean = d.images.iter().map(|&p| p as f64).sum::<f64>() / d.images.len() as f64;
    assert!((20.0..60.0).contains(&mean), "mean pixel {mean}");
}

#[test]
fn idx_directory_raw_and_gzip_load() {
    let dir = crate::tempdir();
    write_pair(
        dir.path(),
        &idx_images(5, 28, 28, 5 * 784),
        &idx_labels(5, 5),
    );
    let d = load(dir.path()).expect("raw IDX");
    assert_eq!((d.len(), d.num_classes()), (5, 3));

    let dir = crate::tempdir();
    std::fs::write(
        dir.path().join("x-images-idx3-ubyte.gz"),
        gz(&idx_images(4, 28, 28, 4 * 784)),
    )
    .expect("w");
    std::fs::write(
        dir.path().join("x-labels-idx1-ubyte.gz"),
        gz(&idx_labels(4, 4)),
    )
    .expect("w");
    assert_eq!(load(dir.path()).expect("gzip IDX").len(), 4);
}

#[test]
fn wrong_magic_number() {
    let dir = crate::tempdir();
    let mut images = idx_images(5, 28, 28, 5 * 784);
    images[3] = 0x01; // 0x0801: a label file's magic
    write_pair(dir.path(), &images, &idx_labels(5, 5));
    let e = load(dir.path()).expect_err("bad magic");
    assert!(matches!(e, DataError::BadMagic { found: 0x801, .. }), "{e}");
    assert!(
        e.to_string().contains("train-images-idx3-ubyte") && e.to_string().contains("magic"),
        "{e}"
    );
}

#[test]
fn wrong_dimensions() {
    let dir = crate::tempdir();
    write_pair(dir.path(), &idx_images(5, 0, 28, 0), &idx_labels(5, 5));
    let e = load(dir.path()).expect_err("zero rows");
    assert!(matches!(e, DataError::BadDimensions { .. }), "{e}");
    assert!(e.to_string().contains("0x28"), "{e}");
}

#[test]
fn image_label_count_mismatch() {
    let dir = crate::tempdir();
    write_pair(
        dir.path(),
        &idx_images(5, 28, 28, 5 * 784),
        &idx_labels(4, 4),
    );
    let e = load(dir.path()).expect_err("count mismatch");
    assert!(
        matches!(
            e,
            DataError::CountMismatch {
                images: 5,
                labels: 4,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("5 images") && e.to_string().contains("4 labels"),
        "{e}"
    );
}

#[test]
fn truncated_data() {
    let dir = crate::tempdir();
    write_pair(
        dir.path(),
        &idx_images(5, 28, 28, 3 * 784),
        &idx_labels(5, 5),
    );
    let e = load(dir.path()).expect_err("truncated");
    assert!(
        matches!(
            e,
            DataError::Truncated {
                expected: 3920,
                found: 2352,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn bad_gzip() {
    let dir = crate::tempdir();
    let mut broken = gz(&idx_images(5, 28, 28, 5 * 784));
    broken.truncate(broken.len() / 2);
    std::fs::write(dir.path().join("t-images-idx3-ubyte.gz"), broken).expect("w");
    let e = load(dir.path()).expect_err("bad gzip");
    assert!(matches!(e, DataError::Gzip { .. }), "{e}");
    assert!(
        e.to_string().contains("t-images-idx3-ubyte.gz") && e.to_string().contains("gzip"),
        "{e}"
    );
}

#[test]
fn empty_folder() {
    let dir = crate::tempdir();
    std::fs::create_dir(dir.path().join("cats")).expect("mkdir");
    let e = load(dir.path()).expect_err("empty");
    assert!(matches!(e, DataError::EmptyFolder { .. }), "{e}");
}

#[test]
fn a_folder_of_loose_pictures_is_one_unlabelled_class() {
    let dir = crate::tempdir();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).expect("mkdir");
    for (i, rgb) in [[200, 10, 10], [10, 200, 10], [10, 10, 200]]
        .iter()
        .enumerate()
    {
        image::RgbImage::from_pixel(48, 36, image::Rgb(*rgb))
            .save(photos.join(format!("{i}.png")))
            .expect("png");
    }
    let d = load(&photos).expect("a flat folder of pictures loads");
    assert_eq!(d.len(), 3);
    assert_eq!(d.class_names, vec!["photos".to_string()]);
    assert!(d.labels.iter().all(|&l| l == 0));
    assert_eq!(d.channels, 3, "colour kept");
    // With class folders beside them, loose pictures are not a class of their own.
    std::fs::create_dir(photos.join("red")).expect("mkdir");
    image::RgbImage::from_pixel(8, 8, image::Rgb([255, 0, 0]))
        .save(photos.join("red").join("r.png"))
        .expect("png");
    let d = load(&photos).expect("class folders load");
    assert_eq!(
        (d.len(), d.class_names.clone()),
        (1, vec!["red".to_string()])
    );
}

#[test]
fn unreadable_image() {
    let dir = crate::tempdir();
    std::fs::create_dir(dir.path().join("a")).expect("mkdir");
    std::fs::write(dir.path().join("a/broken.png"), b"not a png at all").expect("w");
    let e = load(dir.path()).expect_err("unreadable");
    assert!(matches!(e, DataError::UnreadableImage { .. }), "{e}");
    assert!(e.to_string().contains("broken.png"), "{e}");
}

#[test]
fn a_folder_of_grey_pictures_loads_grey_at_the_size_asked() {
    let dir = crate::tempdir();
    for (class, level) in [("dark", 10u8), ("light", 240u8)] {
        std::fs::create_dir(dir.path().join(class)).expect("mkdir");
        let img = image::RgbImage::from_pixel(40, 30, image::Rgb([level, level, level]));
        img.save(dir.path().join(class).join("one.png"))
            .expect("png");
        img.save(dir.path().join(class).join("two.jpg"))
            .expect("jpg");
    }
    let d = load(dir.path()).expect("folder");
    assert_eq!((d.len(), d.height, d.width, d.channels), (4, 28, 28, 1));
    assert_eq!(d.class_names, ["dark", "light"]);
    assert_eq!(d.labels, [0, 0, 1, 1]);
    assert!(d.image(0).iter().all(|&p| p < 30) && d.image(3).iter().all(|&p| p > 220));
}

#[test]
fn missing_path_and_fashion_message_name_the_fix() {
    let e = DataSource::Path("/no/such/dir".into())
        .load(28)
        .expect_err("missing");
    assert!(matches!(e, DataError::NotFound { .. }), "{e}");
    assert!(
        DataError::FashionMissing
            .to_string()
            .contains("dataset-fashion-mnist")
    );
}

#[test]
fn fashion_loads_when_installed() {
    match DataSource::Fashion.load(28) {
        Ok(d) => {
            assert_eq!((d.len(), d.num_classes()), (60000, 10));
            assert_eq!(d.class_names[9], "Ankle boot");
        }
        Err(DataError::FashionMissing) => {
            assert!(!Path::new(latentlab::data::FASHION_DIR).exists())
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[test]
fn gzip_bomb_is_refused_by_its_header() {
    // The header promises 2 images of 28x28 (1,568 bytes); the stream inflates to 8 MB.
    let bomb = gz(&idx_images(2, 28, 28, 8 << 20));
    assert!(bomb.len() < 1 << 20, "a small file: {} bytes", bomb.len());
    let e = latentlab::data::parse_idx_images(Path::new("bomb-images-idx3-ubyte.gz"), &bomb)
        .expect_err("bomb");
    assert!(
        matches!(e, DataError::TooLarge { expected: 1568, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("bomb-images-idx3-ubyte.gz")
            && e.to_string().contains("decompression bomb"),
        "{e}"
    );

    // The same through a directory, and for a label file.
    let dir = crate::tempdir();
    std::fs::write(dir.path().join("train-images-idx3-ubyte.gz"), &bomb).expect("w");
    let e = load(dir.path()).expect_err("bomb file");
    assert!(matches!(e, DataError::TooLarge { .. }), "{e}");
    let labels = gz(&idx_labels(3, 1 << 20));
    let e = latentlab::data::parse_idx_labels(Path::new("l.gz"), &labels).expect_err("labels");
    assert!(matches!(e, DataError::TooLarge { expected: 3, .. }), "{e}");
}

#[test]
fn absurd_headers_are_refused_before_reading_the_payload() {
    // 1,000,000 images of 1024x1024 (a terabyte) claimed by a 100-byte file.
    let dir = crate::tempdir();
    let mut images = idx_images(1_000_000, 1024, 1024, 0);
    images.resize(100, 0);
    write_pair(dir.path(), &images, &idx_labels(5, 5));
    let e = load(dir.path()).expect_err("absurd header");
    assert!(matches!(e, DataError::BadDimensions { .. }), "{e}");
    assert!(
        e.to_string().contains("train-images-idx3-ubyte") && e.to_string().contains("limit"),
        "{e}"
    );

    // A label file claiming 4 billion labels in 10 bytes.
    let mut labels = idx_labels(u32::MAX, 0);
    labels.resize(10, 0);
    let e = latentlab::data::parse_idx_labels(Path::new("l"), &labels).expect_err("labels");
    assert!(matches!(e, DataError::BadDimensions { .. }), "{e}");

    // A plausible header on a short gzip stream: truncated, read only as far as the data goes.
    let e = latentlab::data::parse_idx_images(
        Path::new("short.gz"),
        &gz(&idx_images(5000, 28, 28, 100)),
    )
    .expect_err("short");
    assert!(
        matches!(
            e,
            DataError::Truncated {
                expected: 3_920_000,
                found: 100,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn train_split_is_chosen_by_file_name_not_directory_name() {
    // A directory whose own name says "train": the file names decide.
    let dir = crate::tempdir();
    let training = dir.path().join("training");
    std::fs::create_dir(&training).expect("mkdir");
    std::fs::write(
        training.join("t10k-images-idx3-ubyte"),
        idx_images(3, 28, 28, 3 * 784),
    )
    .expect("w");
    std::fs::write(
        training.join("train-images-idx3-ubyte"),
        idx_images(5, 28, 28, 5 * 784),
    )
    .expect("w");
    assert_eq!(load(&training).expect("train split").len(), 5);

    // No train file at all: anything but the t10k test split.
    let other = dir.path().join("trained-sets");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(
        other.join("t10k-images-idx3-ubyte"),
        idx_images(3, 28, 28, 3 * 784),
    )
    .expect("w");
    std::fs::write(
        other.join("usps-images-idx3-ubyte"),
        idx_images(4, 28, 28, 4 * 784),
    )
    .expect("w");
    assert_eq!(load(&other).expect("non-test split").len(), 4);
}

#[test]
fn hidden_and_appledouble_files_are_skipped() {
    // IDX: a macOS resource fork sorts first and contains "train"; it must not be read.
    let dir = crate::tempdir();
    write_pair(
        dir.path(),
        &idx_images(5, 28, 28, 5 * 784),
        &idx_labels(5, 5),
    );
    std::fs::write(
        dir.path().join("._train-images-idx3-ubyte"),
        b"Mac OS X resource fork",
    )
    .expect("w");
    std::fs::write(dir.path().join("._train-labels-idx1-ubyte"), b"Mac OS X").expect("w");
    let d = load(dir.path()).expect("IDX beside AppleDouble files");
    assert_eq!((d.len(), d.num_classes()), (5, 3));

    // Image folders: hidden files and hidden class folders are not data.
    let dir = crate::tempdir();
    let class = dir.path().join("a");
    std::fs::create_dir(&class).expect("mkdir");
    let img = image::GrayImage::from_pixel(28, 28, image::Luma([200]));
    img.save(class.join("one.png")).expect("png");
    img.save(class.join(".hidden.png")).expect("png");
    std::fs::write(
        class.join("._one.png"),
        b"\x00\x05\x16\x07 AppleDouble garbage",
    )
    .expect("w");
    let hidden_class = dir.path().join(".thumbnails");
    std::fs::create_dir(&hidden_class).expect("mkdir");
    img.save(hidden_class.join("t.png")).expect("png");
    let d = load(dir.path()).expect("folder beside hidden files");
    assert_eq!(d.len(), 1);
    assert_eq!(d.class_names, ["a"]);
}

#[test]
fn folder_size_out_of_range_is_a_named_error() {
    let dir = crate::tempdir();
    std::fs::create_dir(dir.path().join("a")).expect("mkdir");
    image::GrayImage::from_pixel(4, 4, image::Luma([1]))
        .save(dir.path().join("a/x.png"))
        .expect("png");
    let e = DataSource::Path(dir.path().into())
        .load(0)
        .expect_err("size 0");
    assert!(matches!(e, DataError::BadDimensions { .. }), "{e}");
}

/// A folder as users have them: colour, grey, alpha, odd sizes and formats, plus a corrupt
/// file, a 1x1 one and one whose header claims an absurd size. It loads, skipping and
/// naming the bad ones; `--strict` refuses it, naming the first.
#[test]
fn a_messy_folder_trains_on_what_it_can_and_reports_the_rest() {
    let dir = crate::tempdir();
    let cats = dir.path().join("cats");
    let dogs = dir.path().join("dogs");
    std::fs::create_dir(&cats).expect("mkdir");
    std::fs::create_dir(&dogs).expect("mkdir");
    // A wide colour picture: the centre square is white, the sides black; after the crop
    // only white is left.
    let mut wide = image::RgbImage::new(90, 30);
    for (x, _, p) in wide.enumerate_pixels_mut() {
        *p = if (30..60).contains(&x) {
            image::Rgb([255, 255, 255])
        } else {
            image::Rgb([0, 0, 0])
        };
    }
    wide.save(cats.join("wide.png")).expect("png");
    image::GrayImage::from_pixel(50, 50, image::Luma([200]))
        .save(cats.join("grey.bmp"))
        .expect("bmp");
    image::RgbImage::from_pixel(40, 40, image::Rgb([255, 255, 255]))
        .save(cats.join("first-frame.gif"))
        .expect("gif");
    // Fully transparent white: composited on black, it is black.
    image::RgbaImage::from_pixel(32, 32, image::Rgba([255, 255, 255, 0]))
        .save(dogs.join("clear.png"))
        .expect("png");
    // The one colour picture: orange, so the set is colour.
    image::RgbImage::from_pixel(64, 48, image::Rgb([255, 128, 0]))
        .save(dogs.join("photo.webp"))
        .expect("webp");
    std::fs::write(dogs.join("corrupt.jpg"), b"\xff\xd8\xff not really a jpeg").expect("w");
    image::GrayImage::new(1, 1)
        .save(dogs.join("dot.png"))
        .expect("png");
    // A PNG whose header claims 1,000,000 x 1,000,000 pixels.
    let mut absurd = Vec::new();
    image::GrayImage::new(8, 8)
        .write_to(
            &mut std::io::Cursor::new(&mut absurd),
            image::ImageFormat::Png,
        )
        .expect("png");
    absurd[16..20].copy_from_slice(&1_000_000u32.to_be_bytes());
    absurd[20..24].copy_from_slice(&1_000_000u32.to_be_bytes());
    std::fs::write(dogs.join("absurd.png"), &absurd).expect("w");

    let source = DataSource::Path(dir.path().into());
    let (d, skipped) = source
        .load_with(28, false)
        .expect("a folder with a few bad files loads");
    assert_eq!(d.class_names, ["cats", "dogs"]);
    // Sorted by name within each class: first-frame.gif, grey.bmp, wide.png; clear.png,
    // photo.webp.
    assert_eq!(d.labels, [0, 0, 0, 1, 1]);
    assert!(d.image(0).iter().all(|&p| p > 245), "the GIF's first frame");
    assert!(d.image(1).iter().all(|&p| p.abs_diff(200) <= 2), "grey BMP");
    assert!(
        d.image(2).iter().all(|&p| p > 245),
        "centre-cropped: {:?}",
        &d.image(2)[..28]
    );
    assert!(d.image(3).iter().all(|&p| p < 3), "alpha on black");
    // Colour is kept: the set has 3 planes, grey pictures are equal in all three, and the
    // WebP is orange (R, G and B planes of 28x28 each).
    assert_eq!(d.channels, 3);
    let plane = 28 * 28;
    let bmp = d.image(1);
    assert!(bmp[..plane] == bmp[plane..2 * plane] && bmp[..plane] == bmp[2 * plane..]);
    let webp = d.image(4);
    assert!(webp[..plane].iter().all(|&p| p > 240), "WebP red");
    assert!(
        webp[plane..2 * plane].iter().all(|&p| p.abs_diff(128) <= 3),
        "WebP green"
    );
    assert!(webp[2 * plane..].iter().all(|&p| p < 5), "WebP blue");
    assert_eq!(skipped.count, 3, "{skipped:?}");
    let report = skipped.describe();
    for name in ["absurd.png", "corrupt.jpg", "dot.png", "1x1"] {
        assert!(report.contains(name), "{report}");
    }
    let e = source.load_with(28, true).expect_err("--strict");
    assert!(matches!(e, DataError::UnreadableImage { .. }), "{e}");
    assert!(e.to_string().contains("absurd.png"), "{e}");

    // From the command line: the run trains and says what it skipped; --strict refuses (also
    // when the folder comes from the decoding cache, kept apart from the user's).
    let cache_home = crate::tempdir();
    let out = cache_home.path().join("run");
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_latentlab"))
            .args([
                "train", "--model", "mlp", "--width", "8", "--latent", "4", "--batch", "4",
            ])
            .args([
                "--steps",
                "1",
                "--device",
                "cpu",
                "--sample-every",
                "0",
                "--force",
            ])
            .args(["--data", dir.path().to_str().expect("utf-8"), "--out"])
            .arg(&out)
            .args(extra)
            .env("XDG_CACHE_HOME", cache_home.path())
            .output()
            .expect("run")
    };
    let o = run(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("skipped 3 unreadable image files") && err.contains("dot.png"),
        "{err}"
    );
    let o = run(&["--strict"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("absurd.png"), "{err}");
}

/// A decoded folder is cached by its content and size: the second load reads the cache (the
/// same data), an edited picture makes a new entry, and a damaged cache file is ignored.
#[test]
fn a_decoded_folder_is_cached_by_content_and_size() {
    use latentlab::data::LoadOptions;
    let dir = crate::tempdir();
    let cache = crate::tempdir();
    for (class, level) in [("a", 30u8), ("b", 220u8)] {
        std::fs::create_dir(dir.path().join(class)).expect("mkdir");
        for i in 0..3u8 {
            image::GrayImage::from_pixel(40, 40, image::Luma([level + i]))
                .save(dir.path().join(class).join(format!("{i}.png")))
                .expect("png");
        }
    }
    let source = DataSource::Path(dir.path().into());
    let opts = LoadOptions {
        cache: Some(cache.path().into()),
        ..LoadOptions::default()
    };
    let entries = || std::fs::read_dir(cache.path()).expect("list").count();
    let (first, _) = source.load_opts(Some(28), &opts).expect("decode");
    assert_eq!(entries(), 1, "one cache file");
    // The second load reads the cache file: change a pixel in it and the load returns it.
    let file = std::fs::read_dir(cache.path())
        .expect("list")
        .next()
        .expect("entry")
        .expect("entry")
        .path();
    let mut bytes = std::fs::read(&file).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, &bytes).expect("write");
    let (again, _) = source.load_opts(Some(28), &opts).expect("cached");
    assert_eq!(again.labels, first.labels);
    assert_ne!(
        again.images.last(),
        first.images.last(),
        "not read from the cache"
    );
    bytes[last] ^= 0xff;
    std::fs::write(&file, &bytes).expect("restore");
    let (other_size, _) = source.load_opts(Some(16), &opts).expect("another size");
    assert_eq!((other_size.width, entries()), (16, 2));
    // An edited picture: a new key, and the new pixels.
    image::GrayImage::from_pixel(40, 40, image::Luma([0]))
        .save(dir.path().join("b/2.png"))
        .expect("png");
    let (edited, _) = source.load_opts(Some(28), &opts).expect("edited");
    assert_eq!(entries(), 3);
    assert!(edited.image(5).iter().all(|&p| p < 3));
    // A damaged cache file is ignored, not trusted.
    for e in std::fs::read_dir(cache.path()).expect("list") {
        let p = e.expect("entry").path();
        let bytes = std::fs::read(&p).expect("read");
        std::fs::write(&p, &bytes[..bytes.len() / 2]).expect("truncate");
    }
    let (reloaded, _) = source.load_opts(Some(28), &opts).expect("decoded again");
    assert_eq!(reloaded, edited);
}

#[test]
fn super_resolution_holds_out_every_class_of_a_folder_read_class_by_class() {
    // A folder of 10 classes read in order: 100 images of class 0, then 100 of class 1, ...
    let labels: Vec<usize> = (0..1000).map(|i| i / 100).collect();
    let held = latentlab::data::held_out_spread(labels.len());
    let trained = latentlab::data::trained_on(labels.len());
    assert_eq!(held.len(), 100, "a tenth is held out");
    let mut classes: Vec<usize> = held.iter().map(|&i| labels[i]).collect();
    classes.dedup();
    assert_eq!(
        classes,
        (0..10).collect::<Vec<_>>(),
        "every class is held out"
    );
    let mut all = [held.clone(), trained.clone()].concat();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..1000).collect::<Vec<_>>(),
        "each image is in exactly one set"
    );
    // Large sets hold out at most 500, still spread to the end.
    let big = latentlab::data::held_out_spread(20_000);
    assert_eq!((big.len(), big[0], big[499]), (500, 39, 19_999));
}
