//! A hostile powersource (`hostile-powersource`) for the memory flood of `bench/traces.sh`: it
//! speaks the contract (health, assignments with the request target echoed, images) but brings
//! a new character with every answer (a long description, a name no other has), a new image for
//! every id, the longest instance name superpower passes on and a 40 KB header on every answer:
//! whatever superpower keeps of what a backend sends must stay in its bounds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, ETAG};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use service::api::{
    CharacterView, HealthDetail, INSTANCE_HEADER, MAX_INSTANCE_NAME, TARGET_HEADER,
};
use tokio::net::TcpListener;

/// The size of every image it serves.
const IMAGE_BYTES: usize = 1024 * 1024;
/// The padding header's size.
const PADDING_BYTES: usize = 40 * 1024;

/// Serves the hostile powersource on `listener`, forever.
pub async fn hostile(listener: TcpListener) {
    let next = Arc::new(AtomicU64::new(1));
    let name = HeaderValue::from_str(&"h".repeat(MAX_INSTANCE_NAME)).expect("a valid name");
    let padding = HeaderValue::from_str(&"p".repeat(PADDING_BYTES)).expect("a valid value");
    crate::serve(listener, move |req: Request<Incoming>| {
        let (next, name, padding) = (next.clone(), name.clone(), padding.clone());
        async move {
            let path = req.uri().path().to_owned();
            let mut resp = answer(&path, &next);
            let h = resp.headers_mut();
            h.insert(INSTANCE_HEADER.clone(), name);
            h.insert(HeaderName::from_static("x-padding"), padding);
            if let Ok(target) =
                HeaderValue::from_str(req.uri().path_and_query().map_or("/", |p| p.as_str()))
            {
                h.insert(TARGET_HEADER.clone(), target);
            }
            resp
        }
    })
    .await;
}

fn answer(path: &str, next: &AtomicU64) -> Response<Full<Bytes>> {
    if path == "/health" {
        let health = HealthDetail {
            instance: "hostile".into(),
            eligible_characters: 1,
            generation: None,
            fingerprint: None,
        };
        return json(serde_json::to_vec(&health).unwrap_or_default());
    }
    if path.starts_with("/assignments/") {
        let id = next.fetch_add(1, Ordering::Relaxed);
        let view = CharacterView {
            id,
            name: format!("Hostile character {id} {}", "n".repeat(100)),
            description: format!("{id} ").repeat(2048 / (id.to_string().len() + 1)),
            image_url: format!("/characters/{id}/image"),
            learn_more_url: Some(format!("https://hostile.example/{id}/{}", "u".repeat(200))),
        };
        return json(serde_json::to_vec(&view).unwrap_or_default());
    }
    if let Some(id) = path
        .strip_prefix("/characters/")
        .and_then(|rest| rest.strip_suffix("/image"))
    {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.resize(IMAGE_BYTES, id.len() as u8);
        let mut resp = Response::new(Full::new(Bytes::from(png)));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
        if let Ok(tag) = HeaderValue::from_str(&format!("\"{id}\"")) {
            resp.headers_mut().insert(ETAG, tag);
        }
        return resp;
    }
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

fn json(body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
