//! `loader collect` speed: against a local fake of the Marvel API (tests/fake_marvel), collect
//! 1,500 characters (15 pages) and 1,000 images of ~50 KiB, then re-run the images (all
//! present: the resumable path). Target: characters + images under 5 s on this 2-core machine.
//!
//! Run: `cargo bench -p loader --bench collect`.

#[path = "../tests/fake_marvel/mod.rs"]
mod fake_marvel;

use std::time::{Duration, Instant};

use fake_marvel::{FakeMarvel, Options};
use loader::collect::{
    collect_characters, collect_images, CharactersOptions, Credentials, HttpOptions, ImagesOptions,
    DEFAULT_CONCURRENCY, MAX_PAGE_SIZE,
};

const CHARACTERS: usize = 1_500;
const IMAGES: usize = 1_000;
const IMAGE_KIB: usize = 50;
const TARGET: Duration = Duration::from_secs(5);

fn main() {
    let fake = FakeMarvel::start(Options {
        count: CHARACTERS,
        throttle_offset: None,
        server_error_offset: None,
        placeholder_every: 0,
        max_images: Some(IMAGES),
        missing_image: None,
        flaky_image: None,
        image_kib: Some(IMAGE_KIB),
        ..Options::default()
    });
    let image_bytes: usize = fake
        .with_picture()
        .iter()
        .filter_map(|c| fake.image_bytes(c))
        .map(|b| b.len())
        .sum();
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let credentials = Credentials::new(
        Some(fake.public_key().to_owned()),
        Some(fake.private_key().to_owned().into()),
    )
    .expect("keys");
    let characters = CharactersOptions {
        out: dir.path().to_owned(),
        api_url: fake.url(),
        credentials,
        page_size: MAX_PAGE_SIZE,
        http: HttpOptions::default(),
    };
    let images = ImagesOptions {
        data: dir.path().to_owned(),
        image_base_url: Some(fake.url()),
        concurrency: DEFAULT_CONCURRENCY,
        http: HttpOptions::default(),
    };

    let start = Instant::now();
    let c = runtime
        .block_on(collect_characters(&characters))
        .expect("characters");
    let characters_time = start.elapsed();
    let i = runtime.block_on(collect_images(&images)).expect("images");
    let total = start.elapsed();
    let images_time = total - characters_time;
    assert_eq!(c.characters, CHARACTERS as u64);
    assert_eq!((i.downloaded, i.failures.len()), (IMAGES as u64, 0));
    assert_eq!(fake.images_served(), IMAGES);

    let again = Instant::now();
    let r = runtime
        .block_on(collect_images(&images))
        .expect("images again");
    let rerun = again.elapsed();
    assert_eq!((r.downloaded, r.skipped), (0, IMAGES as u64));
    assert_eq!(
        fake.images_served(),
        IMAGES,
        "the re-run downloaded something"
    );

    let mib = i.bytes as f64 / (1024.0 * 1024.0);
    println!(
        "collect characters: {CHARACTERS} characters, {} pages in {:.3} s",
        c.pages_fetched,
        characters_time.as_secs_f64()
    );
    println!(
        "collect images:     {IMAGES} images, {mib:.1} MiB (avg {:.1} KiB), concurrency {DEFAULT_CONCURRENCY}, in {:.3} s ({:.0} images/s, {:.1} MiB/s)",
        image_bytes as f64 / IMAGES as f64 / 1024.0,
        images_time.as_secs_f64(),
        IMAGES as f64 / images_time.as_secs_f64(),
        mib / images_time.as_secs_f64()
    );
    println!(
        "collect total:      {:.3} s (target < {} s): {}",
        total.as_secs_f64(),
        TARGET.as_secs(),
        if total < TARGET { "PASS" } else { "FAIL" }
    );
    println!(
        "collect images re-run (all present, nothing fetched): {:.3} s",
        rerun.as_secs_f64()
    );
    if total >= TARGET {
        std::process::exit(1);
    }
}
