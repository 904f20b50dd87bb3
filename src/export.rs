//! Writing images: grayscale PNGs with latentlab's metadata in tEXt chunks.

use crate::explore::render::GrayImage;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: PNG encoding failed: {detail}")]
    Encode { path: PathBuf, detail: String },
}

/// Encode `img` as an 8-bit grayscale PNG with `metadata` as tEXt key/value pairs. The output
/// depends only on the inputs, so the same image and metadata give identical bytes.
pub fn png_bytes(
    img: &GrayImage,
    metadata: &[(&str, String)],
) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width as u32, img.height as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        for (k, v) in metadata {
            enc.add_text_chunk(format!("latentlab:{k}"), v.clone())?;
        }
        let mut w = enc.write_header()?;
        w.write_image_data(&img.pixels)?;
        w.finish()?;
    }
    Ok(out)
}

/// Write a PNG file (to a temporary name first, then renamed into place).
pub fn write_png(
    path: &Path,
    img: &GrayImage,
    metadata: &[(&str, String)],
) -> Result<(), ExportError> {
    let bytes = png_bytes(img, metadata).map_err(|e| ExportError::Encode {
        path: path.into(),
        detail: e.to_string(),
    })?;
    let tmp = path.with_extension("png.tmp");
    let io = |source| ExportError::Io {
        path: path.into(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
