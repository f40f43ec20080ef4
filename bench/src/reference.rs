//! The bare hyper reference servers: the limits superpower and powersource are compared with.
//!
//! Both use what the product uses (hyper 1.x HTTP/1.1 with keep-alive, `#[tokio::main]`'s
//! multi-threaded runtime, one task per connection, `TCP_NODELAY`) and nothing else: no routing,
//! no logging, no metrics, no graceful drain.
//!
//! - [`one_tier`] answers every request with a fixed JSON body the size of superpower's answer.
//! - [`two_tier`] is a front that, for every request, calls a back (a one-tier server) over
//!   keep-alive with hyper-util's pooled client, the client superpower uses, and returns its body.
//!
//! Both serve through `trace_tools::serve`, the bare accept loop the trace checks' servers use.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use trace_tools::serve;

/// The one-tier answer: a character as superpower's `GET /` answers it (415 bytes).
pub const BODY: &str = r#"{"id":1010281,"name":"Dara Ibáñez","description":"Dara Ibáñez survived a flood in a sealed laboratory under Marisól Bay, and can now pull the heat out of the air. Believes the world would be quieter without heroes, and means to make it so.","image_url":"/images/1010281","learn_more_url":"https://www.superpower-sample.example/characters/1010281/dara-ibanez?utm_source=sample","instance":"p1","degraded":false}"#;

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The one-tier reference: [`BODY`] for every request.
pub async fn one_tier(listener: TcpListener) {
    let body = Bytes::from_static(BODY.as_bytes());
    serve(listener, move |_req| {
        let body = body.clone();
        async move { json(StatusCode::OK, body) }
    })
    .await;
}

/// The two-tier reference: every request calls `back` (`http://host:port/`) and returns its body
/// (502 when the back cannot answer).
pub async fn two_tier(listener: TcpListener, back: Uri) {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    serve(listener, move |_req| {
        let client = client.clone();
        let back = back.clone();
        async move {
            let answer = async {
                let resp = client.get(back).await.ok()?;
                let status = resp.status();
                let body = resp.into_body().collect().await.ok()?.to_bytes();
                Some((status, body))
            };
            match answer.await {
                Some((status, body)) => json(status, body),
                None => json(StatusCode::BAD_GATEWAY, Bytes::from_static(b"{}")),
            }
        }
    })
    .await;
}
