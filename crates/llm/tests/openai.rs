//! OpenAI Chat Completions against a local server speaking the real wire format; request and
//! response shapes are checked against `specs/openai_openapi.json`.

// Fixture builders take owned `json!` values so call sites read like the wire format.
#![allow(clippy::needless_pass_by_value)]

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use common::schema::Spec;
use common::{collect, json, raw};
use futures_util::StreamExt;
use kav_llm::openai::{OpenAiChat, OpenAiConfig};
use kav_llm::{ChatModel, Error, FinishReason, Message, Provider, TimeoutPhase, Timeouts};
use kav_testkit::{Ending, FakeServer, Recorded, split_at_bytes, sse};
use serde_json::{Value, json};

const KEY: &str = "sk-test-0123456789abcdef";
const HEBREW_REPLY: &str = "שלום! אנחנו פתוחים מ־8:00 עד 20:00. 🥖";

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(Spec::openai)
}

fn messages() -> Vec<Message> {
    vec![
        Message::system("את עוזרת טלפונית של מאפייה. Answer briefly."),
        Message::assistant("שלום, במה אפשר לעזור?"),
        Message::user("מה שעות הפתיחה?"),
    ]
}

fn completion(content: Value, refusal: Value, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-AbC123",
        "object": "chat.completion",
        "created": 1_731_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
            "logprobs": null,
            "finish_reason": finish
        }],
        "usage": {
            "prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_0ba0d124f1"
    })
}

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-AbC123",
        "object": "chat.completion.chunk",
        "created": 1_731_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        "obfuscation": "x1"
    })
}

fn api_error(message: &str, kind: &str, param: Value, code: Value) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}

/// The SSE body of a streamed reply: role chunk, one chunk per piece, finish chunk, `[DONE]`,
/// with CRLF line endings and a keep-alive comment.
fn sse_body(pieces: &[&str], finish: Option<&str>, done: bool) -> String {
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
    )];
    events.extend(pieces.iter().map(|p| chunk(json!({"content": p}), None)));
    if let Some(f) = finish {
        events.push(chunk(json!({}), Some(f)));
    }
    let mut body = String::from(": keep-alive\r\n\r\n");
    for e in &events {
        spec()
            .check("CreateChatCompletionStreamResponse", e)
            .expect("stream fixtures follow the spec");
        body.push_str(&format!("data: {e}\r\n\r\n"));
    }
    if done {
        body.push_str("data: [DONE]\r\n\r\n");
    }
    body
}

/// Checks a request the way the real API would: the body against `CreateChatCompletionRequest`.
fn validate(request: &Recorded) -> Option<Response> {
    let reject = |message: String| {
        json(
            StatusCode::BAD_REQUEST,
            &api_error(&message, "invalid_request_error", Value::Null, Value::Null),
        )
    };
    match serde_json::from_slice::<Value>(&request.body) {
        Err(e) => Some(reject(e.to_string())),
        Ok(body) => spec()
            .check("CreateChatCompletionRequest", &body)
            .err()
            .map(reject),
    }
}

async fn openai_server<F>(respond: F) -> FakeServer
where
    F: Fn(&Recorded) -> Response + Send + Sync + 'static,
{
    let respond = Arc::new(respond);
    FakeServer::start(move |request: Recorded| {
        let respond = respond.clone();
        async move {
            if request.path != "/v1/chat/completions" {
                return json(
                    StatusCode::NOT_FOUND,
                    &api_error(
                        "Invalid URL",
                        "invalid_request_error",
                        Value::Null,
                        Value::Null,
                    ),
                );
            }
            if let Some(response) = validate(&request) {
                return response;
            }
            respond(&request)
        }
    })
    .await
}

fn model(server: &FakeServer) -> OpenAiChat {
    model_with(server, Timeouts::default())
}

fn model_with(server: &FakeServer, timeouts: Timeouts) -> OpenAiChat {
    OpenAiChat::new(
        OpenAiConfig::new(KEY)
            .with_base_url(format!("{}/v1", server.base()))
            .with_model("gpt-4o-mini")
            .with_temperature(0.4)
            .with_max_tokens(200)
            .with_timeouts(timeouts),
    )
    .unwrap()
}

#[test]
fn the_checker_rejects_what_the_api_rejects() {
    let ok = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    spec().check("CreateChatCompletionRequest", &ok).unwrap();
    for bad in [
        json!({"messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "m", "messages": []}),
        json!({"model": "m", "messages": [{"role": "caller", "content": "hi"}]}),
        json!({"model": "m", "messages": [{"role": "user"}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_output_tokens": 5}),
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 3}),
        json!({"model": "m", "messages": [{"role": "user", "content": "hi", "extra": 1}]}),
    ] {
        assert!(
            spec().check("CreateChatCompletionRequest", &bad).is_err(),
            "{bad}"
        );
    }
    spec()
        .check(
            "CreateChatCompletionResponse",
            &completion(json!("x"), Value::Null, "stop"),
        )
        .unwrap();
    assert!(
        spec()
            .check(
                "CreateChatCompletionResponse",
                &completion(json!("x"), Value::Null, "done")
            )
            .is_err()
    );
}

#[tokio::test]
async fn reply_sends_a_valid_request_and_reads_the_answer() {
    let server = openai_server(|_| {
        let body = completion(json!(HEBREW_REPLY), Value::Null, "stop");
        spec().check("CreateChatCompletionResponse", &body).unwrap();
        json(StatusCode::OK, &body)
    })
    .await;
    let reply = model(&server).reply(&messages()).await.unwrap();
    assert_eq!(reply.text, HEBREW_REPLY);
    assert_eq!(reply.finish, FinishReason::Stop);

    let request = server.only_request();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.header("authorization"),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(
        body,
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "את עוזרת טלפונית של מאפייה. Answer briefly."},
                {"role": "assistant", "content": "שלום, במה אפשר לעזור?"},
                {"role": "user", "content": "מה שעות הפתיחה?"}
            ],
            "temperature": 0.4,
            "max_completion_tokens": 200
        })
    );
}

#[tokio::test]
async fn length_finish_is_reported() {
    let server = openai_server(|_| {
        json(
            StatusCode::OK,
            &completion(json!("חצי תשו"), Value::Null, "length"),
        )
    })
    .await;
    let reply = model(&server).reply(&messages()).await.unwrap();
    assert_eq!(reply.finish, FinishReason::Length);
}

#[tokio::test]
async fn provider_errors_carry_status_code_and_message() {
    let cases = [
        (
            StatusCode::UNAUTHORIZED,
            api_error(
                "Incorrect API key provided: sk-test-***cdef. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                Value::Null,
                json!("invalid_api_key"),
            ),
            Some("invalid_api_key"),
        ),
        (
            StatusCode::BAD_REQUEST,
            api_error(
                "Invalid 'messages[2].content': string too long.",
                "invalid_request_error",
                json!("messages[2].content"),
                json!("string_above_max_length"),
            ),
            Some("string_above_max_length"),
        ),
        (
            StatusCode::TOO_MANY_REQUESTS,
            api_error(
                "Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
                "requests",
                Value::Null,
                json!("rate_limit_exceeded"),
            ),
            Some("rate_limit_exceeded"),
        ),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            api_error(
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                Value::Null,
                Value::Null,
            ),
            Some("server_error"),
        ),
    ];
    for (status, body, code) in cases {
        spec().check("ErrorResponse", &body).unwrap();
        let expected_message = body["error"]["message"].as_str().unwrap().to_owned();
        let server = openai_server(move |_| json(status, &body)).await;
        let m = model(&server);
        let err = m.reply(&messages()).await.unwrap_err();
        match &err {
            Error::Api {
                provider,
                status: s,
                code: c,
                message,
            } => {
                assert_eq!(*provider, Provider::OpenAi);
                assert_eq!(*s, status.as_u16());
                assert_eq!(c.as_deref(), code);
                assert_eq!(message, &expected_message);
            }
            other => panic!("expected Api error, got {other:?}"),
        }
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("OpenAI API error (HTTP {})", status.as_u16())),
            "{shown}"
        );
        assert!(!shown.contains(KEY) && !format!("{err:?}").contains(KEY));
        assert_eq!(err.is_retryable(), status.as_u16() >= 429);

        // The stream form reports the same error as its first item.
        let (text, err) = collect(m.reply_stream(&messages())).await;
        assert!(text.is_empty());
        assert_eq!(err.unwrap().status(), Some(status.as_u16()));
    }
}

#[tokio::test]
async fn an_echoed_key_is_redacted_and_non_json_errors_are_kept_short() {
    let server = openai_server(|_| {
        json(
            StatusCode::UNAUTHORIZED,
            &api_error(
                &format!("Incorrect API key provided: {KEY}."),
                "invalid_request_error",
                Value::Null,
                json!("invalid_api_key"),
            ),
        )
    })
    .await;
    let err = model(&server).reply(&messages()).await.unwrap_err();
    assert!(!err.to_string().contains(KEY), "{err}");
    assert!(err.to_string().contains("[REDACTED]"));

    let server = openai_server(|_| {
        raw(
            StatusCode::BAD_GATEWAY,
            "text/html",
            "<html>502 Bad Gateway</html>".repeat(100),
        )
    })
    .await;
    let err = model(&server).reply(&messages()).await.unwrap_err();
    match err {
        Error::Api {
            status: 502,
            message,
            code: None,
            ..
        } => {
            assert!(message.starts_with("<html>502") && message.len() <= 500);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn malformed_json_and_wrong_shapes_are_invalid_responses() {
    for body in [
        "{\"choices\": [",
        "not json at all",
        "{\"object\": \"chat.completion\"}",
        "{\"choices\": []}",
    ] {
        let server = openai_server(move |_| raw(StatusCode::OK, "application/json", body)).await;
        let err = model(&server).reply(&messages()).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidResponse {
                    provider: Provider::OpenAi,
                    ..
                }
            ),
            "{body}: {err:?}"
        );
    }
}

#[tokio::test]
async fn refusals_and_content_filter_are_refused() {
    let server = openai_server(|_| {
        let body = completion(
            Value::Null,
            json!("I'm sorry, I can't help with that."),
            "stop",
        );
        spec().check("CreateChatCompletionResponse", &body).unwrap();
        json(StatusCode::OK, &body)
    })
    .await;
    let err = model(&server).reply(&messages()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Refused { provider: Provider::OpenAi, reason } if reason.contains("can't help")),
        "{err:?}"
    );

    let server = openai_server(|_| {
        json(
            StatusCode::OK,
            &completion(json!(""), Value::Null, "content_filter"),
        )
    })
    .await;
    let err = model(&server).reply(&messages()).await.unwrap_err();
    assert!(matches!(&err, Error::Refused { reason, .. } if reason == "content_filter"));

    // Streamed refusal.
    let server = openai_server(|_| {
        let mut body = String::new();
        for e in [
            chunk(
                json!({"role": "assistant", "content": null, "refusal": ""}),
                None,
            ),
            chunk(json!({"refusal": "I'm sorry, "}), None),
            chunk(json!({"refusal": "I can't help with that."}), None),
            chunk(json!({}), Some("stop")),
        ] {
            spec()
                .check("CreateChatCompletionStreamResponse", &e)
                .unwrap();
            body.push_str(&format!("data: {e}\n\n"));
        }
        body.push_str("data: [DONE]\n\n");
        sse(vec![body.into_bytes()], Ending::Close)
    })
    .await;
    let (text, err) = collect(model(&server).reply_stream(&messages())).await;
    assert!(text.is_empty());
    assert!(
        matches!(err, Some(Error::Refused { reason, .. }) if reason == "I'm sorry, I can't help with that.")
    );
}

#[tokio::test]
async fn slow_answers_hit_the_first_byte_and_whole_timeouts() {
    let server = openai_server(|_| {
        json(
            StatusCode::OK,
            &completion(json!("late"), Value::Null, "stop"),
        )
    })
    .await;
    // A server that never answers in time (the answer waits 30 s), and one whose body drips.
    let (slow, first_byte, whole) = common::check_timeouts(
        model_with,
        &messages(),
        &completion(json!("late"), Value::Null, "stop"),
        Provider::OpenAi,
    )
    .await;
    let (_, err) = collect(model_with(&slow, first_byte).reply_stream(&messages())).await;
    assert!(
        matches!(
            err,
            Some(Error::Timeout {
                phase: TimeoutPhase::FirstByte,
                ..
            })
        ),
        "{err:?}"
    );

    // The fast server still works with the same settings.
    assert_eq!(
        model_with(&server, whole)
            .reply(&messages())
            .await
            .unwrap()
            .text,
        "late"
    );
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let port = kav_testkit::closed_port();
    let m = OpenAiChat::new(
        OpenAiConfig::new(KEY).with_base_url(format!("http://127.0.0.1:{port}/v1")),
    )
    .unwrap();
    let err = m.reply(&messages()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                provider: Provider::OpenAi,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn stream_reassembles_hebrew_split_at_any_byte() {
    let pieces = ["שלום", "! אנחנו ", "פתוחים", " מ־8:00 ", "עד 20:00. ", "🥖"];
    let body = sse_body(&pieces, Some("stop"), true);
    for sizes in [
        vec![1],
        vec![2, 3],
        vec![5, 7, 11],
        vec![64],
        vec![body.len()],
    ] {
        let chunks = split_at_bytes(&body, &sizes);
        let server = openai_server(move |_| sse(chunks.clone(), Ending::Close)).await;
        let m = model(&server);
        let conversation = messages();
        let mut stream = m.reply_stream(&conversation);
        let mut tokens = Vec::new();
        while let Some(t) = stream.next().await {
            tokens.push(t.unwrap());
        }
        assert_eq!(tokens, pieces, "chunk sizes {sizes:?}");
        let request = server.only_request();
        assert_eq!(request.json()["stream"], true);
        assert_eq!(request.header("accept"), Some("text/event-stream"));
    }
}

#[tokio::test]
async fn a_stream_cut_off_in_the_middle_is_an_error() {
    // The body ends cleanly but without a finish reason or [DONE].
    let body = sse_body(&["שלום", " לך"], None, false);
    let server = openai_server(move |_| sse(vec![body.clone().into_bytes()], Ending::Close)).await;
    let (text, err) = collect(model(&server).reply_stream(&messages())).await;
    assert_eq!(text, "שלום לך");
    assert!(
        matches!(
            err,
            Some(Error::Truncated {
                provider: Provider::OpenAi
            })
        ),
        "{err:?}"
    );

    // The connection drops in the middle of an event.
    let body = sse_body(&["שלום", " לך"], Some("stop"), true);
    let cut = body.as_bytes()[..body.len() / 2].to_vec();
    let server = openai_server(move |_| sse(vec![cut.clone()], Ending::Abort)).await;
    let (_, err) = collect(model(&server).reply_stream(&messages())).await;
    assert!(
        matches!(err, Some(Error::Transport { .. } | Error::Truncated { .. })),
        "{err:?}"
    );

    // The body ends cleanly in the middle of an event.
    let cut = body.as_bytes()[..body.len() - 20].to_vec();
    let server = openai_server(move |_| sse(vec![cut.clone()], Ending::Close)).await;
    let (_, err) = collect(model(&server).reply_stream(&messages())).await;
    assert!(matches!(err, Some(Error::Truncated { .. })), "{err:?}");
}

#[tokio::test]
async fn a_finished_stream_without_done_is_complete() {
    let body = sse_body(&["כן"], Some("stop"), false);
    let server = openai_server(move |_| sse(vec![body.clone().into_bytes()], Ending::Close)).await;
    let (text, err) = collect(model(&server).reply_stream(&messages())).await;
    assert_eq!(text, "כן");
    assert!(err.is_none(), "{err:?}");
}

#[tokio::test]
async fn error_events_mid_stream_are_errors() {
    let mut body = sse_body(&["שלום"], None, false);
    body.push_str(
        "data: {\"error\": {\"message\": \"The server had an error while processing your request.\", \"type\": \"server_error\", \"param\": null, \"code\": null}}\n\n",
    );
    let server = openai_server(move |_| sse(vec![body.clone().into_bytes()], Ending::Close)).await;
    let (text, err) = collect(model(&server).reply_stream(&messages())).await;
    assert_eq!(text, "שלום");
    match err {
        Some(Error::StreamEvent {
            provider: Provider::OpenAi,
            code,
            message,
        }) => {
            assert_eq!(code.as_deref(), Some("server_error"));
            assert!(message.starts_with("The server had an error"));
        }
        other => panic!("{other:?}"),
    }

    // Malformed JSON in an event.
    let server =
        openai_server(|_| sse(vec![b"data: {\"choices\": [\n\n".to_vec()], Ending::Close)).await;
    let (_, err) = collect(model(&server).reply_stream(&messages())).await;
    assert!(
        matches!(err, Some(Error::InvalidResponse { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_idle_stream_times_out() {
    let body = sse_body(&["שלום"], None, false);
    let server = openai_server(move |_| {
        sse(
            vec![body.clone().into_bytes()],
            Ending::Stall(Duration::from_secs(30)),
        )
    })
    .await;
    common::check_idle_stream_times_out(model_with, &server, &messages(), "שלום").await;
}

#[tokio::test]
async fn azure_uses_deployment_path_api_key_header_and_api_version() {
    let server = FakeServer::start(|request: Recorded| async move {
        let ok = request.path == "/openai/deployments/gpt4o-mini-prod/chat/completions"
            && request.query.as_deref() == Some("api-version=2024-10-21")
            && request.header("api-key") == Some(KEY)
            && request.header("authorization").is_none();
        if !ok {
            return json(
                StatusCode::NOT_FOUND,
                &json!({"error": {"code": "404", "message": "Resource not found"}}),
            );
        }
        if let Some(response) = validate(&request) {
            return response;
        }
        json(
            StatusCode::OK,
            &completion(json!("Azure שלום"), Value::Null, "stop"),
        )
    })
    .await;
    let config = OpenAiConfig::azure(server.base(), "gpt4o-mini-prod", "2024-10-21", KEY).unwrap();
    let m = OpenAiChat::new(config).unwrap();
    assert_eq!(m.reply(&messages()).await.unwrap().text, "Azure שלום");
    assert_eq!(server.only_request().json()["model"], "gpt4o-mini-prod");

    let wrong =
        OpenAiChat::new(OpenAiConfig::azure(server.base(), "other", "2024-10-21", KEY).unwrap())
            .unwrap();
    let err = wrong.reply(&messages()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 404, code: Some(c), message, .. } if c == "404" && message == "Resource not found"),
        "{err:?}"
    );
}

#[tokio::test]
async fn servers_without_keys_and_injected_clients() {
    // A local OpenAI-compatible server (Ollama, vLLM) with no key: no Authorization header.
    let server = openai_server(|request| {
        assert!(request.header("authorization").is_none());
        assert_eq!(request.header("x-injected"), Some("yes"));
        json(
            StatusCode::OK,
            &completion(json!("ok"), Value::Null, "stop"),
        )
    })
    .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-injected", "yes".parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let m = OpenAiChat::with_client(
        OpenAiConfig::default()
            .with_base_url(format!("{}/v1", server.base()))
            .with_model("llama3.2"),
        client,
    )
    .unwrap();
    assert_eq!(m.reply(&[Message::user("hi")]).await.unwrap().text, "ok");
}

#[tokio::test]
async fn dropped_requests_leave_the_model_usable() {
    let server = FakeServer::start(|request: Recorded| async move {
        if request.json()["messages"][0]["content"] == "slow" {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        json(
            StatusCode::OK,
            &completion(json!("fast"), Value::Null, "stop"),
        )
    })
    .await;
    let m: Arc<dyn ChatModel> = Arc::new(model(&server));
    let slow = [Message::user("slow")];
    // Cancel a reply and a stream by dropping them mid-flight.
    assert!(
        tokio::time::timeout(Duration::from_millis(100), m.reply(&slow))
            .await
            .is_err()
    );
    let mut stream = m.reply_stream(&slow);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), stream.next())
            .await
            .is_err()
    );
    drop(stream);
    assert_eq!(
        m.reply(&[Message::user("fast")]).await.unwrap().text,
        "fast"
    );
    assert_eq!(m.provider(), Provider::OpenAi);
}

#[tokio::test]
async fn empty_conversations_are_rejected_before_sending() {
    let server =
        openai_server(|_| json(StatusCode::OK, &completion(json!("x"), Value::Null, "stop"))).await;
    let m = model(&server);
    assert!(matches!(m.reply(&[]).await, Err(Error::EmptyConversation)));
    let (_, err) = collect(m.reply_stream(&[])).await;
    assert!(matches!(err, Some(Error::EmptyConversation)));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn servers_that_ignore_stream_true_still_work() {
    let server = openai_server(|_| {
        json(
            StatusCode::OK,
            &completion(json!("תשובה שלמה"), Value::Null, "stop"),
        )
    })
    .await;
    let (text, err) = collect(model(&server).reply_stream(&messages())).await;
    assert_eq!(text, "תשובה שלמה");
    assert!(err.is_none(), "{err:?}");
}

#[tokio::test]
async fn multi_line_events_comments_and_lf_cr_endings() {
    // One chunk pretty-printed over several `data:` lines, comments between events, and the
    // three line endings (LF, CR, CRLF) mixed.
    let first = serde_json::to_string_pretty(&chunk(json!({"content": "שורה "}), None)).unwrap();
    let mut body = String::from(": OPENROUTER PROCESSING\n\n");
    for line in first.lines() {
        body.push_str(&format!("data: {line}\r"));
    }
    body.push('\r');
    body.push_str(&format!(
        "data: {}\n\n",
        chunk(json!({"content": "שנייה"}), None)
    ));
    body.push_str(": ping\r\n");
    body.push_str(&format!("data: {}\r\n\r\n", chunk(json!({}), Some("stop"))));
    body.push_str("data: [DONE]\n\n");
    let chunks = split_at_bytes(&body, &[3, 1, 4, 1, 5, 9, 2, 6]);
    let server = openai_server(move |_| sse(chunks.clone(), Ending::Close)).await;
    let (text, err) = collect(model(&server).reply_stream(&messages())).await;
    assert_eq!(text, "שורה שנייה");
    assert!(err.is_none(), "{err:?}");
}
