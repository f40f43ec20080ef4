//! Every route of superpower, on one screen: a path parser and one `match` that only calls
//! handlers. The parser also names the route template of a path (the `route` label), so the
//! answered route and the label of an abandoned request cannot disagree.

use common::http::body::{method_not_allowed, not_found, with_route, Response};
use common::http::ops;
use http::{Method, Request};
use hyper::body::Incoming;

use crate::admin;
use crate::app::App;
use crate::error::AppError;
use crate::handlers;
use crate::negotiate::Format;

/// A parsed path. Segments borrow from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route<'a> {
    Index,
    Stylesheet,
    AdminScript,
    Health,
    Live,
    Metrics,
    Admin,
    Switches,
    Instances,
    InstanceFaults(&'a str),
    Image(&'a str),
}

impl<'a> Route<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        Some(match path {
            "/" => Route::Index,
            "/static/superpower.css" => Route::Stylesheet,
            "/static/admin.js" => Route::AdminScript,
            "/health" => Route::Health,
            "/live" => Route::Live,
            "/metrics" => Route::Metrics,
            "/admin" => Route::Admin,
            "/admin/switches" => Route::Switches,
            "/admin/instances" => Route::Instances,
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
            Route::Stylesheet | Route::AdminScript => "/static/{file}",
            Route::Health => "/health",
            Route::Live => "/live",
            Route::Metrics => "/metrics",
            Route::Admin => "/admin",
            Route::Switches => "/admin/switches",
            Route::Instances => "/admin/instances",
            Route::InstanceFaults(_) => "/admin/instances/{name}/faults",
            Route::Image(_) => "/images/{id}",
        }
    }

    /// Routes that exist only while the admin API is on.
    fn is_admin(self) -> bool {
        matches!(self, Route::Admin | Route::AdminScript)
    }
}

/// The route template of `path` (`unmatched` for none), for requests the client abandons before
/// the answer.
pub fn template_of(path: &str) -> &'static str {
    Route::parse(path).map_or("unmatched", Route::template)
}

/// Answers one request.
pub async fn route(app: &App, req: Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let Some(route) = Route::parse(parts.uri.path()) else {
        return not_found();
    };
    let (method, headers) = (&parts.method, &parts.headers);
    if route.is_admin() && app.admin_token.is_none() {
        return match route {
            Route::Admin => with_route(
                AppError::NotFound.into_response(Format::Html),
                route.template(),
            ),
            _ => not_found(),
        };
    }
    // the admin API answers 404 (off) or 401 before anything else, whatever the method
    if matches!(
        route,
        Route::Switches | Route::Instances | Route::InstanceFaults(_)
    ) {
        if let Err(err) = admin::authorize(app, headers) {
            return with_route(err.into_response(Format::Json), route.template());
        }
    }
    let resp = match (route, method) {
        (Route::Index, &Method::GET) => handlers::index(app, headers).await,
        (Route::Image(id), &Method::GET) => handlers::image(app, id, headers).await,
        (Route::Stylesheet, &Method::GET) => handlers::stylesheet(),
        (Route::AdminScript, &Method::GET) => admin::script(),
        (Route::Health, &Method::GET) => handlers::health(app),
        (Route::Live, &Method::GET) => ops::live(),
        (Route::Metrics, &Method::GET) => ops::metrics(&app.metrics),
        (Route::Admin, &Method::GET) => admin::page(),
        (Route::Switches, &Method::GET) => admin::get_switches(app),
        (Route::Switches, &Method::PUT) => admin::put_switches(app, body).await,
        (Route::Instances, &Method::GET) => admin::instances(app, headers).await,
        (Route::InstanceFaults(name), &Method::PUT | &Method::DELETE) => {
            admin::instance_faults(app, method.clone(), name, headers, body).await
        }
        (Route::Switches, _) => method_not_allowed("GET, PUT"),
        (Route::InstanceFaults(_), _) => method_not_allowed("PUT, DELETE"),
        _ => method_not_allowed("GET"),
    };
    with_route(resp, route.template())
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
