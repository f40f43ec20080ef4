//! Micro-benchmarks of the per-request work superpower does besides the network: the ring
//! lookup, the ring's rebuild at 3 to 300 members, the identity cookie, the HTML and JSON
//! renders, a powersource answer decoded and rendered against the prepared one, and the
//! signed `superpower_last` cookie (the fallback) with and without the live promises.
//! Run with `cargo bench -p superpower --bench micro` (`bench/run.sh` runs it and reports it).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue, StatusCode};
use superpower::identity::Identity;
use superpower::model::{Answer, Character};
use superpower::render::html;
use superpower::ring::RouteRing;

fn keys(n: u32) -> Vec<[u8; 16]> {
    (0..n)
        .map(|i| {
            u128::from(i)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834)
                .to_be_bytes()
        })
        .collect()
}

fn character() -> Character {
    Character {
        id: 1_010_281,
        name: "Dara Ibáñez".into(),
        description: "Dara Ibáñez survived a flood in a sealed laboratory under Marisól Bay, and can \
                      now pull the heat out of the air. Believes the world would be quieter \
                      without heroes, and means to make it so."
            .into(),
        learn_more_url: Some(
            "https://www.superpower-sample.example/characters/1010281/dara-ibanez?utm_source=sample"
                .into(),
        ),
    }
}

fn ring(c: &mut Criterion) {
    let members: Vec<Arc<String>> = (0..3)
        .map(|i| Arc::new(format!("127.0.0.1:{}", 7001 + i)))
        .collect();
    let ring = RouteRing::build(members);
    let keys = keys(1024);
    let mut i = 0;
    c.bench_function("ring/candidates", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(ring.candidates(black_box(&keys[i])))
        })
    });
}

/// The ring members' counts whose rebuild (`RouteRing::build`, on every membership or health
/// change) is measured: how its cost grows.
const REBUILD_SIZES: [u32; 5] = [3, 10, 30, 100, 300];

fn ring_build(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    // a 300-member rebuild takes long enough that criterion's default 100 samples would not fit
    g.sample_size(10);
    for n in REBUILD_SIZES {
        let members: Vec<Arc<String>> = (0..n)
            .map(|i| Arc::new(format!("10.0.{}.{}:6061", i / 250, i % 250)))
            .collect();
        g.bench_function(format!("build_{n}"), |b| {
            b.iter(|| black_box(RouteRing::build(black_box(members.clone()))))
        });
    }
    g.finish();
}

fn identity(c: &mut Criterion) {
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        HeaderValue::from_static("theme=dark; superpower_id=XNwPQkGGHGNbxj3zkk0WGw"),
    );
    c.bench_function("identity/from_headers", |b| {
        b.iter(|| black_box(Identity::from_headers(black_box(&headers))))
    });
}

fn render(c: &mut Criterion) {
    let ch = character();
    c.bench_function("render/html_character_page", |b| {
        b.iter(|| black_box(html::character_page(black_box(&ch), false)))
    });
    c.bench_function("render/json_answer", |b| {
        b.iter(|| {
            let ch = black_box(&ch);
            black_box(service::http::body::json(
                StatusCode::OK,
                &Answer::of(ch, Some("127.0.0.1:7001")),
            ))
        })
    });
}

/// What an answer to a returning user costs besides the network, without and with the live
/// promises: reading and verifying their signed `superpower_last` cookie and signing it again
/// (a changed character), alone (`--no-promise-tracking`), and with the identity check and the
/// answer's latency bucket (as shipped).
fn promises(c: &mut Criterion) {
    use service::promise::{ID_COOKIE, LAST_COOKIE};
    use std::time::Duration;
    use superpower::identity::UserId;
    use superpower::promises::Promises;
    use superpower::remembered::{CookieKey, Keys};

    let ch = Arc::new(character());
    let keys = Keys::new(Some(&CookieKey::from_hex(&"ab".repeat(32)).unwrap()), None);
    let users: Vec<(UserId, http::HeaderMap)> = (0..1024)
        .map(|_| {
            let user = UserId::random();
            let mut h = http::HeaderMap::new();
            let cookie = format!(
                "{ID_COOKIE}={user}; {LAST_COOKIE}={}",
                keys.sign(&user, ch.id)
            );
            h.insert(http::header::COOKIE, cookie.parse().unwrap());
            (user, h)
        })
        .collect();
    c.bench_function("promises/sign", |b| {
        b.iter(|| keys.set_cookie(black_box(&users[0].0), black_box(ch.id)))
    });
    let off = Promises::new(false);
    let on = Promises::new(true);
    for (id, p) in [
        ("promises/recall_untracked", &off),
        ("promises/recall_tracked", &on),
    ] {
        let mut u = 0;
        c.bench_function(id, |b| {
            b.iter(|| {
                u = (u + 1) % users.len();
                let (user, headers) = &users[u];
                let previous = keys.recall(black_box(headers), user).map(|r| r.id);
                p.identity(previous, ch.id);
                p.answered(StatusCode::OK, black_box(Duration::from_micros(850)));
            })
        });
    }
}

/// A powersource answer to `GET /` as superpower serves it: decoded and rendered (as before
/// prepared answers, and on a miss), against the prepared answer found by its bytes (a hit).
fn answers(c: &mut Criterion) {
    use service::api::CharacterView;
    use service::http::body::full;
    use superpower::answers::Answers;

    let ch = character();
    let body = serde_json::to_vec(&CharacterView {
        id: ch.id,
        name: ch.name.clone(),
        description: ch.description.clone(),
        image_url: format!("/characters/{}/image", ch.id),
        learn_more_url: ch.learn_more_url.clone(),
    })
    .unwrap();
    let instance = "powersource-1";
    let header = "x-superpower-instance";
    let decode = |b: &[u8]| serde_json::from_slice::<CharacterView>(b);
    let fresh = |html: bool| {
        let view: CharacterView = serde_json::from_slice(black_box(&body)).unwrap();
        let instance = black_box(instance).to_owned();
        let c = Arc::new(Character::from(view));
        let mut resp = if html {
            full(
                StatusCode::OK,
                "text/html; charset=utf-8",
                html::character_page(&c, false),
            )
        } else {
            service::http::body::json(StatusCode::OK, &Answer::of(&c, Some(&instance)))
        };
        resp.headers_mut()
            .insert(header, HeaderValue::from_str(&instance).unwrap());
        (c, resp)
    };
    c.bench_function("render/answer_decode_json", |b| {
        b.iter(|| black_box(fresh(false)))
    });
    c.bench_function("render/answer_decode_html", |b| {
        b.iter(|| black_box(fresh(true)))
    });
    let answers = Answers::new(8 << 20);
    let cached = |html: bool| {
        let p = answers
            .prepare(black_box(&body), black_box(instance), decode, |e| e)
            .unwrap();
        let mut resp = if html {
            full(StatusCode::OK, "text/html; charset=utf-8", p.html())
        } else {
            full(StatusCode::OK, "application/json", p.json())
        };
        resp.headers_mut()
            .insert(header, p.instance_header().unwrap().clone());
        (p.character().clone(), resp)
    };
    c.bench_function("render/answer_cached_json", |b| {
        b.iter(|| black_box(cached(false)))
    });
    c.bench_function("render/answer_cached_html", |b| {
        b.iter(|| black_box(cached(true)))
    });
}

criterion_group!(benches, ring, ring_build, identity, render, answers, promises);
criterion_main!(benches);
