//! `loader::dataset::check_image` (every dataset image and every `loader collect` download) on
//! any bytes, claimed as each format in turn. Invariants: never a panic; an accepted image is of
//! the claimed format by its magic bytes, and within the size limit.
#![no_main]

use image::ImageFormat;
use libfuzzer_sys::fuzz_target;
use loader::dataset::{check_image, MAX_IMAGE_BYTES};

fuzz_target!(|data: &[u8]| {
    let mut accepted = 0;
    for (format, extension) in [
        (ImageFormat::Png, "png"),
        (ImageFormat::Jpeg, "jpg"),
        (ImageFormat::Gif, "gif"),
    ] {
        match check_image(data, format, extension) {
            Ok(()) => {
                accepted += 1;
                assert_eq!(image::guess_format(data).ok(), Some(format));
                assert!(data.len() as u64 <= MAX_IMAGE_BYTES);
            }
            Err(problem) => assert!(!problem.to_string().is_empty()),
        }
    }
    assert!(accepted <= 1, "one file, several formats");
});
