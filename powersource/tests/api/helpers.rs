//! `spawn_app()`: a real powersource on 127.0.0.1:0 over a fresh store in a temp dir, filled
//! from the sample dataset (`testkit::sample`); `TestApp` has one method per endpoint.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use powersource::{Application, Settings, State};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use testkit::http::Reply;
pub use testkit::sample::{eligible_ids, entries as sample_entries, fresh_store, reopen};

/// The admin token test apps get when they ask for one.
pub const TOKEN: &str = "test-token-0123456789";

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
    /// The instance name it was given.
    pub name: String,
    /// Its shared state (fault state).
    pub state: Arc<State>,
    /// The server's base URL and a keep-alive client (requests: `app.request(…)`).
    pub site: testkit::http::Site,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    _dir: TempDir,
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
    let app = Application::with_store(&settings, store, listener)
        .await
        .expect("app builds");
    let state = app.state();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        name: settings.instance_name().to_owned(),
        state,
        site: testkit::http::Site::new(format!("http://{addr}")),
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

impl std::ops::Deref for TestApp {
    type Target = testkit::http::Site;

    fn deref(&self) -> &testkit::http::Site {
        &self.site
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[], []).await
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
            [],
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
        self.request(method, "/admin/faults", &headers, body).await
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
