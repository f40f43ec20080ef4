//! Every route of superpower, on one screen: a path parser and one `match` that only calls
//! handlers. The parser also names the route template of a path (the `route` label), so the
//! answered route and the label of an abandoned request cannot disagree. A handler's
//! [`ApiError`] becomes an answer here, in the format the client negotiated, and nowhere else.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use http::header::{HeaderValue, ACCEPT, CONNECTION};
use http::{HeaderMap, Method, Request};
use hyper::body::Incoming;
use service::http::body::{method_not_allowed, not_found, with_route, Response};
use service::http::ops;

use crate::admin;
use crate::error::ApiError;
use crate::handlers;
use crate::identity::Identity;
use crate::negotiate::{self, Format};
use crate::state::State;

/// A parsed path. Segments borrow from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route<'a> {
    Index,
    Stylesheet,
    AdminScript,
    PromisesScript,
    Promises,
    PromisesJson,
    Health,
    Live,
    Metrics,
    Admin,
    Switches,
    Instances,
    InstanceFaults(&'a str),
    Reset,
    Replicas,
    Peer,
    PeerSwitches,
    Image(&'a str),
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        Some(match path {
            "/" => Route::Index,
            "/static/superpower.css" => Route::Stylesheet,
            "/static/admin.js" => Route::AdminScript,
            "/static/promises.js" => Route::PromisesScript,
            "/promises" => Route::Promises,
            "/promises.json" => Route::PromisesJson,
            "/health" => Route::Health,
            "/live" => Route::Live,
            "/metrics" => Route::Metrics,
            "/admin" => Route::Admin,
            "/admin/switches" => Route::Switches,
            "/admin/instances" => Route::Instances,
            "/admin/reset" => Route::Reset,
            "/admin/replicas" => Route::Replicas,
            "/admin/peer" => Route::Peer,
            "/admin/peer/switches" => Route::PeerSwitches,
            _ => {
                if let Some(id) = path.strip_prefix("/images/") {
                    return (!id.contains('/')).then_some(Route::Image(id));
                }
                let name = path
                    .strip_prefix("/admin/instances/")?
                    .strip_suffix("/faults")?;
                return (!name.contains('/')).then_some(Route::InstanceFaults(name));
            }
        })
    }

    /// The template: the `route` label of metrics and logs.
    fn template(self) -> &'static str {
        match self {
            Route::Index => "/",
            Route::Stylesheet | Route::AdminScript | Route::PromisesScript => "/static/{file}",
            Route::Promises => "/promises",
            Route::PromisesJson => "/promises.json",
            Route::Health => "/health",
            Route::Live => "/live",
            Route::Metrics => "/metrics",
            Route::Admin => "/admin",
            Route::Switches => "/admin/switches",
            Route::Instances => "/admin/instances",
            Route::InstanceFaults(_) => "/admin/instances/{name}/faults",
            Route::Reset => "/admin/reset",
            Route::Replicas => "/admin/replicas",
            Route::Peer => "/admin/peer",
            Route::PeerSwitches => "/admin/peer/switches",
            Route::Image(_) => "/images/{id}",
        }
    }

    /// The admin API's routes: they need the token.
    fn is_admin_api(self) -> bool {
        matches!(
            self,
            Route::Switches
                | Route::Instances
                | Route::InstanceFaults(_)
                | Route::Reset
                | Route::Replicas
                | Route::Peer
                | Route::PeerSwitches
        )
    }
}

/// The route template of `path` (`unmatched` for none), for requests the client abandons before
/// the answer.
pub fn template_of(path: &str) -> &'static str {
    Route::parse(path).map_or("unmatched", Route::template)
}

/// Answers one request.
pub async fn route(state: &State, req: Request<Incoming>) -> Response {
    let mut resp = routed(state, req).await;
    crate::render::add_page_headers(&mut resp);
    if state.draining.load(Relaxed) {
        // the lame duck: the client's next request opens a connection, which the balancer
        // sends to a replica that stays
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

async fn routed(state: &State, req: Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let Some(route) = Route::parse(parts.uri.path()) else {
        return not_found();
    };
    if route == Route::AdminScript && state.admin_token.is_none() {
        return not_found();
    }
    let resp = if route == Route::Index && parts.method == Method::GET {
        index(state, &parts.headers).await
    } else {
        // errors of the control page and of the promises page are pages; the rest are JSON
        let format = if matches!(route, Route::Admin | Route::Promises) {
            Format::Html
        } else {
            Format::Json
        };
        answer(state, route, &parts.method, &parts.headers, body)
            .await
            .unwrap_or_else(|err| err.into_response(format))
    };
    with_route(resp, route.template())
}

/// `GET /`, in the negotiated format, with the user's identity on every answer.
async fn index(state: &State, headers: &HeaderMap) -> Response {
    let Some(format) = negotiated(headers) else {
        return ApiError::NotAcceptable.into_response(Format::Html);
    };
    let started = state.promises.tracking().then(Instant::now);
    let identity = Identity::from_headers(headers);
    let resp = handlers::index(state, &identity, headers, format)
        .await
        .unwrap_or_else(|err| err.into_response(format));
    if let Some(started) = started {
        state.promises.answered(resp.status(), started.elapsed());
    }
    handlers::personalize(resp, &identity)
}

/// Every other route: the admin checks, then the handler.
async fn answer(
    state: &State,
    route: Route<'_>,
    method: &Method,
    headers: &HeaderMap,
    body: Incoming,
) -> Result<Response, ApiError> {
    if route == Route::Admin && state.admin_token.is_none() {
        return Err(ApiError::NotFound);
    }
    // the admin API answers 404 (off) or 401 before anything else, whatever the method
    if route.is_admin_api() {
        admin::authorize(state, headers)?;
    }
    Ok(match (route, method) {
        (Route::Image(id), &Method::GET) => handlers::image(state, id, headers).await?,
        (Route::Stylesheet, &Method::GET) => handlers::stylesheet(),
        (Route::AdminScript, &Method::GET) => admin::script(),
        (Route::PromisesScript, &Method::GET) => handlers::promises_script(),
        (Route::Promises, &Method::GET) => handlers::promises_page(),
        (Route::PromisesJson, &Method::GET) => handlers::promises_json(state),
        (Route::Health, &Method::GET) => handlers::health(state),
        (Route::Live, &Method::GET) => ops::live(),
        (Route::Metrics, &Method::GET) => ops::metrics(&state.metrics),
        (Route::Admin, &Method::GET) => admin::page(),
        (Route::Switches, &Method::GET) => admin::get_switches(state),
        (Route::Switches, &Method::PUT) => admin::put_switches(state, body).await?,
        (Route::Instances, &Method::GET) => admin::instances(state).await,
        (Route::InstanceFaults(name), &Method::PUT | &Method::DELETE) => {
            admin::instance_faults(state, method.clone(), name, body).await?
        }
        (Route::Reset, &Method::POST) => admin::reset(state).await,
        (Route::Replicas, &Method::GET) => admin::replicas(state),
        (Route::Peer, &Method::GET) => admin::peer_state(state),
        (Route::PeerSwitches, &Method::PUT) => admin::put_peer_switches(state, body).await?,
        (Route::PeerSwitches, _) => method_not_allowed("PUT"),
        // HEAD is answered as GET by the shared server, so it is allowed wherever GET is
        (Route::Switches, _) => method_not_allowed("GET, HEAD, PUT"),
        (Route::InstanceFaults(_), _) => method_not_allowed("PUT, DELETE"),
        (Route::Reset, _) => method_not_allowed("POST"),
        _ => method_not_allowed("GET, HEAD"),
    })
}

/// The format `GET /` answers in, by `Accept`; `None` when neither is acceptable. A client may
/// split its list over several `Accept` headers (RFC 9110 §5.3): they are joined with commas
/// into one list first. A value that is not text is skipped.
fn negotiated(headers: &HeaderMap) -> Option<Format> {
    let mut all = headers.get_all(ACCEPT).iter();
    // the common case, one `Accept`, is read in place
    if let (Some(only), None) = (all.next(), all.next()) {
        return negotiate::choose(only.to_str().ok());
    }
    let values: Vec<&str> = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return negotiate::choose(None);
    }
    negotiate::choose(Some(&values.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_templates_and_junk_to_unmatched() {
        for (path, template) in [
            ("/", "/"),
            ("/images/1011", "/images/{id}"),
            ("/images/", "/images/{id}"),
            ("/static/superpower.css", "/static/{file}"),
            (
                "/admin/instances/127.0.0.1%3A6061/faults",
                "/admin/instances/{name}/faults",
            ),
            ("/admin/switches", "/admin/switches"),
            ("/admin/reset", "/admin/reset"),
            ("/admin/replicas", "/admin/replicas"),
            ("/admin/peer", "/admin/peer"),
            ("/admin/peer/switches", "/admin/peer/switches"),
            (crate::peers::PEER_PATH, "/admin/peer"),
            (crate::peers::PEER_SWITCHES_PATH, "/admin/peer/switches"),
            ("/promises", "/promises"),
            ("/promises.json", "/promises.json"),
            ("/static/promises.js", "/static/{file}"),
        ] {
            assert_eq!(template_of(path), template, "{path}");
        }
        for junk in [
            "/nope",
            "/images/1/2",
            "/static/other.css",
            "/admin/instances/a/b/faults",
            "/admin/instances/x",
            "",
        ] {
            assert_eq!(template_of(junk), "unmatched", "{junk}");
        }
    }
}
