//! `spawn_app()`: a real powersource on 127.0.0.1:0 over a fresh store in a temp dir, filled
//! from the sample dataset through the loader library; `TestApp` has one method per endpoint.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use common::store::Store;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use powersource::startup::State;
use powersource::{App, Settings};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The admin token test apps get when they ask for one.
pub const TOKEN: &str = "test-token-0123456789";

/// Characters in the sample dataset the tests use.
pub const SAMPLE_COUNT: usize = loader::sample::DEFAULT_COUNT;

/// The sample dataset, written once per test process.
pub fn sample_dir() -> &'static Path {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        loader::sample::write(dir.path(), SAMPLE_COUNT, loader::sample::DEFAULT_SEED)
            .expect("sample dataset");
        dir
    })
    .path()
}

/// The sample dataset as loaded (validated) by the loader, once per test process.
pub fn sample_dataset() -> &'static loader::dataset::Dataset {
    static DATASET: OnceLock<loader::dataset::Dataset> = OnceLock::new();
    DATASET.get_or_init(|| {
        loader::dataset::Dataset::load(sample_dir()).expect("the sample dataset loads")
    })
}

/// The sample dataset's entries (record + image file), eligible or not.
pub fn sample_entries() -> Vec<loader::dataset::Entry> {
    sample_dataset().entries().to_vec()
}

/// The eligible ids of the sample dataset, in id order.
pub fn eligible_ids() -> Vec<u64> {
    let mut ids: Vec<u64> = sample_entries()
        .iter()
        .filter(|e| e.record.eligible)
        .map(|e| e.record.id)
        .collect();
    ids.sort_unstable();
    ids
}

/// A fresh store in its own temp dir, open, with the sample dataset ingested (or empty).
pub fn fresh_store(ingest: bool) -> (TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store");
    let store = Store::open(&path).expect("store opens");
    if ingest {
        let options = loader::ingest::Options::default();
        loader::ingest::ingest(sample_dataset(), &store, &options).expect("ingest");
    }
    (dir, path, store)
}

/// Opens a store that was just closed in this process. sled's background threads can hold
/// its file lock for a moment after the last handle is dropped, so retry (bounded).
pub async fn reopen(path: &Path) -> Store {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(path) {
            Ok(store) => return store,
            Err(err) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "cannot reopen {}: {err}",
                    path.display()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// A change to the settings before the app starts.
pub type Tweak = Box<dyn FnOnce(&mut Settings)>;

/// How to start a test app.
#[derive(Default)]
pub struct Options {
    /// Start with an empty store.
    pub empty: bool,
    /// Configure the admin token [`TOKEN`].
    pub admin: bool,
    /// Change the settings further.
    pub tweak: Option<Tweak>,
}

/// A running powersource.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The instance name it was given.
    pub name: String,
    /// Its shared state (fault state).
    pub state: Arc<State>,
    /// HTTP client (keep-alive pool).
    pub client: Client<HttpConnector, Full<Bytes>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _dir: TempDir,
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A powersource over the sample dataset, no admin token.
pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

/// A powersource started with `options`.
pub async fn spawn_with(options: Options) -> TestApp {
    let (dir, path, store) = fresh_store(!options.empty);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().unwrap();
    let mut settings = Settings::new(addr.to_string(), path);
    settings.name = Some(format!("test-{}", addr.port()));
    if options.admin {
        settings.admin_token = Some(TOKEN.into());
    }
    if let Some(tweak) = options.tweak {
        tweak(&mut settings);
    }
    let app = App::with_store(&settings, store).await.expect("app builds");
    let state = app.state();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run(listener, async {
        let _ = rx.await;
    }));
    TestApp {
        address: format!("http://{addr}"),
        name: settings.instance_name().to_owned(),
        state,
        client: Client::builder(TokioExecutor::new()).build_http(),
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

impl TestApp {
    /// Sends a request and reads the whole answer.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.address));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body.into())).expect("valid request");
        let resp = tokio::time::timeout(Duration::from_secs(20), self.client.request(req))
            .await
            .expect("an answer within 20 s")
            .expect("the request succeeds");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }

    pub async fn character(&self, id: impl std::fmt::Display) -> Reply {
        self.get(&format!("/characters/{id}")).await
    }

    pub async fn image(&self, id: impl std::fmt::Display, if_none_match: Option<&str>) -> Reply {
        let headers: Vec<(&str, &str)> = if_none_match
            .map(|v| ("if-none-match", v))
            .into_iter()
            .collect();
        self.request(
            Method::GET,
            &format!("/characters/{id}/image"),
            &headers,
            Bytes::new(),
        )
        .await
    }

    pub async fn assignment(&self, user_key: &str) -> Reply {
        self.get(&format!("/assignments/{user_key}")).await
    }

    pub async fn random(&self) -> Reply {
        self.get("/random").await
    }

    pub async fn health(&self) -> Reply {
        self.get("/health").await
    }

    pub async fn live(&self) -> Reply {
        self.get("/live").await
    }

    pub async fn metrics(&self) -> Reply {
        self.get("/metrics").await
    }

    /// `/admin/faults` with `Authorization: Bearer token` (when given).
    pub async fn faults(&self, method: Method, token: Option<&str>, body: &str) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| ("authorization", a))
            .into_iter()
            .collect();
        self.request(method, "/admin/faults", &headers, body.to_owned())
            .await
    }

    /// Sets faults with the right token; panics unless accepted.
    pub async fn set_faults(&self, spec: serde_json::Value) {
        let r = self
            .faults(Method::PUT, Some(TOKEN), &spec.to_string())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }

    /// Waits (polling, bounded) until `n` requests are held by faults.
    pub async fn wait_held(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.state.faults.held() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no request held after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Signals shutdown and returns the server task, to await the drain.
    pub fn shutdown(&mut self) -> JoinHandle<()> {
        let _ = self.shutdown.take().expect("not shut down yet").send(());
        self.server.take().expect("server running")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
