//! How answers look: the HTML page (maud), its stylesheet, and the JSON answer.

pub mod html;

use http::header::{HeaderName, HeaderValue};

/// The Content-Security-Policy of every response: only what the pages use, all from this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; img-src 'self'; style-src 'self'; \
     script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Security headers on every response.
pub fn security_headers() -> Vec<(HeaderName, HeaderValue)> {
    vec![
        (
            http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            http::header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            http::header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ),
    ]
}

/// The page's stylesheet, served at `/static/superpower.css` (an inline style would need
/// `'unsafe-inline'` in the CSP).
pub const STYLESHEET: &str = include_str!("../assets/superpower.css");

/// The script that draws the promises live (`/static/promises.js`, on `/promises` and
/// `/admin`): it fetches `/promises.json` every second and draws its charts as SVG, all from
/// this origin.
pub const PROMISES_SCRIPT: &str = include_str!("../assets/promises.js");
