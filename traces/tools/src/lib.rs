//! The servers `bench/traces.sh` measures the cost of tracing with; they serve the trace checks
//! (traces/, docs/traces.md), not the benchmark's results, so they build without the bench.
//!
//! # Layout
//! - [`otlp_sink`]: the OTLP/HTTP trace receiver (`otlp-sink`): decodes and counts spans, as
//!   cheap as a collector on another machine would be.
//! - [`hostile`]: the hostile powersource of the memory flood (`hostile-powersource`): a new
//!   character, a new 1 MiB image and a 40 KB header with every answer.
//! - [`serve`] (here): the bare accept loop both use.

use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub mod hostile;
pub mod otlp_sink;

/// Serves `service` on every connection `listener` accepts, forever: hyper's HTTP/1.1 with
/// keep-alive and nothing else. Not `service::http::serve`, whose access log and metrics would
/// be measured with the sink; the bench's reference servers (`bench::reference`) serve through
/// it for the same reason.
pub async fn serve<S, Fut>(listener: TcpListener, service: S)
where
    S: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let service = service.clone();
                async move { Ok::<_, Infallible>(service(req).await) }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
