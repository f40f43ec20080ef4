//! Portraits drawn by the program: flat shapes and colours derived from the character, encoded
//! as PNG or JPEG, optionally padded to a target size with a valid ancillary chunk (PNG) or
//! comment segments (JPEG) so that benchmarks can use realistic image sizes.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, Rgb, RgbImage};
use rand::Rng;

/// Portrait width in pixels.
pub const WIDTH: u32 = 300;
/// Portrait height in pixels.
pub const HEIGHT: u32 = 450;
/// JPEG quality of the sample portraits.
const JPEG_QUALITY: u8 = 80;

/// The emblem on the chest.
#[derive(Clone, Copy, Debug)]
enum Emblem {
    Star,
    Diamond,
    Ring,
    Bolt,
    Chevron,
}

/// Everything that makes one portrait look the way it does, drawn from the character's random
/// stream.
#[derive(Clone, Debug)]
pub struct Look {
    sky_top: Rgb<u8>,
    sky_bottom: Rgb<u8>,
    skin: Rgb<u8>,
    costume: Rgb<u8>,
    accent: Rgb<u8>,
    mask: Option<Rgb<u8>>,
    cape: Option<Rgb<u8>>,
    emblem: Emblem,
    villain: bool,
    head_tilt: f32,
}

impl Look {
    /// A look for a hero or a villain, from `rng`.
    pub fn random(rng: &mut impl Rng, villain: bool) -> Look {
        let (lo, hi) = if villain { (20, 150) } else { (60, 255) };
        let skins = [
            [255, 219, 172],
            [241, 194, 125],
            [224, 172, 105],
            [198, 134, 66],
            [141, 85, 36],
            [110, 70, 40],
        ];
        let skin = Rgb(skins[rng.random_range(0..skins.len())]);
        let emblem = match rng.random_range(0..5) {
            0 => Emblem::Star,
            1 => Emblem::Diamond,
            2 => Emblem::Ring,
            3 => Emblem::Bolt,
            _ => Emblem::Chevron,
        };
        Look {
            sky_top: bright(rng, lo / 2, hi),
            sky_bottom: bright(rng, lo / 2, hi),
            skin,
            costume: bright(rng, lo, hi),
            accent: bright(rng, 120, 255),
            mask: rng.random_bool(0.6).then(|| bright(rng, 0, 120)),
            cape: rng.random_bool(0.5).then(|| bright(rng, lo, hi)),
            emblem,
            villain,
            head_tilt: rng.random_range(-12.0..12.0),
        }
    }

    /// Draws the portrait.
    pub fn draw(&self) -> RgbImage {
        let mut img = RgbImage::new(WIDTH, HEIGHT);
        gradient(&mut img, self.sky_top, self.sky_bottom);
        let cx = WIDTH as f32 / 2.0 + self.head_tilt;
        if let Some(cape) = self.cape {
            polygon(
                &mut img,
                &[(95.0, 240.0), (205.0, 240.0), (290.0, 450.0), (10.0, 450.0)],
                cape,
            );
        }
        // neck, shoulders and torso
        polygon(
            &mut img,
            &[
                (cx - 22.0, 230.0),
                (cx + 22.0, 230.0),
                (cx + 22.0, 270.0),
                (cx - 22.0, 270.0),
            ],
            self.skin,
        );
        polygon(
            &mut img,
            &[
                (cx - 45.0, 262.0),
                (cx + 45.0, 262.0),
                (250.0, 300.0),
                (265.0, 450.0),
                (35.0, 450.0),
                (50.0, 300.0),
            ],
            self.costume,
        );
        // head
        ellipse(&mut img, cx, 180.0, 55.0, 68.0, self.skin);
        if self.villain {
            // horns
            polygon(
                &mut img,
                &[(cx - 45.0, 140.0), (cx - 25.0, 125.0), (cx - 60.0, 70.0)],
                self.accent,
            );
            polygon(
                &mut img,
                &[(cx + 45.0, 140.0), (cx + 25.0, 125.0), (cx + 60.0, 70.0)],
                self.accent,
            );
        } else {
            // hair
            ellipse(&mut img, cx, 128.0, 52.0, 22.0, self.costume);
        }
        if let Some(mask) = self.mask {
            polygon(
                &mut img,
                &[
                    (cx - 56.0, 160.0),
                    (cx + 56.0, 160.0),
                    (cx + 52.0, 192.0),
                    (cx - 52.0, 192.0),
                ],
                mask,
            );
        }
        let eye = if self.villain {
            Rgb([230, 30, 30])
        } else {
            Rgb([250, 250, 250])
        };
        ellipse(&mut img, cx - 22.0, 176.0, 11.0, 6.0, eye);
        ellipse(&mut img, cx + 22.0, 176.0, 11.0, 6.0, eye);
        polygon(
            &mut img,
            &[
                (cx - 18.0, 218.0),
                (cx + 18.0, 218.0),
                (cx + 14.0, 224.0),
                (cx - 14.0, 224.0),
            ],
            Rgb([120, 40, 40]),
        );
        self.emblem(&mut img, 150.0, 355.0);
        frame(&mut img, self.accent);
        img
    }

    fn emblem(&self, img: &mut RgbImage, x: f32, y: f32) {
        let c = self.accent;
        match self.emblem {
            Emblem::Star => {
                let pts: Vec<(f32, f32)> = (0..10)
                    .map(|i| {
                        let r = if i % 2 == 0 { 38.0 } else { 16.0 };
                        let a =
                            std::f32::consts::PI * (i as f32) / 5.0 - std::f32::consts::FRAC_PI_2;
                        (x + r * a.cos(), y + r * a.sin())
                    })
                    .collect();
                polygon(img, &pts, c);
            }
            Emblem::Diamond => polygon(
                img,
                &[(x, y - 40.0), (x + 28.0, y), (x, y + 40.0), (x - 28.0, y)],
                c,
            ),
            Emblem::Ring => {
                ellipse(img, x, y, 36.0, 36.0, c);
                ellipse(img, x, y, 22.0, 22.0, self.costume);
            }
            Emblem::Bolt => polygon(
                img,
                &[
                    (x + 8.0, y - 42.0),
                    (x - 22.0, y + 4.0),
                    (x - 2.0, y + 4.0),
                    (x - 10.0, y + 42.0),
                    (x + 22.0, y - 6.0),
                    (x + 2.0, y - 6.0),
                ],
                c,
            ),
            Emblem::Chevron => polygon(
                img,
                &[
                    (x - 40.0, y - 20.0),
                    (x, y + 10.0),
                    (x + 40.0, y - 20.0),
                    (x + 40.0, y + 5.0),
                    (x, y + 35.0),
                    (x - 40.0, y + 5.0),
                ],
                c,
            ),
        }
    }
}

fn bright(rng: &mut impl Rng, lo: u8, hi: u8) -> Rgb<u8> {
    Rgb([
        rng.random_range(lo..=hi),
        rng.random_range(lo..=hi),
        rng.random_range(lo..=hi),
    ])
}

/// Paints pixels `x0..x1` of row `y` (clipped to the image).
fn span(img: &mut RgbImage, y: i64, x0: i64, x1: i64, c: Rgb<u8>) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    if y < 0 || y >= h {
        return;
    }
    let (x0, x1) = (x0.clamp(0, w), x1.clamp(0, w));
    if x0 >= x1 {
        return;
    }
    let row = (y * w * 3) as usize;
    let pixels = &mut img.as_mut()[row + x0 as usize * 3..row + x1 as usize * 3];
    for px in pixels.chunks_exact_mut(3) {
        px.copy_from_slice(&c.0);
    }
}

fn gradient(img: &mut RgbImage, top: Rgb<u8>, bottom: Rgb<u8>) {
    let (w, h) = (img.width() as i64, img.height());
    for y in 0..h {
        let t = y as f32 / (h - 1) as f32;
        let mix = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * t).round() as u8;
        let c = Rgb([
            mix(top[0], bottom[0]),
            mix(top[1], bottom[1]),
            mix(top[2], bottom[2]),
        ]);
        span(img, y as i64, 0, w, c);
    }
}

fn ellipse(img: &mut RgbImage, cx: f32, cy: f32, rx: f32, ry: f32, c: Rgb<u8>) {
    let h = img.height() as i64;
    let y0 = ((cy - ry).floor() as i64).max(0);
    let y1 = ((cy + ry).ceil() as i64).min(h - 1);
    for y in y0..=y1 {
        let dy = (y as f32 + 0.5 - cy) / ry;
        if dy.abs() > 1.0 {
            continue;
        }
        let half = rx * (1.0 - dy * dy).sqrt();
        span(
            img,
            y,
            (cx - half).round() as i64,
            (cx + half).round() as i64,
            c,
        );
    }
}

/// Fills a polygon (even-odd rule) by scanlines.
fn polygon(img: &mut RgbImage, pts: &[(f32, f32)], c: Rgb<u8>) {
    let h = img.height() as i64;
    let ymin = pts
        .iter()
        .map(|p| p.1)
        .fold(f32::INFINITY, f32::min)
        .floor()
        .max(0.0) as i64;
    let ymax = (pts
        .iter()
        .map(|p| p.1)
        .fold(f32::NEG_INFINITY, f32::max)
        .ceil() as i64)
        .min(h - 1);
    let mut xs = Vec::with_capacity(pts.len());
    for y in ymin..=ymax {
        let sy = y as f32 + 0.5;
        xs.clear();
        for i in 0..pts.len() {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            if (a.1 <= sy && b.1 > sy) || (b.1 <= sy && a.1 > sy) {
                xs.push(a.0 + (sy - a.1) / (b.1 - a.1) * (b.0 - a.0));
            }
        }
        xs.sort_by(f32::total_cmp);
        for pair in xs.chunks_exact(2) {
            span(img, y, pair[0].round() as i64, pair[1].round() as i64, c);
        }
    }
}

fn frame(img: &mut RgbImage, c: Rgb<u8>) {
    const BORDER: i64 = 6;
    let (w, h) = (img.width() as i64, img.height() as i64);
    for y in 0..h {
        if y < BORDER || y >= h - BORDER {
            span(img, y, 0, w, c);
        } else {
            span(img, y, 0, BORDER, c);
            span(img, y, w - BORDER, w, c);
        }
    }
}

/// Encodes as PNG.
pub fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    // flat shapes on row gradients: unfiltered rows compress as well as adaptive filtering
    // (about 4.5 KiB) at a tenth of the cost
    PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::NoFilter)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encoding a PNG into memory cannot fail");
    out
}

/// Encodes as JPEG.
pub fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encoding a JPEG into memory cannot fail");
    out
}

/// The private, ancillary, safe-to-copy PNG chunk type that carries padding.
const PNG_PAD_CHUNK: &[u8; 4] = b"sdPd";

/// Grows a PNG to about `target` bytes with one ancillary chunk of random bytes before `IEND`;
/// decoders skip it. Does nothing when the PNG is already that large.
pub fn pad_png(png: &mut Vec<u8>, target: usize, rng: &mut impl Rng) {
    const OVERHEAD: usize = 12; // length, type, crc
    if png.len() + OVERHEAD >= target {
        return;
    }
    let mut data = vec![0u8; target - png.len() - OVERHEAD];
    rng.fill(&mut data[..]);
    let mut crc = crc32fast::Hasher::new();
    crc.update(PNG_PAD_CHUNK);
    crc.update(&data);
    let mut chunk = Vec::with_capacity(data.len() + OVERHEAD);
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    chunk.extend_from_slice(PNG_PAD_CHUNK);
    chunk.extend_from_slice(&data);
    chunk.extend_from_slice(&crc.finalize().to_be_bytes());
    let iend = png.len() - 12; // IEND is the last chunk and has no data
    png.splice(iend..iend, chunk);
}

/// Grows a JPEG to about `target` bytes with comment (`COM`) segments of random bytes right
/// after the start-of-image marker; decoders skip them. Does nothing when already that large.
pub fn pad_jpeg(jpeg: &mut Vec<u8>, target: usize, rng: &mut impl Rng) {
    const MAX_DATA: usize = 65533; // a segment length is 16 bits and counts its own 2 bytes
    let mut missing = target.saturating_sub(jpeg.len());
    let mut segments = Vec::with_capacity(missing);
    while missing > 4 {
        let n = (missing - 4).min(MAX_DATA);
        let mut data = vec![0u8; n];
        rng.fill(&mut data[..]);
        segments.extend_from_slice(&[0xFF, 0xFE]);
        segments.extend_from_slice(&((n + 2) as u16).to_be_bytes());
        segments.extend_from_slice(&data);
        missing -= n + 4;
    }
    jpeg.splice(2..2, segments);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn padded_images_still_decode_and_reach_the_target() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let img = Look::random(&mut rng, true).draw();
        let mut p = png(&img);
        pad_png(&mut p, 50 * 1024, &mut rng);
        assert_eq!(p.len(), 50 * 1024);
        let back = image::load_from_memory_with_format(&p, image::ImageFormat::Png).unwrap();
        assert_eq!(back.to_rgb8(), img);

        let mut j = jpeg(&img);
        pad_jpeg(&mut j, 150 * 1024, &mut rng);
        assert!(
            (150 * 1024 - 4..=150 * 1024).contains(&j.len()),
            "{}",
            j.len()
        );
        let back = image::load_from_memory_with_format(&j, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (WIDTH, HEIGHT));
    }
}
