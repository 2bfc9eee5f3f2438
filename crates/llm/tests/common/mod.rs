//! Shared helpers of the provider tests: response builders and a small OpenAPI schema checker
//! (the recording server is `kav_testkit::FakeServer`).
#![allow(dead_code, unreachable_pub)]

pub mod schema;

use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use kav_llm::{ChatModel, Error, Message, Provider, TimeoutPhase, Timeouts, TokenStream};
use kav_testkit::{FakeServer, Reply};
use serde_json::Value;

/// A JSON response.
pub fn json(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// A raw response with a content type.
pub fn raw(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body.into()).into_response()
}

/// Checks both timeouts of the model `model_with` builds: a server answering `body` only after
/// 30 s hits the first-byte timeout (200 ms); an answer whose headers come at once but whose
/// body drips (a byte every 50 ms) hits the whole-request timeout (400 ms). Returns the slow
/// server and the two timeouts.
pub async fn check_timeouts<M: ChatModel>(
    model_with: impl Fn(&FakeServer, Timeouts) -> M,
    messages: &[Message],
    body: &Value,
    provider: Provider,
) -> (FakeServer, Timeouts, Timeouts) {
    let slow =
        FakeServer::replying(Reply::json(200, body).with_delay(Duration::from_secs(30))).await;
    let dripping =
        FakeServer::start(|_| async { kav_testkit::dripping(Duration::from_millis(50)) }).await;
    let first_byte = Timeouts::default().with_first_byte(Duration::from_millis(200));
    let whole = Timeouts::default().with_whole(Duration::from_millis(400));
    for (server, timeouts, phase) in [
        (&slow, first_byte, TimeoutPhase::FirstByte),
        (&dripping, whole, TimeoutPhase::Whole),
    ] {
        let err = model_with(server, timeouts)
            .reply(messages)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Timeout { provider: p, phase: f, .. } if p == provider && f == phase),
            "{phase:?}: {err:?}"
        );
    }
    (slow, first_byte, whole)
}

/// Reads a whole token stream: the text, and the error that ended it (nothing may follow it).
pub async fn collect(mut stream: TokenStream<'_>) -> (String, Option<Error>) {
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(t) => text.push_str(&t),
            Err(e) => {
                assert!(stream.next().await.is_none(), "nothing after an error");
                return (text, Some(e));
            }
        }
    }
    (text, None)
}

/// Checks that a stream from `server`, which goes silent after sending `text`, gives that text
/// and then ends with the idle timeout (300 ms) of the model `model_with` builds.
pub async fn check_idle_stream_times_out<M: ChatModel>(
    model_with: impl Fn(&FakeServer, Timeouts) -> M,
    server: &FakeServer,
    messages: &[Message],
    text: &str,
) {
    let timeouts = Timeouts::default().with_idle(Duration::from_millis(300));
    let (got, err) = collect(model_with(server, timeouts).reply_stream(messages)).await;
    assert_eq!(got, text);
    assert!(
        matches!(
            err,
            Some(Error::Timeout {
                phase: TimeoutPhase::Idle,
                ..
            })
        ),
        "{err:?}"
    );
}
