//! The admin API and control page. Off (404) unless an admin token is configured; every API
//! call needs `Authorization: Bearer TOKEN`. The page itself holds no secret: it asks for the
//! token and sends it with each call.
//!
//! - `GET|PUT /admin/switches`: the resilience switches (a PUT may carry a subset).
//! - `GET /admin/instances`: every known powersource instance, its health and its faults.
//! - `PUT|DELETE /admin/instances/{name}/faults`: set or clear an instance's faults (forwarded
//!   to that instance's `/admin/faults`; only known instances can be named).
//! - `GET /admin`: the control page; `GET /static/admin.js` its script.

use std::time::Duration;

use bytes::Bytes;
use common::http::body::{full, json, read_limited, BodyError, Response};
use http::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL};
use http::{HeaderMap, Method, StatusCode};
use hyper::body::Incoming;
use maud::html;
use serde_json::{json as j, Value};

use crate::app::App;
use crate::client::admin_request;
use crate::error::AppError;
use crate::negotiate::Format;
use crate::switches::SwitchPatch;

/// Largest admin request body.
const BODY_LIMIT: usize = 16 * 1024;
/// How long an admin call to a powersource may take.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);
/// The control page's script.
const ADMIN_JS: &str = include_str!("assets/admin.js");

/// Checks the token: [`AppError::NotFound`] when admin is off, [`AppError::Unauthorized`] on a
/// missing or wrong token.
///
/// # Errors
/// As above; nothing has changed when it fails.
pub fn authorize(app: &App, headers: &HeaderMap) -> Result<(), AppError> {
    match &app.admin_token {
        None => Err(AppError::NotFound),
        Some(token) if token.allows(headers) => Ok(()),
        Some(_) => Err(AppError::Unauthorized),
    }
}

/// `GET /admin/switches`.
pub fn get_switches(app: &App) -> Response {
    json(StatusCode::OK, &app.switches.state())
}

async fn body(body: Incoming) -> Result<Bytes, AppError> {
    read_limited(body, BODY_LIMIT).await.map_err(|e| match e {
        BodyError::TooLarge(_) => AppError::TooLarge,
        BodyError::Read(m) => AppError::BadRequest(m),
    })
}

/// `PUT /admin/switches` with a subset of the switches.
pub async fn put_switches(app: &App, req_body: Incoming) -> Response {
    let bytes = match body(req_body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(Format::Json),
    };
    match serde_json::from_slice::<SwitchPatch>(&bytes) {
        Ok(patch) => json(StatusCode::OK, &app.switches.apply(patch)),
        Err(e) => AppError::BadRequest(format!(
            "expected a JSON object with some of ring, failover, fallback, stable_assignment, deadlines, hedging (booleans): {e}"
        ))
        .into_response(Format::Json),
    }
}

/// `GET /admin/instances`: each known instance with its health and faults (asked of the
/// instance itself; `null` faults when it does not answer).
pub async fn instances(app: &App, headers: &HeaderMap) -> Response {
    let Some(auth) = headers.get(AUTHORIZATION) else {
        return AppError::Unauthorized.into_response(Format::Json);
    };
    let fleet = app.router.fleet().clone();
    let ring = fleet.ring();
    let known = fleet.instances();
    let calls = known.iter().cloned().map(|inst| {
        let on_ring = ring.members().iter().any(|m| m.name() == inst.name());
        async move {
            let faults = match admin_request(Method::GET, inst.base(), "/admin/faults", auth, Bytes::new()) {
                Ok(req) => match app.router.backend().send(req, FORWARD_TIMEOUT, true, BODY_LIMIT).await {
                    Ok(reply) if reply.status == StatusCode::OK => serde_json::from_slice::<Value>(&reply.body).ok(),
                    _ => None,
                },
                Err(_) => None,
            };
            j!({ "name": inst.name(), "url": inst.base(), "healthy": inst.is_healthy(), "on_ring": on_ring, "faults": faults })
        }
    });
    let list: Vec<Value> = futures_util::future::join_all(calls).await;
    json(StatusCode::OK, &j!({ "instances": list }))
}

/// `PUT|DELETE /admin/instances/{name}/faults`: forwarded to that instance's `/admin/faults`,
/// with its answer (status and body) passed back.
pub async fn instance_faults(
    app: &App,
    method: Method,
    name: &str,
    headers: &HeaderMap,
    req_body: Incoming,
) -> Response {
    let Some(auth) = headers.get(AUTHORIZATION) else {
        return AppError::Unauthorized.into_response(Format::Json);
    };
    // the page encodes the name (`127.0.0.1%3A6061`); only known instances can be named
    let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    let Some(inst) = app
        .router
        .fleet()
        .instances()
        .iter()
        .find(|i| i.name() == name)
        .cloned()
    else {
        return AppError::NotFound.into_response(Format::Json);
    };
    let bytes = match body(req_body).await {
        Ok(b) => b,
        Err(e) => return e.into_response(Format::Json),
    };
    let forwarded = match admin_request(method, inst.base(), "/admin/faults", auth, bytes) {
        Ok(req) => {
            app.router
                .backend()
                .send(req, FORWARD_TIMEOUT, true, BODY_LIMIT)
                .await
        }
        Err(e) => Err(e),
    };
    match forwarded {
        Ok(reply) => {
            tracing::info!(
                instance = inst.name(),
                status = reply.status.as_u16(),
                "faults changed through the admin API"
            );
            let mut resp = full(reply.status, "application/json", reply.body);
            resp.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(err) => AppError::BadUpstream {
            instance: inst.name().to_owned(),
            detail: err.to_string(),
        }
        .into_response(Format::Json),
    }
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
            }
            body {
                main.card.admin {
                    h1 { "Control room" }
                    form #login {
                        label for="token" { "Admin token " }
                        input #token type="password" autocomplete="current-password" required;
                        " "
                        button type="submit" { "Connect" }
                        p #login-error .error role="alert" {}
                    }
                    section #controls hidden {
                        h2 { "Resilience switches" }
                        p { "Each mechanism that keeps a promise. Switch one off, run an experiment, watch it deviate." }
                        table.admin #switches { thead { tr { th { "mechanism" } th { "on" } } } tbody {} }
                        h2 { "Powersource instances" }
                        table.admin #instances {
                            thead { tr { th { "instance" } th { "healthy" } th { "faults in force" } th { "inject" } } }
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
