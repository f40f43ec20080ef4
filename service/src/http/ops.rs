//! The operational endpoints every service answers: `/live`, `/health`, `/metrics`.

use http::StatusCode;
use metrics_exporter_prometheus::PrometheusHandle;

use super::body::{full, json, text, with_route, Response};

/// `GET /live`: the process answers. Kubernetes restarts a pod whose liveness fails, so this
/// never depends on anything outside the process.
pub fn live() -> Response {
    with_route(text(StatusCode::OK, "live\n"), "/live")
}

/// `GET /health`: 200 when the service can do its job, else 503, with a JSON detail.
pub fn health(healthy: bool, detail: serde_json::Value) -> Response {
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = detail;
    if let serde_json::Value::Object(map) = &mut body {
        map.insert(
            "status".into(),
            (if healthy { "ok" } else { "unavailable" }).into(),
        );
    }
    with_route(json(status, &body), "/health")
}

/// `GET /metrics`: the Prometheus text exposition format.
pub fn metrics(handle: &PrometheusHandle) -> Response {
    with_route(
        full(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            handle.render(),
        ),
        "/metrics",
    )
}
