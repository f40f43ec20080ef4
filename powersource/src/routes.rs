//! Every route on one screen: the contract's [`Route`] parser and one `match (method, route)`
//! that only calls handlers. Unknown paths answer 404; known paths with another method answer
//! 405 with `Allow`. A handler's [`ApiError`](crate::error::ApiError) becomes an answer here,
//! and nowhere else.

use std::sync::Arc;

use http::{HeaderValue, Method, Request};
use hyper::body::Incoming;
use service::api::{Route, MAX_TARGET_ECHO, TARGET_HEADER};
use service::http::body::{method_not_allowed, not_found, with_route, Response};
use service::http::ops;

use crate::state::State;
use crate::{admin, handlers};

/// The route template of `path` (`unmatched` for none): labels a request the client abandoned
/// before it was answered.
pub fn template_of(path: &str) -> &'static str {
    Route::parse(path).map_or("unmatched", Route::template)
}

/// Answers one request; every answer names the request it is for ([`TARGET_HEADER`]).
pub async fn route(state: Arc<State>, req: Request<Incoming>) -> Response {
    let target = req
        .uri()
        .path_and_query()
        .map(|t| t.as_str())
        .filter(|t| t.len() <= MAX_TARGET_ECHO)
        .and_then(|t| HeaderValue::from_str(t).ok());
    let mut resp = routed(state, req).await;
    if let Some(target) = target {
        resp.headers_mut().insert(TARGET_HEADER.clone(), target);
    }
    resp
}

async fn routed(state: Arc<State>, req: Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let Some(route) = Route::parse(parts.uri.path()) else {
        return not_found();
    };
    let template = route.template();
    if parts.method == Method::GET && route.is_product() {
        if let Some(resp) = state.faults.apply(template).await {
            return with_route(resp, template);
        }
    }
    let result = match (&parts.method, route) {
        (&Method::GET, Route::Character(id)) => handlers::character(&state, id),
        (&Method::GET, Route::Image(id)) => {
            handlers::image(state.clone(), id, &parts.headers).await
        }
        (&Method::GET, Route::Assignment(key)) => handlers::assignment(&state, key),
        (&Method::GET, Route::Characters) => {
            handlers::characters(&state, parts.uri.query(), &parts.headers)
        }
        (&Method::GET, Route::Random) => handlers::random(&state),
        (&Method::GET, Route::Health) => Ok(handlers::health(&state)),
        (&Method::GET, Route::Live) => Ok(ops::live()),
        (&Method::GET, Route::Metrics) => Ok(ops::metrics(&state.metrics)),
        (method, Route::AdminFaults) => match state.admin.authorize(&parts.headers) {
            Err(err) => Err(err),
            Ok(()) => match *method {
                Method::GET => Ok(admin::get_faults(&state.faults)),
                Method::PUT => admin::put_faults(&state.faults, body, state.client_timeout).await,
                Method::DELETE => Ok(admin::delete_faults(&state.faults)),
                _ => Ok(method_not_allowed(route.allow())),
            },
        },
        (_, route) => Ok(method_not_allowed(route.allow())),
    };
    with_route(result.unwrap_or_else(|err| err.into_response()), template)
}
