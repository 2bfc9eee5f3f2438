//! OpenAI provider against a local `/v1/audio/speech` server; requests are checked against the
//! `CreateSpeechRequest` schema of `specs/openai_openapi.json`.
#![cfg(feature = "openai")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt as _;
use kav_testkit::{FakeServer, broken_body, slow_body};
use kav_tts::{
    Error, OpenAiFormat, OpenAiTts, SecretString, SpeechRequest, StreamingTextToSpeech,
    TextToSpeech, collect_stream,
};
use serde_json::Value;

const KEY: &str = "sk-test-0123456789abcdef";

#[derive(Clone, Copy)]
enum Mode {
    Audio,
    Unauthorized,
    RateLimited,
    Slow,
    CutOff,
    StallAfterFirstChunk,
    Html,
    OddPcm,
    NotAudio,
}

struct Server {
    mode: Mutex<Mode>,
}

fn schema() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../specs/openai_openapi.json"
    );
    let spec: Value =
        serde_json::from_slice(&std::fs::read(path).expect("specs/openai_openapi.json"))
            .expect("spec JSON");
    spec["components"]["schemas"]["CreateSpeechRequest"].clone()
}

/// Checks a request body against `CreateSpeechRequest`: no unknown properties, all required
/// ones, enums, numeric ranges and string lengths as the spec states them.
fn check_against_spec(body: &Value) -> Result<(), String> {
    let schema = schema();
    let props = schema["properties"].as_object().unwrap();
    let obj = body.as_object().ok_or("body is not an object")?;
    if schema["additionalProperties"] == Value::Bool(false) {
        for k in obj.keys() {
            if !props.contains_key(k) {
                return Err(format!("unknown property {k}"));
            }
        }
    }
    for r in schema["required"].as_array().unwrap() {
        if !obj.contains_key(r.as_str().unwrap()) {
            return Err(format!("missing required {r}"));
        }
    }
    for (k, v) in obj {
        let p = &props[k];
        if let Some(e) = p.get("enum").and_then(Value::as_array)
            && !e.contains(v)
        {
            return Err(format!("{k}={v} not in {e:?}"));
        }
        if p["type"] == "number" {
            let x = v.as_f64().ok_or(format!("{k} is not a number"))?;
            if x < p["minimum"].as_f64().unwrap() || x > p["maximum"].as_f64().unwrap() {
                return Err(format!("{k}={x} out of range"));
            }
        }
        if p["type"] == "string" {
            let s = v.as_str().ok_or(format!("{k} is not a string"))?;
            if let Some(max) = p["maxLength"].as_u64()
                && s.chars().count() as u64 > max
            {
                return Err(format!("{k} too long"));
            }
        }
        if k == "model" && !v.is_string() {
            return Err("model is not a string".into());
        }
        if k == "voice" && !(v.is_string() || v.get("id").is_some_and(Value::is_string)) {
            return Err("voice is neither a name nor {id}".into());
        }
    }
    Ok(())
}

async fn speech(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let error = |status: StatusCode, message: &str, kind: &str, code: Value| {
        (
            status,
            Json(serde_json::json!({
                "error": {"message": message, "type": kind, "param": null, "code": code}
            })),
        )
            .into_response()
    };
    if let Err(e) = check_against_spec(&body) {
        return error(
            StatusCode::BAD_REQUEST,
            &e,
            "invalid_request_error",
            Value::Null,
        );
    }
    let mode = *server.mode.lock().unwrap();
    if matches!(mode, Mode::Unauthorized)
        || headers.get("authorization").and_then(|v| v.to_str().ok())
            != Some(&format!("Bearer {KEY}"))
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided: sk-test-***cdef.",
            "invalid_request_error",
            "invalid_api_key".into(),
        );
    }
    // One second of 440 Hz at 24 kHz, as OpenAI's `pcm` (or inside a WAV for `wav`).
    let pcm = common::le_bytes(&common::tone(24_000, 1.0));
    let audio = if body["response_format"] == "wav" {
        kav_audio_codec::wav::encode_pcm16(&common::tone(24_000, 1.0), 24_000, 1)
    } else {
        pcm
    };
    let chunks: Vec<Vec<u8>> = audio.chunks(4801).map(<[u8]>::to_vec).collect();
    match mode {
        Mode::Audio => (
            [("content-type", "application/octet-stream")],
            slow_body(chunks, Duration::ZERO, false),
        )
            .into_response(),
        Mode::RateLimited => error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached for requests",
            "requests",
            "rate_limit_exceeded".into(),
        ),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        Mode::CutOff => broken_body(chunks[..3].to_vec()).into_response(),
        Mode::StallAfterFirstChunk => {
            slow_body(chunks[..1].to_vec(), Duration::ZERO, true).into_response()
        }
        Mode::Html => (
            StatusCode::BAD_GATEWAY,
            "<html><body>Bad gateway</body></html>",
        )
            .into_response(),
        Mode::OddPcm => vec![1u8, 2, 3].into_response(),
        Mode::NotAudio => (
            [("content-type", "application/json")],
            "{\"object\": \"not audio\"}",
        )
            .into_response(),
        Mode::Unauthorized => unreachable!(),
    }
}

/// The server's state, the client, and the server (recording what the client sends).
async fn start(mode: Mode) -> (Arc<Server>, OpenAiTts, FakeServer) {
    let server = Arc::new(Server {
        mode: Mutex::new(mode),
    });
    let app = Router::new()
        .route("/v1/audio/speech", post(speech))
        .with_state(server.clone());
    let fake = FakeServer::router(app).await;
    let tts = OpenAiTts::new(SecretString::from(KEY))
        .with_http_client(reqwest::Client::new())
        .with_base_url(&fake.url("/v1"))
        .unwrap()
        .with_timeout(Duration::from_secs(10))
        .with_idle_timeout(Duration::from_secs(5));
    (server, tts, fake)
}

fn hello() -> SpeechRequest {
    SpeechRequest::new("שלום, מה שלומך?").unwrap()
}

#[test]
fn the_spec_check_rejects_what_openai_rejects() {
    let ok = serde_json::json!({"model": "tts-1", "input": "hi", "voice": "alloy"});
    assert!(check_against_spec(&ok).is_ok());
    let mut bad = ok.clone();
    bad["response_format"] = "ulaw".into();
    assert!(check_against_spec(&bad).is_err());
    let mut bad = ok.clone();
    bad["speed"] = 5.0.into();
    assert!(check_against_spec(&bad).is_err());
    let mut bad = ok.clone();
    bad["language"] = "he".into();
    assert!(check_against_spec(&bad).is_err());
    assert!(check_against_spec(&serde_json::json!({"model": "tts-1", "input": "hi"})).is_err());
}

#[tokio::test]
async fn pcm_is_resampled_to_8k_mulaw() {
    let (_server, tts, fake) = start(Mode::Audio).await;
    let req = hello()
        .with_voice("coral")
        .with_speaking_rate(1.25)
        .unwrap();
    let audio = tts.synthesize(&req).await.unwrap();
    assert_eq!(audio.len(), 8_000, "1 s at 24 kHz is 8000 samples at 8 kHz");
    assert!(common::rms_mulaw(audio.mulaw()) > 3000.0);
    let body = fake.last_request().json();
    assert_eq!(body["model"], "gpt-4o-mini-tts");
    assert_eq!(body["voice"], "coral");
    assert_eq!(body["input"], "שלום, מה שלומך?");
    assert_eq!(body["response_format"], "pcm");
    assert_eq!(body["speed"], 1.25);
}

#[tokio::test]
async fn wav_format_and_model_options() {
    let (_server, tts, fake) = start(Mode::Audio).await;
    let tts = tts
        .with_format(OpenAiFormat::Wav)
        .with_model("tts-1")
        .with_instructions("Speak warmly");
    let audio = tts.synthesize(&hello()).await.unwrap();
    assert_eq!(audio.len(), 8_000);
    let body = fake.last_request().json();
    assert_eq!(body["response_format"], "wav");
    assert_eq!(body["voice"], "alloy");
    assert!(
        body.get("instructions").is_none(),
        "tts-1 takes no instructions"
    );
    let tts = tts.with_model("gpt-4o-mini-tts");
    tts.synthesize(&hello()).await.unwrap();
    let body = fake.last_request().json();
    assert_eq!(body["instructions"], "Speak warmly");
}

#[tokio::test]
async fn streaming_matches_the_whole_answer() {
    let (_server, tts, _) = start(Mode::Audio).await;
    let whole = tts.synthesize(&hello()).await.unwrap();
    let (chunks, all) = common::read_stream(&tts, &hello()).await;
    assert!(chunks > 1, "audio arrives in several chunks");
    assert_eq!(all, whole.mulaw());
}

#[tokio::test]
async fn provider_errors_carry_status_code_and_message() {
    let (server, tts, _) = start(Mode::Unauthorized).await;
    let err = tts.synthesize(&hello()).await.unwrap_err();
    match &err {
        Error::Provider {
            provider,
            status,
            code,
            message,
        } => {
            assert_eq!(*provider, "openai");
            assert_eq!(*status, 401);
            assert_eq!(code.as_deref(), Some("invalid_api_key"));
            assert!(
                message.starts_with("Incorrect API key provided"),
                "{message}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("openai answered HTTP 401 (invalid_api_key): Incorrect")
    );
    assert!(!err.to_string().contains(KEY));

    *server.mode.lock().unwrap() = Mode::RateLimited;
    let Err(err) = tts.synthesize_stream(&hello()).await else {
        panic!("stream started despite 429")
    };
    assert!(
        matches!(err, Error::Provider { status: 429, .. }),
        "{err:?}"
    );

    *server.mode.lock().unwrap() = Mode::Html;
    let err = tts.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Provider { status: 502, code: None, message, .. } if message.contains("Bad gateway")),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_key_is_sent_as_bearer_and_never_shown() {
    let (_server, good, fake) = start(Mode::Audio).await;
    assert!(!format!("{good:?}").contains(KEY));
    // Same server, wrong key: the server checks the Authorization header.
    let wrong = OpenAiTts::new(SecretString::from("sk-wrong"))
        .with_base_url(&fake.url("/v1"))
        .unwrap();
    assert!(!format!("{wrong:?}").contains("sk-wrong"));
    let err = wrong.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(err, Error::Provider { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_answers_time_out() {
    let (_server, tts, _) = start(Mode::Slow).await;
    let tts = tts.with_timeout(Duration::from_millis(500));
    let err = tts.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                provider: "openai",
                ..
            }
        ),
        "{err:?}"
    );
    let Err(err) = tts.synthesize_stream(&hello()).await else {
        panic!("stream started")
    };
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn streams_cut_off_in_the_middle_are_errors() {
    let (server, tts, _) = start(Mode::CutOff).await;
    let err = tts.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Interrupted {
                provider: "openai",
                ..
            }
        ),
        "{err:?}"
    );

    let err = common::stream_error_after_audio(&tts, &hello()).await;
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");

    *server.mode.lock().unwrap() = Mode::StallAfterFirstChunk;
    let tts = tts.with_idle_timeout(Duration::from_millis(300));
    let stream = tts.synthesize_stream(&hello()).await.unwrap();
    let err = collect_stream(stream).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[test]
fn base_url_must_be_absolute() {
    let tts = || OpenAiTts::new(SecretString::from(KEY));
    assert!(matches!(
        tts().with_base_url("api.openai.com"),
        Err(Error::Config {
            provider: "openai",
            ..
        })
    ));
    assert!(tts().with_base_url("ftp://x.example").is_err());
    assert!(tts().with_base_url("https://proxy.example/openai/").is_ok());
}

#[tokio::test]
async fn a_dropped_request_leaves_the_client_usable() {
    let (server, tts, _) = start(Mode::Slow).await;
    let cancelled =
        tokio::time::timeout(Duration::from_millis(100), tts.synthesize(&hello())).await;
    assert!(
        cancelled.is_err(),
        "cancelled while the server was still thinking"
    );
    *server.mode.lock().unwrap() = Mode::Audio;
    assert_eq!(tts.synthesize(&hello()).await.unwrap().len(), 8_000);
    // A stream dropped half way is fine too.
    let mut stream = tts.synthesize_stream(&hello()).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    assert_eq!(tts.synthesize(&hello()).await.unwrap().len(), 8_000);
}

#[tokio::test]
async fn malformed_audio_is_a_typed_error() {
    let (server, tts, _) = start(Mode::OddPcm).await;
    let err = tts.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::MalformedResponse {
                provider: "openai",
                ..
            }
        ),
        "{err:?}"
    );
    *server.mode.lock().unwrap() = Mode::NotAudio;
    let err = tts
        .clone()
        .with_format(OpenAiFormat::Wav)
        .synthesize(&hello())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Audio {
                provider: "openai",
                ..
            }
        ),
        "{err:?}"
    );
}
