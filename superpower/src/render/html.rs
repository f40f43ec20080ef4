//! The HTML pages, rendered with maud (escaped by construction). No external fonts, scripts or
//! CDNs: a demo often runs offline.

use maud::{html, Markup, DOCTYPE};

use crate::model::Character;

fn layout(title: &str, body: Markup) -> Markup {
    layout_with(title, None, body)
}

/// The page frame; `script` is a same-origin script to load (deferred).
fn layout_with(title: &str, script: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/static/superpower.css";
                @if let Some(src) = script {
                    script src=(src) defer {}
                }
            }
            body { (body) }
        }
    }
}

/// "You are NAME!": the character's image as the page background, the description, and a
/// "Learn more!" link when there is one and it is a web link (`http`/`https`). `degraded` adds
/// a notice that the answer came from the last-known-good cache.
pub fn character_page(c: &Character, degraded: bool) -> String {
    let body = html! {
        img.background src=(c.image_url()) alt="";
        main.card {
            @if degraded {
                p.notice role="status" { "Our power sources are resting: this is your superpower as we last saw it." }
            }
            h1 { "You are " span.name { (c.name) } "!" }
            @if c.description.trim().is_empty() {
                p.description.empty { "Your powers are a mystery, even to you." }
            } @else {
                p.description { (c.description) }
            }
            img.portrait src=(c.image_url()) alt=(c.name);
            @if let Some(url) = c.learn_more_url.as_deref().and_then(web_link) {
                p { a.learn-more href=(url) rel="noopener noreferrer external" target="_blank" { "Learn more!" } }
            }
        }
    };
    layout(&format!("You are {}!", c.name), body).into_string()
}

/// `url` when it is an absolute `http://` or `https://` link (scheme in any case), else `None`:
/// the dataset's "learn more" URL comes from outside, and another scheme (`javascript:`,
/// `data:`) in an `href` would run or show content of the dataset's choosing on a click.
fn web_link(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    (web && !rest.is_empty() && !rest.starts_with('/')).then_some(url)
}

/// The promises panel, filled and kept current by `/static/promises.js` from
/// `/promises.json`: one card per promise (its status, figures and charts), then the traffic
/// and the ring.
pub fn promises_panel() -> Markup {
    html! {
        section #promises .promises aria-live="polite" {
            div.promise #promise-identity data-status="idle" {
                h2 { "Promise 1: the same superpower every visit" }
                p.verdict { "waiting for figures" }
                p.figures {}
                div.chart data-chart="kept" {}
            }
            div.promise #promise-latency data-status="idle" {
                h2 { "Promise 2: in under a second" }
                p.verdict { "waiting for figures" }
                p.figures {}
                div.chart data-chart="latency" {}
            }
            div.promise #traffic data-status="info" {
                h2 { "Traffic and fleet" }
                p.figures {}
                div.chart data-chart="answers" {}
                div.chart data-chart="ring" {}
                ul #replica-lines .replicas hidden {}
            }
        }
    }
}

/// `/promises`: the promises panel alone, read-only, for the audience's screen.
pub fn promises_page() -> String {
    let body = html! {
        main.card.admin {
            h1 { "The promises, live" }
            (promises_panel())
        }
    };
    layout_with(
        "superpower — the promises",
        Some("/static/promises.js"),
        body,
    )
    .into_string()
}

/// The 503 page for a user superpower has never seen while no instance can answer.
pub fn unavailable_page() -> String {
    let body = html! {
        main.card {
            h1 { "Your superpower is on its way" }
            p.description { "No power source can answer right now. Please try again in a few seconds." }
        }
    };
    layout("Superpower unavailable", body).into_string()
}

/// A plain page for 404 and 406.
pub fn message_page(title: &str, message: &str) -> String {
    layout(
        title,
        html! { main.card { h1 { (title) } p.description { (message) } } },
    )
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions_are_escaped() {
        let c = Character {
            id: 7,
            name: "<script>alert(1)</script>".into(),
            description: "\"quoted\" & <b>bold</b>".into(),
            learn_more_url: Some("javascript:alert(1)\" onclick=\"x".into()),
        };
        let page = character_page(&c, false);
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("&quot;quoted&quot; &amp; &lt;b&gt;"));
        assert!(!page.contains("\" onclick=\"x"));
    }

    #[test]
    fn only_web_links_are_rendered() {
        let page = |url: &str| {
            character_page(
                &Character {
                    id: 7,
                    name: "N".into(),
                    description: String::new(),
                    learn_more_url: Some(url.into()),
                },
                false,
            )
        };
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "//evil.example/x",
            "http:/x",
            "ftp://x/y",
            "",
        ] {
            let html = page(bad);
            assert!(!html.contains("Learn more"), "{bad:?} gave a link");
        }
        for good in [
            "https://example.com/a?b=1&c=2",
            "http://example.com",
            "HTTPS://x.y/z",
        ] {
            assert!(page(good).contains("Learn more!"), "{good}");
        }
    }

    #[test]
    fn the_page_shows_the_character() {
        let c = Character {
            id: 1011,
            name: "Zoë Quasar".into(),
            description: "Bends light.".into(),
            learn_more_url: None,
        };
        let page = character_page(&c, true);
        assert!(page.contains("Zoë Quasar"));
        assert!(page.contains("Bends light."));
        assert!(page.contains("/images/1011"));
        assert!(!page.contains("Learn more"));
        assert!(page.contains("as we last saw it"));
    }
}
