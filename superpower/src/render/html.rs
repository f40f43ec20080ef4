//! The HTML pages, rendered with maud (escaped by construction). No external fonts, scripts or
//! CDNs: a demo often runs offline.

use maud::{html, Markup, DOCTYPE};

use crate::model::Character;

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/static/superpower.css";
            }
            body { (body) }
        }
    }
}

/// "You are NAME!": the character's image as the page background, the description, and a
/// "Learn more!" link when there is one. `degraded` adds a notice that the answer came from the
/// last-known-good cache.
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
            @if let Some(url) = &c.learn_more_url {
                p { a.learn-more href=(url) rel="noopener noreferrer external" target="_blank" { "Learn more!" } }
            }
        }
    };
    layout(&format!("You are {}!", c.name), body).into_string()
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
