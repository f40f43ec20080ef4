//! The admin API and control page. Off (404) unless an admin token is configured; every API
//! call needs `Authorization: Bearer TOKEN`. The page itself holds no secret: it asks for the
//! token and sends it with each call.
//!
//! - `GET|PUT /admin/switches`: the resilience switches (a PUT may carry a subset).
//! - `GET /admin/instances`: every known powersource instance, its health and its faults.
//! - `PUT|DELETE /admin/instances/{name}/faults`: set or clear an instance's faults (sent to
//!   that instance's admin API with superpower's powersource admin token; only known instances
//!   can be named).
//! - `POST /admin/reset`: back to the baseline: every switch on, the faults of every known
//!   instance cleared (on every replica: the switches' change reaches the peers, and the
//!   faults live on the instances).
//! - `GET /admin/replicas`: every replica of the front end with its switches.
//! - `GET /admin/peer`, `PUT /admin/peer/switches`: what replicas ask each other
//!   ([`crate::peers`]).
//! - `GET /admin`: the control page (with the promises panel of `/promises`);
//!   `GET /static/admin.js` its script.

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL};
use http::{HeaderMap, Method, StatusCode};
use hyper::body::Incoming;
use maud::html;
use serde::Serialize;
use service::api::FaultSpec;
use service::http::body::{full, json, read_limited_within, BodyError, Response};

use crate::error::ApiError;
use crate::state::State;
use crate::switches::{SwitchPatch, SwitchState, Versioned};

/// Largest admin request body.
const BODY_LIMIT: usize = 16 * 1024;
/// The control page's script.
const ADMIN_JS: &str = include_str!("assets/admin.js");

/// Checks the token: [`ApiError::NotFound`] when admin is off, [`ApiError::Unauthorized`] on a
/// missing or wrong token.
///
/// # Errors
/// As above; nothing has changed when it fails.
pub fn authorize(state: &State, headers: &HeaderMap) -> Result<(), ApiError> {
    match &state.admin_token {
        None => Err(ApiError::NotFound),
        Some(token) if token.allows(headers) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized),
    }
}

/// `GET /admin/switches`.
pub fn get_switches(state: &State) -> Response {
    json(StatusCode::OK, &state.switches.state())
}

/// An admin request body, whole, within the client timeout.
async fn body(state: &State, body: Incoming) -> Result<Bytes, ApiError> {
    read_limited_within(body, BODY_LIMIT, state.client_timeout)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge(_) => ApiError::TooLarge,
            BodyError::Read(m) => ApiError::BadRequest(m),
            BodyError::Timeout(_) => ApiError::BodyTimeout,
        })
}

/// `PUT /admin/switches` with a subset of the switches.
///
/// # Errors
/// [`ApiError::BadRequest`] for a body that is not such a subset; nothing changes then.
pub async fn put_switches(state: &State, req_body: Incoming) -> Result<Response, ApiError> {
    let bytes = body(state, req_body).await?;
    let patch = SwitchPatch::parse(&bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "expected a JSON object with some of ring, failover, fallback, stable_assignment, deadlines, hedging (booleans): {e}"
        ))
    })?;
    Ok(json(StatusCode::OK, &state.switches.apply(patch)))
}

/// One instance as `GET /admin/instances` lists it.
#[derive(Serialize)]
struct InstanceView<'a> {
    name: &'a str,
    url: &'a str,
    healthy: bool,
    on_ring: bool,
    /// Asked of the instance itself; `null` when it does not answer.
    faults: Option<FaultSpec>,
}

/// `GET /admin/peer`: this replica's state, as its peers ask for it ([`crate::peers`]).
pub fn peer_state(state: &State) -> Response {
    json(
        StatusCode::OK,
        &state.peers.state(&state.switches, &state.promises),
    )
}

/// `PUT /admin/peer/switches`: a peer's switches with their version; taken when newer than
/// this replica's. Answers the switches in force.
///
/// # Errors
/// [`ApiError::BadRequest`] for a body that is not versioned switches; nothing changes then.
pub async fn put_peer_switches(state: &State, req_body: Incoming) -> Result<Response, ApiError> {
    let bytes = body(state, req_body).await?;
    let theirs: Versioned = service::http::body::json_object(&bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{\"switches\": {{...every switch...}}, \"version\": {{\"counter\": N, \"origin\": ID}}}}: {e}"
        ))
    })?;
    state.switches.adopt(&theirs);
    Ok(json(StatusCode::OK, &state.switches.versioned()))
}

/// One replica as `GET /admin/replicas` lists it.
#[derive(Serialize)]
struct ReplicaView<'a> {
    name: &'a str,
    id: &'a str,
    /// Where this replica asks it; null for this replica.
    url: Option<&'a str>,
    /// True for the replica that answers.
    this: bool,
    /// Answered the last call.
    reachable: bool,
    /// Why not.
    error: Option<&'a str>,
    switches: Option<&'a Versioned>,
}

/// `GET /admin/replicas`: every replica of the front end, this one first, with its switches
/// (a replica out of step shows) or why it did not answer.
pub fn replicas(state: &State) -> Response {
    let me = state.peers.me();
    let mine = state.switches.versioned();
    let views = state.peers.views();
    let mut list = vec![ReplicaView {
        name: &me.name,
        id: &me.id,
        url: None,
        this: true,
        reachable: true,
        error: None,
        switches: Some(&mine),
    }];
    list.extend(views.iter().map(|v| {
        ReplicaView {
            name: v
                .state
                .as_ref()
                .map_or(v.url.as_str(), |s| s.replica.name.as_str()),
            id: v.state.as_ref().map_or("", |s| s.replica.id.as_str()),
            url: Some(&v.url),
            this: false,
            reachable: v.state.is_some(),
            error: v.error.as_deref(),
            switches: v.state.as_ref().map(|s| &s.switches),
        }
    }));
    json(StatusCode::OK, &serde_json::json!({ "replicas": list }))
}

/// `GET /admin/instances`: each known instance with its health and faults.
pub async fn instances(state: &State) -> Response {
    let fleet = state.powersource.fleet();
    let ring = fleet.ring();
    let known = fleet.instances();
    let calls = known.iter().map(|inst| {
        let on_ring = ring.members().iter().any(|m| m.name() == inst.name());
        async move {
            InstanceView {
                name: inst.name(),
                url: inst.base(),
                healthy: inst.is_healthy(),
                on_ring,
                faults: state.powersource.faults(inst).await,
            }
        }
    });
    let list = futures_util::future::join_all(calls).await;
    json(StatusCode::OK, &serde_json::json!({ "instances": list }))
}

/// `PUT|DELETE /admin/instances/{name}/faults`: sent to that instance's `/admin/faults`, with
/// its answer (status and body) passed back.
///
/// # Errors
/// [`ApiError::NotFound`] for an instance superpower does not know, a body error, or
/// [`ApiError::BadUpstream`] when the instance cannot be reached.
pub async fn instance_faults(
    state: &State,
    method: Method,
    name: &str,
    req_body: Incoming,
) -> Result<Response, ApiError> {
    // the page encodes the name (`127.0.0.1%3A6061`); only known instances can be named
    let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    let inst = state
        .powersource
        .fleet()
        .instances()
        .iter()
        .find(|i| i.name() == name)
        .cloned()
        .ok_or(ApiError::NotFound)?;
    let bytes = body(state, req_body).await?;
    let reply = state
        .powersource
        .set_faults(&inst, method, bytes)
        .await
        .map_err(|err| ApiError::BadUpstream {
            instance: inst.name().to_owned(),
            detail: err.to_string(),
        })?;
    tracing::info!(
        instance = inst.name(),
        status = reply.status.as_u16(),
        "faults changed through the admin API"
    );
    let mut resp = full(reply.status, "application/json", reply.body);
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// One instance in the answer of `POST /admin/reset`.
#[derive(Serialize)]
struct ResetView {
    name: String,
    /// The instance answered the clearing with 200.
    cleared: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `POST /admin/reset`: every switch on and the faults of every known instance (healthy or
/// not: a hung one still answers its admin API) cleared, all at once. Always 200; `complete`
/// says whether every instance confirmed, and each one that did not says why.
pub async fn reset(state: &State) -> Response {
    let switches = state.switches.set(SwitchState::RESILIENT);
    let known = state.powersource.fleet().instances();
    let calls = known.iter().map(|inst| async move {
        let (cleared, error) = match state
            .powersource
            .set_faults(inst, Method::DELETE, Bytes::new())
            .await
        {
            Ok(reply) if reply.status == StatusCode::OK => (true, None),
            Ok(reply) => (false, Some(format!("answered {}", reply.status))),
            Err(err) => (false, Some(err.to_string())),
        };
        ResetView {
            name: inst.name().to_owned(),
            cleared,
            error,
        }
    });
    let instances = futures_util::future::join_all(calls).await;
    let complete = instances.iter().all(|i| i.cleared);
    tracing::warn!(complete, "reset to the baseline through the admin API");
    let mut resp = json(
        StatusCode::OK,
        &serde_json::json!({ "switches": switches, "instances": instances, "complete": complete }),
    );
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /admin`: the control page. Everything it shows is fetched by `/static/admin.js` with
/// the token the presenter types in; nothing external, works offline.
pub fn page() -> Response {
    let markup = html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "superpower — control room" }
                link rel="stylesheet" href="/static/superpower.css";
                script src="/static/admin.js" defer {}
                script src="/static/promises.js" defer {}
            }
            body {
                main.card.admin {
                    h1 { "Control room" }
                    (crate::render::html::promises_panel())
                    form #login {
                        label for="token" { "Admin token " }
                        input #token type="password" autocomplete="current-password" required;
                        " "
                        button type="submit" { "Connect" }
                        p #login-error .error role="alert" {}
                    }
                    section #controls hidden {
                        p { button #reset type="button" { "Reset to baseline" } " every switch on, every instance's faults cleared " button #disconnect type="button" { "Disconnect" } }
                        h2 { "Resilience switches" }
                        p { "Each mechanism that keeps a promise. Switch one off, run an experiment, watch it deviate." }
                        table.admin #switches { thead { tr { th { "mechanism" } th { "on" } } } tbody {} }
                        h2 { "Front end replicas" }
                        p { "A change made here reaches every replica within a second; a replica out of step, or one that does not answer, shows here." }
                        table.admin #replicas { thead { tr { th { "replica" } th { "switches" } th { "version" } } } tbody {} }
                        h2 { "Powersource instances" }
                        table.admin #instances {
                            thead { tr { th { "instance" } th { "healthy" } th { "faults in force" } th { "inject (cleared by the instance itself after the duration)" } } }
                            tbody {}
                        }
                        p #status role="status" {}
                    }
                }
            }
        }
    };
    let mut resp = full(
        StatusCode::OK,
        "text/html; charset=utf-8",
        markup.into_string(),
    );
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /static/admin.js`.
pub fn script() -> Response {
    let mut r = full(StatusCode::OK, "text/javascript; charset=utf-8", ADMIN_JS);
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
