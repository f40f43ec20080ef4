//! Every route of superpower, on one screen. Handlers do the work.

use common::http::body::{method_not_allowed, not_found, with_route, Response};
use common::http::ops;
use http::{Method, Request};
use hyper::body::Incoming;

use crate::admin;
use crate::app::App;
use crate::handlers;
use crate::negotiate::Format;

/// Answers one request.
pub async fn route(app: &App, req: Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let (method, path) = (&parts.method, parts.uri.path());
    match path {
        "/" => match *method {
            Method::GET => with_route(handlers::index(app, &parts.headers).await, "/"),
            _ => with_route(method_not_allowed("GET"), "/"),
        },
        "/static/superpower.css" => match *method {
            Method::GET => with_route(handlers::stylesheet(), "/static/{file}"),
            _ => with_route(method_not_allowed("GET"), "/static/{file}"),
        },
        "/health" => match *method {
            Method::GET => handlers::health(app),
            _ => with_route(method_not_allowed("GET"), "/health"),
        },
        "/live" => match *method {
            Method::GET => ops::live(),
            _ => with_route(method_not_allowed("GET"), "/live"),
        },
        "/metrics" => match *method {
            Method::GET => ops::metrics(&app.metrics),
            _ => with_route(method_not_allowed("GET"), "/metrics"),
        },
        "/admin/switches" => {
            let resp = match admin::authorize(app, &parts.headers) {
                Err(err) => err.into_response(Format::Json),
                Ok(()) => match *method {
                    Method::GET => admin::get_switches(app),
                    Method::PUT => admin::put_switches(app, body).await,
                    _ => method_not_allowed("GET, PUT"),
                },
            };
            with_route(resp, "/admin/switches")
        }
        _ => match path.strip_prefix("/images/") {
            Some(id) if !id.contains('/') => match *method {
                Method::GET => with_route(
                    handlers::image(app, id, &parts.headers).await,
                    "/images/{id}",
                ),
                _ => with_route(method_not_allowed("GET"), "/images/{id}"),
            },
            _ => not_found(),
        },
    }
}
