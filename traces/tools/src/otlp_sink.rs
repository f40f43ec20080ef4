//! A small OTLP/HTTP trace receiver (`otlp-sink`) for the cost benchmark (`bench/traces.sh`): it
//! takes what an OpenTelemetry exporter POSTs to `/v1/traces` (protobuf), decodes it with the
//! official message types (`opentelemetry-proto`), counts the spans and answers a valid, empty
//! `ExportTraceServiceResponse` — what a collector does before it stores anything, at the cost
//! of a decode, so the figures measure the exporting process and not a slow receiver.
//! `GET /stats` answers `{"spans":N,"exports":M,"rejected":R}`.
//!
//! The suite's correctness checks use traces/receiver.py (it keeps every span); this one keeps
//! only the counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;

/// What the sink has received so far.
#[derive(Debug, Default)]
pub struct Counts {
    spans: AtomicU64,
    exports: AtomicU64,
    rejected: AtomicU64,
}

impl Counts {
    fn json(&self) -> String {
        format!(
            r#"{{"spans":{},"exports":{},"rejected":{}}}"#,
            self.spans.load(Ordering::Relaxed),
            self.exports.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed)
        )
    }
}

/// Serves the sink on every connection `listener` accepts, forever.
pub async fn serve(listener: TcpListener) {
    let counts = Arc::new(Counts::default());
    crate::serve(listener, move |req| {
        let counts = counts.clone();
        async move { answer(req, &counts).await }
    })
    .await;
}

async fn answer(req: Request<Incoming>, counts: &Counts) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::POST, "/v1/traces") => {
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        "text/plain",
                        "unreadable body".into(),
                    )
                }
            };
            match ExportTraceServiceRequest::decode(body) {
                Ok(export) => {
                    let spans: usize = export
                        .resource_spans
                        .iter()
                        .flat_map(|r| &r.scope_spans)
                        .map(|s| s.spans.len())
                        .sum();
                    counts.spans.fetch_add(spans as u64, Ordering::Relaxed);
                    counts.exports.fetch_add(1, Ordering::Relaxed);
                    let ok = ExportTraceServiceResponse::default().encode_to_vec();
                    reply(StatusCode::OK, "application/x-protobuf", ok.into())
                }
                Err(e) => {
                    counts.rejected.fetch_add(1, Ordering::Relaxed);
                    reply(
                        StatusCode::BAD_REQUEST,
                        "text/plain",
                        format!("not an OTLP trace export: {e}").into(),
                    )
                }
            }
        }
        (&Method::GET, "/stats") => reply(StatusCode::OK, "application/json", counts.json().into()),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "POST /v1/traces or GET /stats".into(),
        ),
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}
