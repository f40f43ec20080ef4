//! The test harness: a real superpower in-process on port 0, in front of real powersource
//! instances (each in its own runtime, over its own sled store filled from the sample dataset
//! by `testkit::sample`), spoken to over real HTTP (`testkit::http`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{ACCEPT, COOKIE};
use http::{Method, StatusCode};
use superpower::identity::COOKIE_NAME;
use superpower::{Application, Settings, State};

/// One powersource instance in its own runtime and thread, so that killing it drops every task
/// and connection at once, like a SIGKILL.
pub struct TestPowersource {
    /// Where it listens (kept across restarts).
    pub addr: SocketAddr,
    store: PathBuf,
    runtime: Option<tokio::runtime::Runtime>,
    /// Faults to start with (`--fault-*`).
    pub faults: powersource::config::FaultArgs,
}

impl TestPowersource {
    fn start(addr: SocketAddr, store: PathBuf, faults: powersource::config::FaultArgs) -> Self {
        let mut ps = TestPowersource {
            addr,
            store,
            runtime: None,
            faults,
        };
        ps.boot();
        ps
    }

    fn boot(&mut self) {
        let (addr, store, faults) = (self.addr, self.store.clone(), self.faults.clone());
        let (rt, bound) = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            // The port and the store lock of a killed instance are released asynchronously:
            // retry until they are free (bounded), as a supervisor restarting a process would.
            let app = loop {
                let attempt = rt.block_on(async {
                    let listener = tokio::net::TcpListener::bind(addr)
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut settings = powersource::config::Settings::new(
                        listener.local_addr().unwrap().to_string(),
                        store.clone(),
                    );
                    settings.admin_token = Some("test-token".into());
                    settings.faults = faults.clone();
                    powersource::Application::build(&settings, listener)
                        .await
                        .map_err(|e| e.to_string())
                });
                match attempt {
                    Ok(ok) => break ok,
                    Err(e) if Instant::now() < deadline => {
                        tracing::debug!(%e, "powersource restart: retrying");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => panic!("powersource cannot start: {e}"),
                }
            };
            let bound = app.local_addr().unwrap();
            rt.spawn(app.run_until(std::future::pending()));
            (rt, bound)
        })
        .join()
        .expect("boot thread");
        self.addr = bound;
        self.runtime = Some(rt);
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kills the instance: every task and connection is dropped at once.
    pub fn kill(&mut self) {
        if let Some(rt) = self.runtime.take() {
            std::thread::spawn(move || rt.shutdown_timeout(Duration::from_secs(2)))
                .join()
                .unwrap();
        }
    }

    /// Starts it again on the same address and store.
    pub fn restart(&mut self) {
        assert!(self.runtime.is_none(), "kill it first");
        self.boot();
    }

    /// Starts it again on the same address, over another store (a new dataset).
    pub fn restart_on(&mut self, store: PathBuf) {
        assert!(self.runtime.is_none(), "kill it first");
        self.store = store;
        self.boot();
    }
}

impl Drop for TestPowersource {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fleet of powersources over separate stores holding the sample dataset.
pub struct TestFleet {
    /// The instances.
    pub instances: Vec<TestPowersource>,
    _dir: tempfile::TempDir,
}

impl TestFleet {
    /// `n` healthy instances.
    pub fn start(n: usize) -> Self {
        Self::start_with(n, |_| powersource::config::FaultArgs::default())
    }

    /// `n` instances, instance `i` started with `faults(i)`.
    pub fn start_with(n: usize, faults: impl Fn(usize) -> powersource::config::FaultArgs) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let instances = (0..n)
            .map(|i| {
                let store = dir.path().join(format!("store-{i}"));
                drop(testkit::sample::ingest_into(&store));
                TestPowersource::start("127.0.0.1:0".parse().unwrap(), store, faults(i))
            })
            .collect();
        TestFleet {
            instances,
            _dir: dir,
        }
    }

    /// The base URLs.
    pub fn urls(&self) -> Vec<String> {
        self.instances.iter().map(TestPowersource::url).collect()
    }
}

/// A running superpower and a client to talk to it.
pub struct TestApp {
    /// Its state.
    pub state: Arc<State>,
    /// superpower's base URL and a keep-alive client (requests: `app.request(…)`).
    pub site: testkit::http::Site,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// An answer, read whole.
pub use testkit::http::Reply as Answer;

/// The `Cookie` header of a user: `cookie` as given when it names its cookies, else the
/// identity cookie with that id.
pub fn cookie_header(cookie: &str) -> String {
    if cookie.contains('=') {
        cookie.to_owned()
    } else {
        format!("{COOKIE_NAME}={cookie}")
    }
}

/// The cookies a new user's first answer set, as the `Cookie` header a browser sends next.
pub fn jar(a: &Answer) -> String {
    let id = a
        .set_cookie(COOKIE_NAME)
        .expect("a new user gets an identity");
    match a.set_cookie(superpower::remembered::COOKIE_NAME) {
        Some(last) => format!(
            "{COOKIE_NAME}={id}; {}={last}",
            superpower::remembered::COOKIE_NAME
        ),
        None => format!("{COOKIE_NAME}={id}"),
    }
}

/// Settings for tests: quick health checks so membership changes are seen fast.
pub fn test_settings(urls: Vec<String>) -> Settings {
    let mut s = Settings::for_urls(urls);
    s.health_interval = Duration::from_millis(100);
    s.eject_cooldown = Duration::from_millis(500);
    s.admin_token = Some("test-token".into());
    s
}

/// Starts superpower with `settings` on port 0.
pub async fn spawn_app(settings: Settings) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    spawn_app_on(settings, listener).await
}

/// Starts superpower with `settings` on `listener` (bound already: replicas that name each
/// other as peers need each other's address first).
pub async fn spawn_app_on(settings: Settings, listener: tokio::net::TcpListener) -> TestApp {
    service::telemetry::init_for_tests();
    let app = Application::build(settings, listener)
        .await
        .expect("superpower builds");
    let addr = app.local_addr().unwrap();
    let state = app.state();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        state,
        site: testkit::http::Site::new(format!("http://{addr}")),
        shutdown: Some(tx),
    }
}

impl std::ops::Deref for TestApp {
    type Target = testkit::http::Site;

    fn deref(&self) -> &testkit::http::Site {
        &self.site
    }
}

impl TestApp {
    /// Shuts it down as SIGTERM does (the lame duck, if any, then the drain).
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// `GET path` with headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.request(Method::GET, path, headers, "").await
    }

    /// `GET /` as JSON, as the user with `cookie` (or a new user): a bare id, or the whole
    /// `Cookie` header a browser would send (`superpower_id=…; superpower_last=…`, as
    /// [`TestApp::new_users`] keeps it).
    pub async fn superpower_json(&self, cookie: Option<&str>) -> Answer {
        let c = cookie.map(cookie_header);
        let mut h = vec![(ACCEPT.as_str(), "application/json")];
        if let Some(c) = &c {
            h.push((COOKIE.as_str(), c));
        }
        self.get("/", &h).await
    }

    /// `GET /` as a browser would ask.
    pub async fn superpower_html(&self, cookie: Option<&str>) -> Answer {
        let c = cookie.map(cookie_header);
        let mut h = vec![(
            ACCEPT.as_str(),
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )];
        if let Some(c) = &c {
            h.push((COOKIE.as_str(), c));
        }
        self.get("/", &h).await
    }

    /// Admin call with the test token.
    pub async fn admin(&self, method: Method, path: &str, body: &str) -> Answer {
        self.request(
            method,
            path,
            &[("authorization", "Bearer test-token")],
            body,
        )
        .await
    }

    /// Waits (polling, bounded) until the ring has `n` members.
    pub async fn wait_for_ring(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ring = self.state.powersource.fleet().ring().len();
            if ring == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "ring has {ring} members, expected {n}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (polling, bounded) until the catalog holds the dataset's characters.
    pub async fn wait_for_catalog(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.state.catalog.fingerprint().is_none() {
            assert!(Instant::now() < deadline, "the catalog was never filled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `n` new users: each one's cookies as a browser keeps them (the identity and the signed
    /// last known superpower, as one `Cookie` header) and the name of their superpower.
    pub async fn new_users(&self, n: usize) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let a = self.superpower_json(None).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.text());
            out.push((jar(&a), a.json()["name"].as_str().unwrap().to_owned()));
        }
        out
    }

    /// Asks for every user's superpower (16 at a time) and returns the answers in order.
    pub async fn ask_all(&self, users: &[(String, String)]) -> Vec<Answer> {
        use futures_util::stream::{self, StreamExt};
        stream::iter(users.iter().map(|(c, _)| self.superpower_json(Some(c))))
            .buffered(16)
            .collect()
            .await
    }
}
