//! ElevenLabs provider against a local `/v1/text-to-speech/{voice_id}/stream` server speaking
//! the documented shapes (`xi-api-key`, JSON body, `output_format=ulaw_8000`, raw μ-law
//! streamed in chunks, `{"detail": …}` errors).
#![cfg(feature = "elevenlabs")]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kav_testkit::{FakeServer, broken_body, slow_body};
use kav_tts::{
    ElevenLabsTts, Error, Language, SecretString, SpeechRequest, StreamingTextToSpeech,
    TextToSpeech, VoiceSettings,
};
use serde_json::{Value, json};

const KEY: &str = "xi-test-key-0123";

#[derive(Clone, Copy)]
enum Mode {
    Audio,
    Slow,
    CutOff,
    Stall,
    Validation,
    QuotaExceeded,
    PlainDetail,
    Empty,
}

struct Server {
    mode: Mutex<Mode>,
}

fn mulaw_second() -> Vec<u8> {
    kav_audio_codec::g711::ulaw_encode(&common::tone(8_000, 1.0))
}

async fn stream(
    State(server): State<Arc<Server>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if headers.get("xi-api-key").is_none_or(|v| v != KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})),
        )
            .into_response();
    }
    if body["text"].as_str().is_none_or(str::is_empty) || !query.contains_key("output_format") {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "value_error.missing"}]})),
        )
            .into_response();
    }
    let chunks: Vec<Vec<u8>> = mulaw_second().chunks(1000).map(<[u8]>::to_vec).collect();
    let mode = *server.mode.lock().unwrap();
    match mode {
        Mode::Audio => (
            [("content-type", "audio/basic")],
            slow_body(chunks, Duration::from_millis(2), false),
        )
            .into_response(),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        Mode::CutOff => broken_body(chunks[..3].to_vec()).into_response(),
        Mode::Stall => slow_body(chunks[..2].to_vec(), Duration::ZERO, true).into_response(),
        Mode::Validation => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"detail": [{"loc": ["body", "voice_settings", "speed"], "msg": "ensure this value is less than or equal to 1.2", "type": "value_error.number.not_le"}]})),
        )
            .into_response(),
        Mode::QuotaExceeded => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": {"status": "quota_exceeded", "message": "This request exceeds your quota."}})),
        )
            .into_response(),
        Mode::Empty => ([("content-type", "audio/basic")], Vec::<u8>::new()).into_response(),
        Mode::PlainDetail => (
            StatusCode::NOT_FOUND,
            Json(json!({"detail": "Voice not found"})),
        )
            .into_response(),
    }
}

/// The server's state, the client, and the server (recording what the client sends).
async fn start(mode: Mode) -> (Arc<Server>, ElevenLabsTts, FakeServer) {
    let server = Arc::new(Server {
        mode: Mutex::new(mode),
    });
    let app = Router::new()
        .route("/v1/text-to-speech/{voice_id}/stream", post(stream))
        .with_state(server.clone());
    let fake = FakeServer::router(app).await;
    let tts = ElevenLabsTts::new(SecretString::from(KEY))
        .with_http_client(reqwest::Client::new())
        .with_base_url(fake.base())
        .unwrap()
        .with_timeout(Duration::from_secs(10))
        .with_idle_timeout(Duration::from_secs(5));
    (server, tts, fake)
}

fn hello() -> SpeechRequest {
    SpeechRequest::new("שלום, תודה שהתקשרתם").unwrap()
}

#[tokio::test]
async fn native_mulaw_is_passed_through() {
    let (_server, tts, fake) = start(Mode::Audio).await;
    let audio = tts.synthesize(&hello()).await.unwrap();
    assert_eq!(audio.mulaw(), mulaw_second());
    let sent = fake.last_request();
    assert_eq!(
        sent.path,
        format!(
            "/v1/text-to-speech/{}/stream",
            ElevenLabsTts::DEFAULT_VOICE_ID
        )
    );
    assert_eq!(sent.query.as_deref(), Some("output_format=ulaw_8000"));
    let body = sent.json();
    assert_eq!(body["text"], "שלום, תודה שהתקשרתם");
    assert_eq!(body["model_id"], "eleven_flash_v2_5");
    assert!(body.get("voice_settings").is_none());
    assert!(body.get("language_code").is_none());
}

#[tokio::test]
async fn voice_settings_rate_and_language_code() {
    let (_server, tts, fake) = start(Mode::Audio).await;
    let tts = tts
        .with_model("eleven_multilingual_v2")
        .with_voice_settings(
            VoiceSettings::default()
                .stability(0.5)
                .similarity_boost(0.75),
        )
        .with_language_code(true);
    let req = hello()
        .with_voice("voice/../../etc")
        .with_speaking_rate(1.1)
        .unwrap()
        .with_language(Language::new("he-IL").unwrap());
    // A voice id is one percent-encoded path segment: it cannot climb out of the route.
    tts.synthesize(&req).await.unwrap();
    assert_eq!(
        fake.last_request().path,
        "/v1/text-to-speech/voice%2F..%2F..%2Fetc/stream"
    );
    let req = req.with_voice("pNInz6obpgDQGcFmaJgB");
    tts.synthesize(&req).await.unwrap();
    let sent = fake.last_request();
    assert_eq!(sent.path, "/v1/text-to-speech/pNInz6obpgDQGcFmaJgB/stream");
    let body = sent.json();
    assert_eq!(body["model_id"], "eleven_multilingual_v2");
    assert_eq!(body["language_code"], "he");
    assert_eq!(body["voice_settings"]["stability"], 0.5);
    assert_eq!(body["voice_settings"]["similarity_boost"], 0.75);
    assert!((body["voice_settings"]["speed"].as_f64().unwrap() - 1.1).abs() < 1e-6);
}

#[tokio::test]
async fn streaming_yields_chunks_as_they_come() {
    let (_server, tts, _) = start(Mode::Audio).await;
    let (chunks, all) = common::read_stream(&tts, &hello()).await;
    assert!(chunks > 1);
    assert_eq!(all, mulaw_second());
}

#[tokio::test]
async fn detail_errors_in_all_their_shapes() {
    let (server, tts, fake) = start(Mode::Audio).await;
    let wrong = ElevenLabsTts::new(SecretString::from("nope"))
        .with_base_url(fake.base())
        .unwrap();
    let err = wrong.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Provider { provider: "elevenlabs", status: 401, code: Some(c), message }
            if c == "invalid_api_key" && message == "Invalid API key"),
        "{err:?}"
    );
    assert!(!format!("{wrong:?}").contains("nope"));

    *server.mode.lock().unwrap() = Mode::QuotaExceeded;
    let Err(err) = tts.synthesize_stream(&hello()).await else {
        panic!("stream started")
    };
    assert!(
        matches!(&err, Error::Provider { status: 401, code: Some(c), .. } if c == "quota_exceeded"),
        "{err:?}"
    );

    *server.mode.lock().unwrap() = Mode::Validation;
    let err = tts.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Provider { status: 422, message, .. }
            if message == "body.voice_settings.speed: ensure this value is less than or equal to 1.2"),
        "{err:?}"
    );

    *server.mode.lock().unwrap() = Mode::PlainDetail;
    let err = tts.synthesize(&hello()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "elevenlabs answered HTTP 404: Voice not found"
    );
}

#[tokio::test]
async fn slow_cut_off_and_stalled_streams() {
    let (server, tts, _) = start(Mode::Slow).await;
    let impatient = tts
        .clone()
        .with_timeout(Duration::from_millis(500))
        .with_idle_timeout(Duration::from_millis(300));
    let err = impatient.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                provider: "elevenlabs",
                ..
            }
        ),
        "{err:?}"
    );

    *server.mode.lock().unwrap() = Mode::CutOff;
    let err = tts.synthesize(&hello()).await.unwrap_err();
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");
    let err = common::stream_error_after_audio(&tts, &hello()).await;
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");

    *server.mode.lock().unwrap() = Mode::Stall;
    let err = common::stream_error_after_audio(&impatient, &hello()).await;
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn an_empty_answer_is_malformed() {
    let (_server, tts, _) = start(Mode::Empty).await;
    let err = tts.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::MalformedResponse {
                provider: "elevenlabs",
                ..
            }
        ),
        "{err:?}"
    );
}
