//! Content negotiation for `GET /`: HTML for browsers, JSON for API clients.
//!
//! Implements the `Accept` rules that matter here (RFC 9110 §12.5.1): media ranges with
//! `q` weights, `type/*` and `*/*` wildcards, the most specific range deciding a type's weight,
//! and `q=0` meaning "not acceptable". A missing or empty header means HTML; a tie prefers
//! HTML (browsers send `*/*` too).

/// What the client gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The maud page.
    Html,
    /// `application/json`.
    Json,
}

/// Chooses the format for an `Accept` header value; `None` when neither HTML nor JSON is
/// acceptable (the answer is then 406).
pub fn choose(accept: Option<&str>) -> Option<Format> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(Format::Html);
    };
    let html = quality(accept, "text", "html");
    let json = quality(accept, "application", "json");
    match (html, json) {
        (h, j) if h <= 0.0 && j <= 0.0 => None,
        (h, j) if j > h => Some(Format::Json),
        _ => Some(Format::Html),
    }
}

/// The weight `accept` gives to `ty/sub`: the q of the most specific matching range, 0 if none.
fn quality(accept: &str, ty: &str, sub: &str) -> f32 {
    let mut best: Option<(u8, f32)> = None; // (specificity, q)
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let Some((rt, rs)) = media.split_once('/') else {
            continue;
        };
        let (rt, rs) = (rt.trim(), rs.trim());
        let specificity = match (rt, rs) {
            ("*", "*") => 1,
            (t, "*") if t.eq_ignore_ascii_case(ty) => 2,
            (t, s) if t.eq_ignore_ascii_case(ty) && s.eq_ignore_ascii_case(sub) => 3,
            _ => continue,
        };
        let mut q = 1.0f32;
        for param in parts {
            if let Some((k, v)) = param.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    q = v
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .unwrap_or(0.0);
                }
            }
        }
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Format::*;

    #[test]
    fn browsers_get_html_and_api_clients_json() {
        assert_eq!(choose(None), Some(Html));
        assert_eq!(choose(Some("")), Some(Html));
        assert_eq!(choose(Some("*/*")), Some(Html));
        assert_eq!(
            choose(Some(
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
            )),
            Some(Html)
        );
        assert_eq!(choose(Some("application/json")), Some(Json));
        assert_eq!(choose(Some("APPLICATION/JSON")), Some(Json));
        assert_eq!(choose(Some("application/*")), Some(Json));
    }

    #[test]
    fn q_values_decide() {
        assert_eq!(
            choose(Some("text/html;q=0.5, application/json")),
            Some(Json)
        );
        assert_eq!(
            choose(Some("text/html, application/json;q=0.9")),
            Some(Html)
        );
        assert_eq!(
            choose(Some("application/json;q=0.9, */*;q=0.1")),
            Some(Json)
        );
        // the most specific range wins: html is explicitly refused
        assert_eq!(choose(Some("text/html;q=0, */*")), Some(Json));
    }

    #[test]
    fn nothing_acceptable_or_garbage() {
        assert_eq!(choose(Some("image/png")), None);
        assert_eq!(choose(Some("*/*;q=0")), None);
        assert_eq!(choose(Some("text/html;q=abc")), None);
        assert_eq!(choose(Some(",,;;//")), None);
        assert_eq!(choose(Some("application/json;q=2")), None);
    }
}
