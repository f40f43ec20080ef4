//! How answers look: the HTML page (maud), its stylesheet, and the JSON answer.

pub mod html;

use http::header::{HeaderName, HeaderValue};

/// The Content-Security-Policy of the pages (HTML answers): only what they use, all from this
/// origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; img-src 'self'; style-src 'self'; \
     script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The Content-Security-Policy of every other answer (JSON, images, the stylesheet and scripts,
/// metrics): nothing may load from it or frame it.
pub const API_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Security headers on every answer (the server adds each one the handler did not set).
pub fn security_headers() -> Vec<(HeaderName, HeaderValue)> {
    vec![
        (
            http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CONTENT_SECURITY_POLICY),
        ),
        (
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ]
}

/// What a page (an HTML answer) carries besides: its own policy, no referrer for the links it
/// holds, and no framing for browsers that predate `frame-ancestors`. A JSON answer goes without
/// them (on every call of `GET /`: bytes every client reads for nothing).
pub fn add_page_headers(resp: &mut service::http::Response) {
    let html = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if !html {
        return;
    }
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        http::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
}

/// The page's stylesheet, served at `/static/superpower.css` (an inline style would need
/// `'unsafe-inline'` in the CSP).
pub const STYLESHEET: &str = include_str!("../assets/superpower.css");

/// The script that draws the promises live (`/static/promises.js`, on `/promises` and
/// `/admin`): it fetches `/promises.json` every second and draws its charts as SVG, all from
/// this origin.
pub const PROMISES_SCRIPT: &str = include_str!("../assets/promises.js");
