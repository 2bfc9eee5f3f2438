//! Gemini `generateContent` / `streamGenerateContent?alt=sse` against a local server speaking the
//! documented wire format.

// Fixture builders take owned `json!` values so call sites read like the wire format.
#![allow(clippy::needless_pass_by_value)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use common::{collect, json, raw};
use futures_util::StreamExt;
use kav_llm::gemini::{GeminiChat, GeminiConfig};
use kav_llm::{ChatModel, Error, FinishReason, Message, Provider, Timeouts};
use kav_testkit::{Ending, FakeServer, Recorded, split_at_bytes, sse};
use serde_json::{Value, json};

const KEY: &str = "AIzaSyTest-0123456789";
const MODEL: &str = "gemini-2.5-flash";

const REQUEST_FIELDS: [&str; 7] = [
    "contents",
    "tools",
    "toolConfig",
    "safetySettings",
    "systemInstruction",
    "generationConfig",
    "cachedContent",
];
const GENERATION_CONFIG_FIELDS: [&str; 12] = [
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "thinkingConfig",
];

fn messages() -> Vec<Message> {
    vec![
        Message::system("את עוזרת טלפונית. ענו בקצרה."),
        Message::assistant("שלום, במה אפשר לעזור?"),
        Message::user("מתי אתם פתוחים?"),
    ]
}

fn google_error(code: u16, message: &str, status: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

fn bad_request(message: String) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &google_error(400, &message, "INVALID_ARGUMENT"),
    )
}

fn check_parts(parts: &Value, at: &str) -> Result<(), String> {
    let parts = parts
        .as_array()
        .ok_or(format!("{at}.parts must be an array"))?;
    if parts.is_empty() {
        return Err(format!("{at}.parts must not be empty"));
    }
    for p in parts {
        let obj = p
            .as_object()
            .ok_or(format!("{at}: part must be an object"))?;
        if obj.len() != 1 || !obj.get("text").is_some_and(Value::is_string) {
            return Err(format!("{at}: a text part has exactly `text`: {p}"));
        }
    }
    Ok(())
}

/// Checks a `GenerateContentRequest` the way the API does for the fields this client uses.
fn validate_body(body: &Value) -> Result<(), String> {
    let obj = body.as_object().ok_or("body must be an object")?;
    for key in obj.keys() {
        if !REQUEST_FIELDS.contains(&key.as_str()) {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{key}\""
            ));
        }
    }
    let contents = obj
        .get("contents")
        .and_then(Value::as_array)
        .ok_or("contents is required")?;
    if contents.is_empty() {
        return Err("contents must not be empty".into());
    }
    for (i, c) in contents.iter().enumerate() {
        let role = c.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "user" && role != "model" {
            return Err(format!(
                "contents[{i}].role must be user or model, got {role:?}"
            ));
        }
        check_parts(&c["parts"], &format!("contents[{i}]"))?;
    }
    if let Some(system) = obj.get("systemInstruction") {
        check_parts(&system["parts"], "systemInstruction")?;
    }
    if let Some(config) = obj.get("generationConfig") {
        let config = config
            .as_object()
            .ok_or("generationConfig must be an object")?;
        for key in config.keys() {
            if !GENERATION_CONFIG_FIELDS.contains(&key.as_str()) {
                return Err(format!("Unknown name \"{key}\" at 'generation_config'"));
            }
        }
        if let Some(t) = config.get("temperature") {
            let t = t.as_f64().ok_or("temperature must be a number")?;
            if !(0.0..=2.0).contains(&t) {
                return Err("temperature out of range".into());
            }
        }
        if let Some(m) = config.get("maxOutputTokens") {
            m.as_u64().ok_or("maxOutputTokens must be an integer")?;
        }
    }
    Ok(())
}

/// A server for the `generateContent` (and stream) routes of `MODEL`, checking the key header
/// and the body before calling `respond`.
async fn gemini_server<F>(respond: F) -> FakeServer
where
    F: Fn(&Recorded, bool) -> Response + Send + Sync + 'static,
{
    let respond = Arc::new(respond);
    FakeServer::start(move |request: Recorded| {
        let respond = respond.clone();
        async move {
            let unary = format!("/v1beta/models/{MODEL}:generateContent");
            let stream = format!("/v1beta/models/{MODEL}:streamGenerateContent");
            let streaming = if request.path == unary && request.query.is_none() {
                false
            } else if request.path == stream && request.query.as_deref() == Some("alt=sse") {
                true
            } else {
                return json(
                    StatusCode::NOT_FOUND,
                    &google_error(
                        404,
                        "models/x is not found for API version v1beta",
                        "NOT_FOUND",
                    ),
                );
            };
            if request.header("x-goog-api-key") != Some(KEY) {
                return json(
                    StatusCode::BAD_REQUEST,
                    &google_error(
                        400,
                        "API key not valid. Please pass a valid API key.",
                        "INVALID_ARGUMENT",
                    ),
                );
            }
            let body = match serde_json::from_slice::<Value>(&request.body) {
                Ok(b) => b,
                Err(e) => return bad_request(e.to_string()),
            };
            if let Err(message) = validate_body(&body) {
                return bad_request(message);
            }
            respond(&request, streaming)
        }
    })
    .await
}

fn model(server: &FakeServer) -> GeminiChat {
    model_with(server, Timeouts::default())
}

fn model_with(server: &FakeServer, timeouts: Timeouts) -> GeminiChat {
    GeminiChat::new(
        GeminiConfig::new(KEY)
            .with_base_url(server.base())
            .with_model(MODEL)
            .with_temperature(0.7)
            .with_max_output_tokens(256)
            .with_timeouts(timeouts),
    )
    .unwrap()
}

fn response(parts: &[&str], finish: Option<&str>) -> Value {
    let parts: Vec<Value> = parts.iter().map(|t| json!({"text": t})).collect();
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(f);
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 25, "candidatesTokenCount": 9, "totalTokenCount": 34},
        "modelVersion": MODEL,
        "responseId": "mWkbaZ2-LpGq1dkP0ZqA-Ac"
    })
}

fn sse_body(pieces: &[&str], finish: Option<&str>) -> String {
    let mut body = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        let event = response(&[piece], if last { finish } else { None });
        body.push_str(&format!("data: {event}\r\n\r\n"));
    }
    body
}

#[test]
fn the_checker_rejects_what_the_api_rejects() {
    validate_body(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})).unwrap();
    for bad in [
        json!({}),
        json!({"contents": []}),
        json!({"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]}),
        json!({"contents": [{"role": "user", "parts": []}]}),
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "system_instruction": {}}),
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"max_tokens": 5}}),
    ] {
        assert!(validate_body(&bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn reply_sends_the_documented_request_and_reads_the_answer() {
    let server = gemini_server(|_, streaming| {
        assert!(!streaming);
        json(
            StatusCode::OK,
            &response(&["אנחנו פתוחים ", "מ־8 עד 20."], Some("STOP")),
        )
    })
    .await;
    let reply = model(&server).reply(&messages()).await.unwrap();
    assert_eq!(reply.text, "אנחנו פתוחים מ־8 עד 20.");
    assert_eq!(reply.finish, FinishReason::Stop);

    let request = server.only_request();
    assert_eq!(request.method, "POST");
    assert!(request.header("authorization").is_none());
    assert_eq!(
        request.json(),
        json!({
            "systemInstruction": {"parts": [{"text": "את עוזרת טלפונית. ענו בקצרה."}]},
            "contents": [
                {"role": "model", "parts": [{"text": "שלום, במה אפשר לעזור?"}]},
                {"role": "user", "parts": [{"text": "מתי אתם פתוחים?"}]}
            ],
            "generationConfig": {"temperature": 0.7, "maxOutputTokens": 256}
        })
    );
}

#[tokio::test]
async fn max_tokens_finish_is_reported() {
    let server =
        gemini_server(|_, _| json(StatusCode::OK, &response(&["חצי"], Some("MAX_TOKENS")))).await;
    assert_eq!(
        model(&server).reply(&messages()).await.unwrap().finish,
        FinishReason::Length
    );
}

#[tokio::test]
async fn provider_errors_carry_status_code_and_message() {
    let cases = [
        (
            StatusCode::BAD_REQUEST,
            "API key not valid. Please pass a valid API key.",
            "INVALID_ARGUMENT",
        ),
        (
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            "UNAUTHENTICATED",
        ),
        (
            StatusCode::TOO_MANY_REQUESTS,
            "You exceeded your current quota, please check your plan and billing details.",
            "RESOURCE_EXHAUSTED",
        ),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
            "INTERNAL",
        ),
    ];
    for (status, message, code) in cases {
        let mut body = google_error(status.as_u16(), message, code);
        body["error"]["details"] = json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "X", "domain": "googleapis.com"}]);
        let server = gemini_server(move |_, _| json(status, &body)).await;
        let m = model(&server);
        let err = m.reply(&messages()).await.unwrap_err();
        match &err {
            Error::Api {
                provider,
                status: s,
                code: c,
                message: msg,
            } => {
                assert_eq!(*provider, Provider::Gemini);
                assert_eq!(*s, status.as_u16());
                assert_eq!(c.as_deref(), Some(code));
                assert_eq!(msg, message);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with(&format!("Gemini API error (HTTP {})", status.as_u16()))
        );
        assert!(!format!("{err} {err:?}").contains(KEY));
        let (text, err) = collect(m.reply_stream(&messages())).await;
        assert!(text.is_empty());
        assert_eq!(err.unwrap().status(), Some(status.as_u16()));
    }

    // A wrong key reaches the server's key check.
    let server = gemini_server(|_, _| unreachable!()).await;
    let wrong =
        GeminiChat::new(GeminiConfig::new("AIza-wrong").with_base_url(server.base())).unwrap();
    let err = wrong.reply(&messages()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 400, code: Some(c), .. } if c == "INVALID_ARGUMENT")
    );
}

#[tokio::test]
async fn blocked_prompts_and_replies_are_refused() {
    let server = gemini_server(|_, streaming| {
        let blocked = json!({
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}]},
            "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
            "modelVersion": MODEL
        });
        if streaming {
            sse(
                vec![format!("data: {blocked}\r\n\r\n").into_bytes()],
                Ending::Close,
            )
        } else {
            json(StatusCode::OK, &blocked)
        }
    })
    .await;
    let m = model(&server);
    let err = m.reply(&messages()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Refused { provider: Provider::Gemini, reason } if reason == "prompt blocked: SAFETY"),
        "{err:?}"
    );
    let (_, err) = collect(m.reply_stream(&messages())).await;
    assert!(matches!(err, Some(Error::Refused { .. })), "{err:?}");

    let server = gemini_server(|_, _| {
        json(
            StatusCode::OK,
            &json!({"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "MEDIUM", "blocked": true}]}],
                "modelVersion": MODEL}),
        )
    })
    .await;
    let err = model(&server).reply(&messages()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Refused { reason, .. } if reason == "reply blocked: SAFETY"),
        "{err:?}"
    );
}

#[tokio::test]
async fn malformed_json_is_an_invalid_response() {
    for body in [
        "{\"candidates\": [",
        "<html>oops</html>",
        "{\"candidates\": []}",
        "{\"candidates\": 3}",
    ] {
        let server = gemini_server(move |_, _| raw(StatusCode::OK, "application/json", body)).await;
        let err = model(&server).reply(&messages()).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidResponse {
                    provider: Provider::Gemini,
                    ..
                }
            ),
            "{body}: {err:?}"
        );
    }
}

#[tokio::test]
async fn slow_answers_time_out() {
    common::check_timeouts(
        model_with,
        &messages(),
        &response(&["late"], Some("STOP")),
        Provider::Gemini,
    )
    .await;
}

#[tokio::test]
async fn stream_reassembles_hebrew_split_at_any_byte() {
    let pieces = ["אנחנו ", "פתוחים ", "מ־8 ", "עד 20. ", "🥐"];
    let body = sse_body(&pieces, Some("STOP"));
    for sizes in [vec![1, 2], vec![3, 5, 7], vec![body.len()]] {
        let chunks = split_at_bytes(&body, &sizes);
        let server = gemini_server(move |_, streaming| {
            assert!(streaming);
            sse(chunks.clone(), Ending::Close)
        })
        .await;
        let m = model(&server);
        let conversation = messages();
        let tokens: Vec<String> = m
            .reply_stream(&conversation)
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(tokens, pieces, "{sizes:?}");
        assert_eq!(
            server.only_request().header("accept"),
            Some("text/event-stream")
        );
    }
}

#[tokio::test]
async fn a_stream_without_finish_reason_is_truncated() {
    let body = sse_body(&["אנחנו ", "פתוחים"], None);
    let server =
        gemini_server(move |_, _| sse(vec![body.clone().into_bytes()], Ending::Close)).await;
    let (text, err) = collect(model(&server).reply_stream(&messages())).await;
    assert_eq!(text, "אנחנו פתוחים");
    assert!(
        matches!(
            err,
            Some(Error::Truncated {
                provider: Provider::Gemini
            })
        ),
        "{err:?}"
    );

    let body = sse_body(&["אנחנו ", "פתוחים"], Some("STOP"));
    let cut = body.as_bytes()[..body.len() - 30].to_vec();
    let server = gemini_server(move |_, _| sse(vec![cut.clone()], Ending::Abort)).await;
    let (_, err) = collect(model(&server).reply_stream(&messages())).await;
    assert!(
        matches!(err, Some(Error::Transport { .. } | Error::Truncated { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn stream_errors_blocks_and_idle_timeouts() {
    // An error object in the middle of the stream.
    let mut body = sse_body(&["אנחנו "], None);
    body.push_str(&format!(
        "data: {}\r\n\r\n",
        google_error(
            503,
            "The model is overloaded. Please try again later.",
            "UNAVAILABLE"
        )
    ));
    let server =
        gemini_server(move |_, _| sse(vec![body.clone().into_bytes()], Ending::Close)).await;
    let (text, err) = collect(model(&server).reply_stream(&messages())).await;
    assert_eq!(text, "אנחנו ");
    assert!(
        matches!(&err, Some(Error::StreamEvent { provider: Provider::Gemini, code: Some(c), message })
        if c == "UNAVAILABLE" && message.starts_with("The model is overloaded")),
        "{err:?}"
    );

    // A reply blocked after some text.
    let mut body = sse_body(&["אנחנו "], None);
    body.push_str(&format!(
        "data: {}\r\n\r\n",
        json!({"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}, "finishReason": "RECITATION", "index": 0}]})
    ));
    let server =
        gemini_server(move |_, _| sse(vec![body.clone().into_bytes()], Ending::Close)).await;
    let (_, err) = collect(model(&server).reply_stream(&messages())).await;
    assert!(
        matches!(&err, Some(Error::Refused { reason, .. }) if reason == "reply blocked: RECITATION"),
        "{err:?}"
    );

    // Silence after the first chunk.
    let body = sse_body(&["אנחנו "], None);
    let server = gemini_server(move |_, _| {
        sse(
            vec![body.clone().into_bytes()],
            Ending::Stall(Duration::from_secs(30)),
        )
    })
    .await;
    common::check_idle_stream_times_out(model_with, &server, &messages(), "אנחנו ").await;
}

#[tokio::test]
async fn boxed_models_and_empty_conversations() {
    let server = gemini_server(|_, _| json(StatusCode::OK, &response(&["כן"], Some("STOP")))).await;
    let m: Box<dyn ChatModel> = Box::new(model(&server));
    assert_eq!(m.provider(), Provider::Gemini);
    assert!(matches!(
        m.reply(&[Message::system("only a prompt")]).await,
        Err(Error::EmptyConversation)
    ));
    assert!(server.requests().is_empty());
    assert_eq!(m.reply(&messages()).await.unwrap().text, "כן");
}

#[tokio::test]
async fn a_stream_request_answered_with_plain_json_still_works() {
    let server =
        gemini_server(|_, _| json(StatusCode::OK, &response(&["שלום ", "לכם"], Some("STOP"))))
            .await;
    let (text, err) = collect(model(&server).reply_stream(&messages())).await;
    assert_eq!(text, "שלום לכם");
    assert!(err.is_none(), "{err:?}");
}
