//! A local stand-in for the Marvel API and its image CDN, for `loader collect` tests and the
//! collect benchmark: real HTTP (hyper) on 127.0.0.1, port 0.
//!
//! - `GET /v1/public/characters?limit&offset&ts&apikey&hash`: checks the signature like the
//!   real API (409 `MissingParameter` when a parameter is missing, 401 `InvalidCredentials` for
//!   an unknown key or a bad hash, 409 for a limit over 100) and answers pages with
//!   `offset`/`limit`/`total`/`count`/`results` in the real envelope.
//! - `GET /u/prod/marvel/i/mg/…/portrait_uncanny.{jpg,png}`: real PNG/JPEG bytes; 404 for the
//!   one character whose picture is "lost".
//! - Scripted trouble: a 429 (with `Retry-After`) once at one offset, a 503 once at another, a
//!   503 once for one image; optionally a mislabeled picture and a JPEG without its end marker.
//!
//! It counts what it served, so tests can assert a second run downloads nothing.
#![allow(dead_code)] // shared by the tests and the benchmark, which use different parts

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// The picture path of characters without one, as Marvel writes it.
pub const PLACEHOLDER_PATH: &str =
    "http://i.annihil.us/u/prod/marvel/i/mg/b/40/image_not_available";

/// How the fake behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Characters in the catalog.
    pub count: usize,
    /// The only public key accepted.
    pub public_key: String,
    /// The matching private key.
    pub private_key: String,
    /// Answer 429 once to the first request at this offset.
    pub throttle_offset: Option<u64>,
    /// `Retry-After` seconds sent with that 429.
    pub retry_after_secs: Option<u64>,
    /// Answer 503 once to the first request at this offset.
    pub server_error_offset: Option<u64>,
    /// Every n-th character (index % n == n - 1) has the placeholder thumbnail; 0 for none.
    pub placeholder_every: usize,
    /// Only this many characters have a picture; the rest get the placeholder (benchmark).
    pub max_images: Option<usize>,
    /// Index of a character whose picture answers 404.
    pub missing_image: Option<usize>,
    /// Index of a character whose picture answers 503 once.
    pub flaky_image: Option<usize>,
    /// Index of a character whose picture is served with the wrong format (PNG bytes for a
    /// `.jpg`, or the reverse).
    pub mislabeled_image: Option<usize>,
    /// Index of a character (with a `.jpg`) whose picture is a JPEG cut short: every byte but
    /// its end-of-image marker (`FF D9`), every time.
    pub truncated_image: Option<usize>,
    /// Pictures of about this many KiB (noise, so they do not compress); tiny when `None`.
    pub image_kib: Option<usize>,
}

impl Default for Options {
    /// 250 characters (pages 100, 100, 50), 429 once at offset 100 with `Retry-After: 1`, 503
    /// once at offset 200, every 10th a placeholder, index 3's picture lost, index 4's flaky.
    fn default() -> Self {
        Options {
            count: 250,
            public_key: "test-public-key".into(),
            private_key: "test-private-key".into(),
            throttle_offset: Some(100),
            retry_after_secs: Some(1),
            server_error_offset: Some(200),
            placeholder_every: 10,
            max_images: None,
            missing_image: Some(3),
            flaky_image: Some(4),
            mislabeled_image: None,
            truncated_image: None,
            image_kib: None,
        }
    }
}

struct State {
    options: Options,
    characters: Vec<Value>,
    /// Image path → (bytes, content type).
    images: HashMap<String, (Bytes, &'static str)>,
    lost_image_path: Option<String>,
    flaky_image_path: Option<String>,
    /// Scripted failures already used.
    used: Mutex<HashSet<String>>,
    /// When the 429 was sent, and when the same offset was asked again.
    throttle: Mutex<(Option<Instant>, Option<Instant>)>,
    pages_served: AtomicUsize,
    character_requests: AtomicUsize,
    image_requests: AtomicUsize,
    images_served: AtomicUsize,
    rejected: AtomicUsize,
}

/// A running fake; stops when dropped.
pub struct FakeMarvel {
    addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeMarvel {
    /// Starts the fake on 127.0.0.1, port 0, on its own two-thread runtime.
    pub fn start(options: Options) -> FakeMarvel {
        let state = Arc::new(State::new(options));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the fake Marvel API");
        let served = Arc::clone(&state);
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&served);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(state.handle(req)) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeMarvel {
            addr,
            state,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`: both the API URL and the image base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The accepted public key.
    pub fn public_key(&self) -> &str {
        &self.state.options.public_key
    }

    /// The accepted private key.
    pub fn private_key(&self) -> &str {
        &self.state.options.private_key
    }

    /// The catalog, as served.
    pub fn characters(&self) -> &[Value] {
        &self.state.characters
    }

    /// Ids of the characters that have a picture to download (lost one included).
    pub fn with_picture(&self) -> Vec<&Value> {
        self.state
            .characters
            .iter()
            .filter(|c| {
                !c["thumbnail"]["path"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with("image_not_available")
            })
            .collect()
    }

    /// The id of the character whose picture answers 404.
    pub fn lost_image_id(&self) -> Option<u64> {
        self.state
            .options
            .missing_image
            .map(|i| self.state.characters[i]["id"].as_u64().unwrap())
    }

    /// The bytes the fake serves for a character, when it serves any.
    pub fn image_bytes(&self, character: &Value) -> Option<Bytes> {
        self.state
            .images
            .get(&image_path(character))
            .map(|(b, _)| b.clone())
    }

    /// Character pages answered with 200.
    pub fn pages_served(&self) -> usize {
        self.state.pages_served.load(Ordering::SeqCst)
    }

    /// Requests to the character endpoint, whatever the answer.
    pub fn character_requests(&self) -> usize {
        self.state.character_requests.load(Ordering::SeqCst)
    }

    /// Requests for images, whatever the answer.
    pub fn image_requests(&self) -> usize {
        self.state.image_requests.load(Ordering::SeqCst)
    }

    /// Images answered with 200.
    pub fn images_served(&self) -> usize {
        self.state.images_served.load(Ordering::SeqCst)
    }

    /// Requests refused with 401 or 409.
    pub fn rejected(&self) -> usize {
        self.state.rejected.load(Ordering::SeqCst)
    }

    /// How long the client waited after the 429 before asking again, once it has.
    pub fn throttle_wait(&self) -> Option<Duration> {
        let (sent, retried) = *self.state.throttle.lock().unwrap();
        Some(retried?.duration_since(sent?))
    }
}

impl Drop for FakeMarvel {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The path the client will ask for a character's picture (portrait_uncanny variant).
fn image_path(character: &Value) -> String {
    let path = character["thumbnail"]["path"].as_str().unwrap_or_default();
    let ext = character["thumbnail"]["extension"]
        .as_str()
        .unwrap_or_default();
    let path = path.strip_prefix("http://i.annihil.us").unwrap_or(path);
    format!("{path}/portrait_uncanny.{ext}")
}

const NAMES: &[&str] = &[
    "Captain Lumen",
    "Night Wren",
    "Zoë Quartz",
    "Iron Gale",
    "Łucja Storm",
    "The Ñandú",
    "Amélie Frost",
    "Doctor Ohm",
    "Mr. Mire",
    "Tempest-9",
    "Björn Anvil",
    "Sable Moth",
];

impl State {
    fn new(options: Options) -> State {
        let mut characters = Vec::with_capacity(options.count);
        let mut images = HashMap::new();
        let mut with_picture = 0;
        for i in 0..options.count {
            let id = 1_009_000 + i as u64 * 7;
            let name = format!("{} {i}", NAMES[i % NAMES.len()]);
            let placeholder = (options.placeholder_every > 0
                && i % options.placeholder_every == options.placeholder_every - 1)
                || options.max_images.is_some_and(|max| with_picture >= max);
            let ext = if i % 3 == 0 { "png" } else { "jpg" };
            let (path, ext) = if placeholder {
                (PLACEHOLDER_PATH.to_owned(), "jpg")
            } else {
                with_picture += 1;
                (
                    format!(
                        "http://i.annihil.us/u/prod/marvel/i/mg/{}/{:02x}/{id:013x}",
                        i % 10,
                        i % 256
                    ),
                    ext,
                )
            };
            let resource = format!("http://gateway.marvel.com/v1/public/characters/{id}");
            let list = |kind: &str| json!({"available": i % 5, "collectionURI": format!("{resource}/{kind}"), "items": [], "returned": 0});
            let mut urls =
                vec![json!({"type": "wiki", "url": format!("http://marvel.com/universe/{id}")})];
            if i % 4 != 0 {
                urls.insert(
                    0,
                    json!({"type": "detail", "url": format!("http://marvel.com/characters/{id}")}),
                );
            }
            let character = json!({
                "id": id,
                "name": name,
                "description": if i % 6 == 0 { String::new() } else { format!("{name} keeps the city safe.") },
                "modified": "2014-04-29T14:18:17-0400",
                "thumbnail": {"path": path, "extension": ext},
                "resourceURI": resource,
                "comics": list("comics"),
                "series": list("series"),
                "stories": list("stories"),
                "events": list("events"),
                "urls": urls,
            });
            if !placeholder && options.missing_image != Some(i) {
                let mislabeled = options.mislabeled_image == Some(i);
                let encoded_as = match (ext, mislabeled) {
                    ("png", true) => "jpg",
                    (_, true) => "png",
                    (ext, false) => ext,
                };
                let mut bytes = picture(i as u64, encoded_as, options.image_kib);
                if options.truncated_image == Some(i) {
                    assert_eq!(ext, "jpg", "only a JPEG is cut short");
                    assert!(bytes.ends_with(&[0xFF, 0xD9]));
                    bytes.truncate(bytes.len() - 2);
                }
                let content_type = if ext == "png" {
                    "image/png"
                } else {
                    "image/jpeg"
                };
                images.insert(image_path(&character), (Bytes::from(bytes), content_type));
            }
            characters.push(character);
        }
        let lost_image_path = options.missing_image.map(|i| image_path(&characters[i]));
        let flaky_image_path = options.flaky_image.map(|i| image_path(&characters[i]));
        State {
            options,
            characters,
            images,
            lost_image_path,
            flaky_image_path,
            used: Mutex::new(HashSet::new()),
            throttle: Mutex::new((None, None)),
            pages_served: AtomicUsize::new(0),
            character_requests: AtomicUsize::new(0),
            image_requests: AtomicUsize::new(0),
            images_served: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
        }
    }

    /// True the first time `what` is asked.
    fn first(&self, what: String) -> bool {
        self.used.lock().unwrap().insert(what)
    }

    fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path();
        if path == "/v1/public/characters" {
            self.character_requests.fetch_add(1, Ordering::SeqCst);
            return self.characters_page(req.uri().query().unwrap_or_default());
        }
        if path.ends_with("/portrait_uncanny.jpg") || path.ends_with("/portrait_uncanny.png") {
            self.image_requests.fetch_add(1, Ordering::SeqCst);
            if self.flaky_image_path.as_deref() == Some(path) && self.first(format!("image {path}"))
            {
                return answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "try again".into(),
                );
            }
            if let Some((bytes, content_type)) = self.images.get(path) {
                self.images_served.fetch_add(1, Ordering::SeqCst);
                return answer(StatusCode::OK, content_type, bytes.clone());
            }
        }
        answer(
            StatusCode::NOT_FOUND,
            "text/html",
            "<html><body>404 Not Found</body></html>".into(),
        )
    }

    fn characters_page(&self, query: &str) -> Response<Full<Bytes>> {
        let params: HashMap<String, String> = reqwest::Url::parse(&format!("http://x/?{query}"))
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default();
        let refuse = |status: StatusCode, code: &str, message: &str| {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            api_error(status, code, message)
        };
        let Some(apikey) = params.get("apikey").filter(|k| !k.is_empty()) else {
            return refuse(
                StatusCode::CONFLICT,
                "MissingParameter",
                "You must provide a user key.",
            );
        };
        let Some(ts) = params.get("ts").filter(|k| !k.is_empty()) else {
            return refuse(
                StatusCode::CONFLICT,
                "MissingParameter",
                "You must provide a timestamp.",
            );
        };
        let Some(hash) = params.get("hash").filter(|k| !k.is_empty()) else {
            return refuse(
                StatusCode::CONFLICT,
                "MissingParameter",
                "You must provide a hash.",
            );
        };
        if *apikey != self.options.public_key {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "InvalidCredentials",
                "The passed API key is invalid.",
            );
        }
        let expected = format!(
            "{:x}",
            md5::compute(format!("{ts}{}{apikey}", self.options.private_key))
        );
        if *hash != expected {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "InvalidCredentials",
                "That hash, timestamp and key combination is invalid",
            );
        }
        let limit: u64 = params
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(20);
        let offset: u64 = params
            .get("offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        if limit == 0 {
            return refuse(
                StatusCode::CONFLICT,
                "InvalidParameter",
                "You must pass an integer limit greater than 0.",
            );
        }
        if limit > 100 {
            return refuse(
                StatusCode::CONFLICT,
                "InvalidParameter",
                "You may not request more than 100 items.",
            );
        }
        if self.options.throttle_offset == Some(offset) {
            let mut throttle = self.throttle.lock().unwrap();
            if self.first(format!("429 at {offset}")) {
                throttle.0 = Some(Instant::now());
                let mut response = api_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "RequestThrottled",
                    "You have exceeded your rate limit.  Please try again later.",
                );
                if let Some(secs) = self.options.retry_after_secs {
                    response
                        .headers_mut()
                        .insert("retry-after", secs.to_string().parse().unwrap());
                }
                return response;
            }
            throttle.1.get_or_insert_with(Instant::now);
        }
        if self.options.server_error_offset == Some(offset)
            && self.first(format!("503 at {offset}"))
        {
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/html",
                "<html>Service Unavailable</html>".into(),
            );
        }
        let total = self.characters.len() as u64;
        let start = offset.min(total) as usize;
        let end = (offset + limit).min(total) as usize;
        let results = &self.characters[start..end];
        self.pages_served.fetch_add(1, Ordering::SeqCst);
        let body = json!({
            "code": 200,
            "status": "Ok",
            "copyright": "© 2024 MARVEL",
            "attributionText": "Data provided by Marvel. © 2024 MARVEL",
            "etag": "fake",
            "data": {"offset": offset, "limit": limit, "total": total, "count": results.len(), "results": results},
        });
        answer(
            StatusCode::OK,
            "application/json; charset=utf-8",
            Bytes::from(body.to_string()),
        )
    }
}

fn api_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = json!({"code": code, "message": message}).to_string();
    answer(status, "application/json; charset=utf-8", Bytes::from(body))
}

fn answer(status: StatusCode, content_type: &str, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body))
        .expect("a valid response")
}

/// A real PNG or JPEG: a small gradient, or noise of about `kib` KiB (noise does not compress;
/// a JPEG, smaller, is topped up with comment segments, which decoders skip).
fn picture(seed: u64, ext: &str, kib: Option<usize>) -> Vec<u8> {
    let (width, height) = match kib {
        // noise costs about 3 bytes per pixel in PNG
        Some(kib) => {
            let side = ((kib * 1024 / 3) as f64).sqrt() as u32;
            (side, side)
        }
        None => (30, 45),
    };
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let img = image::RgbImage::from_fn(width, height, |px, py| {
        if kib.is_some() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            image::Rgb([b[0], b[1], b[2]])
        } else {
            image::Rgb([(px * 8) as u8, (py * 5) as u8, (seed % 251) as u8])
        }
    });
    let format = if ext == "png" {
        image::ImageFormat::Png
    } else {
        image::ImageFormat::Jpeg
    };
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format)
        .expect("encoding a picture in memory");
    if let (Some(kib), image::ImageFormat::Jpeg) = (kib, format) {
        let mut missing = (kib * 1024).saturating_sub(out.len());
        let mut segments = Vec::new();
        while missing > 4 {
            let n = (missing - 4).min(65_533);
            segments.extend_from_slice(&[0xFF, 0xFE]);
            segments.extend_from_slice(&((n + 2) as u16).to_be_bytes());
            segments.extend(std::iter::repeat_n(b'.', n));
            missing -= n + 4;
        }
        out.splice(2..2, segments);
    }
    out
}
