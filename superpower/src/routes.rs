//! Every route of superpower, on one screen. Handlers do the work.

use common::http::body::{method_not_allowed, not_found, with_route, Response};
use common::http::ops;
use http::{Method, Request};
use hyper::body::Incoming;

use crate::admin;
use crate::app::App;
use crate::error::AppError;
use crate::handlers;
use crate::negotiate::Format;

/// The route template of `path`, for requests the client abandons before the answer.
pub fn template_of(path: &str) -> &'static str {
    match path {
        "/" => "/",
        "/health" => "/health",
        "/live" => "/live",
        "/metrics" => "/metrics",
        "/admin" => "/admin",
        "/admin/switches" => "/admin/switches",
        "/admin/instances" => "/admin/instances",
        p if p.starts_with("/images/") => "/images/{id}",
        p if p.starts_with("/admin/instances/") => "/admin/instances/{name}/faults",
        p if p.starts_with("/static/") => "/static/{file}",
        _ => "unmatched",
    }
}

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
        "/admin" => {
            let resp = match (&app.admin_token, method) {
                (None, _) => AppError::NotFound.into_response(Format::Html),
                (Some(_), &Method::GET) => admin::page(),
                (Some(_), _) => method_not_allowed("GET"),
            };
            with_route(resp, "/admin")
        }
        "/static/admin.js" => match (&app.admin_token, method) {
            (None, _) => not_found(),
            (Some(_), &Method::GET) => with_route(admin::script(), "/static/{file}"),
            (Some(_), _) => with_route(method_not_allowed("GET"), "/static/{file}"),
        },
        "/admin/instances" => {
            let resp = match admin::authorize(app, &parts.headers) {
                Err(err) => err.into_response(Format::Json),
                Ok(()) => match *method {
                    Method::GET => admin::instances(app, &parts.headers).await,
                    _ => method_not_allowed("GET"),
                },
            };
            with_route(resp, "/admin/instances")
        }
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
        _ if path.starts_with("/admin/instances/") => {
            let name = path
                .strip_prefix("/admin/instances/")
                .and_then(|p| p.strip_suffix("/faults"));
            let resp = match (name, admin::authorize(app, &parts.headers)) {
                (None, _) => AppError::NotFound.into_response(Format::Json),
                (Some(_), Err(err)) => err.into_response(Format::Json),
                (Some(name), Ok(())) => match *method {
                    Method::PUT | Method::DELETE => {
                        admin::instance_faults(app, method.clone(), name, &parts.headers, body)
                            .await
                    }
                    _ => method_not_allowed("PUT, DELETE"),
                },
            };
            with_route(resp, "/admin/instances/{name}/faults")
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
