//! Every route on one screen: a path parser and one `match (method, route)` that only calls
//! handlers. Unknown paths answer 404; known paths with another method answer 405 with `Allow`.

use std::sync::Arc;

use common::http::body::{method_not_allowed, not_found, with_route, Response};
use common::http::ops;
use http::{Method, Request};
use hyper::body::Incoming;

use crate::startup::State;
use crate::{admin, handlers};

/// A parsed path. Segments borrow from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route<'a> {
    Character(&'a str),
    Image(&'a str),
    Assignment(&'a str),
    Random,
    Health,
    Live,
    Metrics,
    AdminFaults,
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix('/')?;
        let mut segments = rest.split('/');
        let route = match (segments.next()?, segments.next(), segments.next()) {
            ("characters", Some(id), None) => Route::Character(id),
            ("characters", Some(id), Some("image")) => Route::Image(id),
            ("assignments", Some(key), None) => Route::Assignment(key),
            ("random", None, None) => Route::Random,
            ("health", None, None) => Route::Health,
            ("live", None, None) => Route::Live,
            ("metrics", None, None) => Route::Metrics,
            ("admin", Some("faults"), None) => Route::AdminFaults,
            _ => return None,
        };
        segments.next().is_none().then_some(route)
    }

    /// The template: the `route` label of metrics and logs.
    fn template(self) -> &'static str {
        match self {
            Route::Character(_) => "/characters/{id}",
            Route::Image(_) => "/characters/{id}/image",
            Route::Assignment(_) => "/assignments/{user_key}",
            Route::Random => "/random",
            Route::Health => "/health",
            Route::Live => "/live",
            Route::Metrics => "/metrics",
            Route::AdminFaults => "/admin/faults",
        }
    }

    /// Product routes get faults injected; operational and admin routes never do.
    fn is_product(self) -> bool {
        matches!(
            self,
            Route::Character(_) | Route::Image(_) | Route::Assignment(_) | Route::Random
        )
    }

    fn allow(self) -> &'static str {
        match self {
            Route::AdminFaults => "GET, PUT, DELETE",
            _ => "GET",
        }
    }
}

/// The route template of `path` (`unmatched` for none): labels a request the client abandoned
/// before it was answered.
pub fn template_of(path: &str) -> &'static str {
    Route::parse(path).map_or("unmatched", Route::template)
}

/// Answers one request.
pub async fn route(state: Arc<State>, req: Request<Incoming>) -> Response {
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
        (&Method::GET, Route::Random) => handlers::random(&state),
        (&Method::GET, Route::Health) => Ok(handlers::health(&state)),
        (&Method::GET, Route::Live) => Ok(ops::live()),
        (&Method::GET, Route::Metrics) => Ok(ops::metrics(&state.metrics)),
        (method, Route::AdminFaults) => match state.admin.authorize(&parts.headers) {
            Err(err) => Err(err),
            Ok(()) => match *method {
                Method::GET => Ok(admin::get_faults(&state.faults)),
                Method::PUT => admin::put_faults(&state.faults, body).await,
                Method::DELETE => Ok(admin::delete_faults(&state.faults)),
                _ => Ok(method_not_allowed(route.allow())),
            },
        },
        (_, route) => Ok(method_not_allowed(route.allow())),
    };
    with_route(result.unwrap_or_else(|err| err.into_response()), template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        assert_eq!(Route::parse("/characters/12"), Some(Route::Character("12")));
        assert_eq!(
            Route::parse("/characters/12/image"),
            Some(Route::Image("12"))
        );
        assert_eq!(Route::parse("/characters/x"), Some(Route::Character("x")));
        assert_eq!(
            Route::parse("/assignments/u-1"),
            Some(Route::Assignment("u-1"))
        );
        assert_eq!(Route::parse("/admin/faults"), Some(Route::AdminFaults));
        for unknown in [
            "",
            "/",
            "/characters",
            "/characters/1/image/x",
            "/characters/1/img",
            "/random/",
            "/admin",
            "/nope",
            "//random",
        ] {
            assert_eq!(Route::parse(unknown), None, "{unknown}");
        }
    }
}
