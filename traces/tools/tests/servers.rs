//! Both servers over real TCP (port 0), asked the way bench/traces.sh and superpower ask them.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

/// Binds port 0, serves `run` on it in the background and returns the base URL.
async fn start<F: std::future::Future<Output = ()> + Send + 'static>(
    run: impl FnOnce(tokio::net::TcpListener) -> F,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(run(listener));
    base
}

/// One request: status, headers, body.
async fn ask(method: Method, url: &str, body: Vec<u8>) -> (StatusCode, http::HeaderMap, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn export(spans_per_scope: &[usize]) -> Vec<u8> {
    let scope_spans = spans_per_scope
        .iter()
        .map(|&n| ScopeSpans {
            spans: (0..n)
                .map(|i| Span {
                    name: format!("span {i}"),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans,
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[tokio::test]
async fn the_sink_counts_the_spans_it_decodes_and_rejects_what_is_not_an_export() {
    let base = start(trace_tools::otlp_sink::serve).await;
    let traces = format!("{base}/v1/traces");
    let (status, headers, _) = ask(Method::POST, &traces, export(&[2, 3])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-protobuf");
    let (status, _, _) = ask(Method::POST, &traces, export(&[1])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = ask(Method::POST, &traces, b"\xff\xff not protobuf".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = ask(Method::GET, &traces, Vec::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _, body) = ask(Method::GET, &format!("{base}/stats"), Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        stats,
        serde_json::json!({"spans": 6, "exports": 2, "rejected": 1})
    );
}

#[tokio::test]
async fn the_hostile_powersource_brings_something_new_and_large_every_time() {
    let base = start(trace_tools::hostile::hostile).await;
    let (status, _, body) = ask(Method::GET, &format!("{base}/health"), Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let health: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(health["eligible_characters"], 1);

    let mut ids = Vec::new();
    for user in ["a", "b"] {
        let url = format!("{base}/assignments/{user}?x=1");
        let (status, headers, body) = ask(Method::GET, &url, Vec::new()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["x-padding"].len() >= 40 * 1024);
        assert_eq!(
            headers[service::api::TARGET_HEADER.as_str()],
            format!("/assignments/{user}?x=1")
        );
        assert_eq!(
            headers[service::api::INSTANCE_HEADER.as_str()].len(),
            service::api::MAX_INSTANCE_NAME
        );
        let view: serde_json::Value = serde_json::from_slice(&body).unwrap();
        ids.push(view["id"].as_u64().unwrap());
    }
    assert_ne!(ids[0], ids[1], "a new character with every answer");

    let (status, headers, body) = ask(
        Method::GET,
        &format!("{base}/characters/7/image"),
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(body.len(), 1024 * 1024);
    let (status, _, _) = ask(Method::GET, &format!("{base}/nothing"), Vec::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
