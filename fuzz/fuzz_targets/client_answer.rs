//! superpower's HTTP/1.1 client reading an answer (`superpower::client::replay`): interim
//! answers, the head, the framing (`Content-Length`, `chunked`, the end of the connection) and
//! the body. The first byte picks how many bytes each read delivers, the second the body limit
//! and whether the request was a `HEAD`; the rest is the answer. Invariants: nothing panics; the
//! outcome (status, headers, body, or the kind of error) is the same however the bytes are split
//! into reads; a body is never over the limit; a body framed by `Content-Length` is that long.
#![no_main]

use http::header::CONTENT_LENGTH;
use http::StatusCode;
use libfuzzer_sys::fuzz_target;
use superpower::client::{replay, CallError, Reply};

/// What a replay ended with, comparable across splits.
#[derive(Debug, PartialEq)]
enum Outcome {
    Answer(StatusCode, Vec<(String, Vec<u8>)>, Vec<u8>),
    Refused,
    TooLarge,
}

fn outcome(r: Result<(Reply, bool), CallError>) -> Outcome {
    match r {
        Ok((reply, _)) => Outcome::Answer(
            reply.status,
            reply
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            reply.body.to_vec(),
        ),
        Err(CallError::TooLarge(_)) => Outcome::TooLarge,
        Err(_) => Outcome::Refused,
    }
}

fuzz_target!(|data: &[u8]| {
    let [piece, mode, answer @ ..] = data else {
        return;
    };
    let piece = 1 + usize::from(*piece % 32);
    let limit = [0, 16, 1024, 1 << 20][usize::from(*mode % 4)];
    let head = mode & 4 != 0;

    let whole = replay(answer, usize::MAX, head, limit);
    if let Ok((reply, _)) = &whole {
        assert!(reply.body.len() <= limit, "a body over the limit");
        let no_body = head
            || reply.status == StatusCode::NO_CONTENT
            || reply.status == StatusCode::NOT_MODIFIED;
        if let Some(n) = reply.headers.get(CONTENT_LENGTH) {
            if !no_body {
                let n: usize = std::str::from_utf8(n.as_bytes()).unwrap().parse().unwrap();
                assert_eq!(
                    reply.body.len(),
                    n,
                    "the body as long as its Content-Length"
                );
            } else {
                assert!(reply.body.is_empty());
            }
        }
        assert!(!reply.status.is_informational(), "an interim answer served");
    }
    let whole = outcome(whole);
    for split in [1, piece] {
        assert_eq!(
            outcome(replay(answer, split, head, limit)),
            whole,
            "{split} bytes a read"
        );
    }
});
