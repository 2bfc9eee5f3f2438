//! Google Cloud TTS provider against a local `/v1/text:synthesize` server speaking Google's
//! documented shapes (`SynthesizeSpeechRequest` / `SynthesizeSpeechResponse`, `google.rpc.Status`
//! errors), authenticated with an API key or a service account through a local token endpoint.
#![cfg(feature = "google")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use kav_testkit::{FakeServer, broken_body};
use kav_tts::google_auth::GoogleAuth;
use kav_tts::{Error, GoogleEncoding, GoogleTts, SecretString, SpeechRequest, TextToSpeech};
use serde_json::{Value, json};

const API_KEY: &str = "AIza-test-key";
const TEST_KEY_PEM: &str = include_str!("fixtures/google-test-key.pem");

#[derive(Clone, Copy)]
enum Mode {
    Audio,
    Headerless,
    InvalidArgument,
    Unauthenticated,
    Slow,
    MalformedJson,
    BadBase64,
    NoAudioField,
    EmptyAudio,
    CutOff,
}

struct Server {
    mode: Mutex<Mode>,
    tokens: AtomicUsize,
}

fn google_error(status: StatusCode, message: &str, code: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": status.as_u16(), "message": message, "status": code}})),
    )
        .into_response()
}

/// The shape of `SynthesizeSpeechRequest` (v1): `input.text`, `voice.languageCode` (+ `name`),
/// `audioConfig.audioEncoding` among the documented values, numeric `sampleRateHertz`.
fn check_shape(body: &Value) -> Result<(), String> {
    let obj = body.as_object().ok_or("not an object")?;
    for k in obj.keys() {
        if !["input", "voice", "audioConfig", "advancedVoiceOptions"].contains(&k.as_str()) {
            return Err(format!("unknown field {k}"));
        }
    }
    body["input"]["text"].as_str().ok_or("input.text")?;
    body["voice"]["languageCode"]
        .as_str()
        .ok_or("voice.languageCode")?;
    let enc = body["audioConfig"]["audioEncoding"]
        .as_str()
        .ok_or("audioConfig.audioEncoding")?;
    if !["LINEAR16", "MP3", "OGG_OPUS", "MULAW", "ALAW", "PCM", "M4A"].contains(&enc) {
        return Err(format!("audioEncoding {enc}"));
    }
    if let Some(r) = body["audioConfig"].get("sampleRateHertz") {
        r.as_u64().ok_or("sampleRateHertz is not an integer")?;
    }
    if let Some(r) = body["audioConfig"].get("speakingRate") {
        let r = r.as_f64().ok_or("speakingRate")?;
        if !(0.25..=4.0).contains(&r) {
            return Err("speakingRate out of range".into());
        }
    }
    Ok(())
}

async fn synthesize(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(e) = check_shape(&body) {
        return google_error(StatusCode::BAD_REQUEST, &e, "INVALID_ARGUMENT");
    }
    let authorized = headers.get("x-goog-api-key").is_some_and(|v| v == API_KEY)
        || headers
            .get("authorization")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("Bearer ya29.test-"));
    let mode = *server.mode.lock().unwrap();
    if !authorized || matches!(mode, Mode::Unauthenticated) {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials.",
            "UNAUTHENTICATED",
        );
    }
    // Half a second of tone at 8 kHz, as Google returns it: inside a WAV header.
    let pcm = common::tone(8_000, 0.5);
    let mulaw = body["audioConfig"]["audioEncoding"] == "MULAW";
    let audio = match (mode, mulaw) {
        (Mode::Headerless, true) => kav_audio_codec::g711::ulaw_encode(&pcm),
        (Mode::Headerless, false) => common::le_bytes(&pcm),
        (_, true) => {
            kav_audio_codec::wav::encode_mulaw(&kav_audio_codec::g711::ulaw_encode(&pcm), 8_000)
        }
        (_, false) => kav_audio_codec::wav::encode_pcm16(&pcm, 8_000, 1),
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(audio);
    match mode {
        Mode::Audio | Mode::Headerless => Json(json!({ "audioContent": b64 })).into_response(),
        Mode::InvalidArgument => google_error(
            StatusCode::BAD_REQUEST,
            "Voice 'he-IL-Nope-Z' does not exist. Is it misspelled?",
            "INVALID_ARGUMENT",
        ),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        Mode::MalformedJson => (
            [("content-type", "application/json")],
            "{\"audioContent\": \"UklGR",
        )
            .into_response(),
        Mode::BadBase64 => Json(json!({ "audioContent": "%%%not base64%%%" })).into_response(),
        Mode::NoAudioField => Json(json!({ "timepoints": [] })).into_response(),
        Mode::EmptyAudio => Json(json!({ "audioContent": "" })).into_response(),
        Mode::CutOff => {
            let text = json!({ "audioContent": b64 }).to_string().into_bytes();
            (
                [("content-type", "application/json")],
                broken_body(vec![text[..text.len() / 2].to_vec()]),
            )
                .into_response()
        }
        Mode::Unauthenticated => unreachable!(),
    }
}

async fn token(State(server): State<Arc<Server>>) -> Response {
    let n = server.tokens.fetch_add(1, Ordering::SeqCst) + 1;
    Json(json!({"access_token": format!("ya29.test-{n}"), "expires_in": 3599, "token_type": "Bearer"}))
        .into_response()
}

/// The server's state and the server (recording what the client sends).
async fn start(mode: Mode) -> (Arc<Server>, FakeServer) {
    let server = Arc::new(Server {
        mode: Mutex::new(mode),
        tokens: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/v1/text:synthesize", post(synthesize))
        .route("/token", post(token))
        .with_state(server.clone());
    (server, FakeServer::router(app).await)
}

/// How many token requests `fake` received.
fn token_requests(fake: &FakeServer) -> usize {
    let requests = fake.requests();
    requests.iter().filter(|r| r.path == "/token").count()
}

fn with_key(base: &str) -> GoogleTts {
    GoogleTts::new(GoogleAuth::api_key(SecretString::from(API_KEY)))
        .with_http_client(reqwest::Client::new())
        .with_base_url(base)
        .unwrap()
        .with_timeout(Duration::from_secs(10))
}

fn hello() -> SpeechRequest {
    SpeechRequest::new("שלום, איך אפשר לעזור?").unwrap()
}

#[tokio::test]
async fn mulaw_with_wav_header_is_used_as_is() {
    let (_server, fake) = start(Mode::Audio).await;
    let base = fake.base();
    let tts = with_key(base).with_default_voice("he-IL-Standard-A");
    let audio = tts.synthesize(&hello()).await.unwrap();
    assert_eq!(audio.len(), 4_000, "0.5 s at 8 kHz");
    assert_eq!(
        audio.mulaw(),
        kav_audio_codec::g711::ulaw_encode(&common::tone(8_000, 0.5))
    );
    let body = fake.last_request().json();
    assert_eq!(body["input"]["text"], "שלום, איך אפשר לעזור?");
    assert_eq!(body["voice"]["languageCode"], "he-IL");
    assert_eq!(body["voice"]["name"], "he-IL-Standard-A");
    assert_eq!(body["audioConfig"]["audioEncoding"], "MULAW");
    assert_eq!(body["audioConfig"]["sampleRateHertz"], 8000);
    assert!(body["audioConfig"].get("speakingRate").is_none());
}

#[tokio::test]
async fn linear16_and_headerless_audio() {
    let (server, fake) = start(Mode::Audio).await;
    let base = fake.base();
    let tts = with_key(base).with_encoding(GoogleEncoding::Linear16);
    let req = hello()
        .with_voice("he-IL-Wavenet-B")
        .with_speaking_rate(0.9)
        .unwrap();
    let audio = tts.synthesize(&req).await.unwrap();
    assert_eq!(audio.len(), 4_000);
    assert!(common::rms_mulaw(audio.mulaw()) > 3000.0);
    let body = fake.last_request().json();
    assert_eq!(body["audioConfig"]["audioEncoding"], "LINEAR16");
    assert_eq!(body["voice"]["name"], "he-IL-Wavenet-B");
    assert!((body["audioConfig"]["speakingRate"].as_f64().unwrap() - 0.9).abs() < 1e-6);

    *server.mode.lock().unwrap() = Mode::Headerless;
    assert_eq!(tts.synthesize(&hello()).await.unwrap().len(), 4_000);
    let mulaw = with_key(base).synthesize(&hello()).await.unwrap();
    assert_eq!(mulaw.len(), 4_000);
}

#[tokio::test]
async fn service_account_gets_a_bearer_token_once() {
    let (server, fake) = start(Mode::Audio).await;
    let base = fake.base();
    let key = json!({
        "type": "service_account",
        "project_id": "kav-test",
        "private_key_id": "abc123",
        "private_key": TEST_KEY_PEM,
        "client_email": "tts@kav-test.iam.gserviceaccount.com",
        "token_uri": format!("{base}/token"),
    })
    .to_string();
    let auth = GoogleAuth::from_service_account_json(&key, reqwest::Client::new()).unwrap();
    let tts = GoogleTts::new(auth).with_base_url(base).unwrap();
    tts.synthesize(&hello()).await.unwrap();
    tts.synthesize(&hello()).await.unwrap();
    assert_eq!(token_requests(&fake), 1, "the token is cached");

    // A 401 drops the cached token, so the next call fetches a new one.
    *server.mode.lock().unwrap() = Mode::Unauthenticated;
    assert!(tts.synthesize(&hello()).await.is_err());
    *server.mode.lock().unwrap() = Mode::Audio;
    tts.synthesize(&hello()).await.unwrap();
    assert_eq!(token_requests(&fake), 2);
}

#[tokio::test]
async fn google_errors_carry_status_and_message() {
    let (server, fake) = start(Mode::InvalidArgument).await;
    let base = fake.base();
    let tts = with_key(base);
    let err = tts.synthesize(&hello()).await.unwrap_err();
    match &err {
        Error::Provider {
            provider,
            status,
            code,
            message,
        } => {
            assert_eq!((*provider, *status), ("google", 400));
            assert_eq!(code.as_deref(), Some("INVALID_ARGUMENT"));
            assert!(message.contains("does not exist"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    *server.mode.lock().unwrap() = Mode::Audio;
    let wrong = GoogleTts::new(GoogleAuth::api_key(SecretString::from("wrong")))
        .with_base_url(base)
        .unwrap();
    let err = wrong.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Provider { status: 401, code: Some(c), .. } if c == "UNAUTHENTICATED"),
        "{err:?}"
    );
    assert!(!format!("{wrong:?}").contains("wrong\""), "{wrong:?}");
    assert!(!format!("{tts:?}").contains(API_KEY));
}

#[tokio::test]
async fn slow_answers_time_out() {
    let (_server, fake) = start(Mode::Slow).await;
    let base = fake.base();
    let tts = with_key(base).with_timeout(Duration::from_millis(500));
    let err = tts.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                provider: "google",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn malformed_answers_are_typed_errors() {
    let (server, fake) = start(Mode::MalformedJson).await;
    let base = fake.base();
    let tts = with_key(base);
    for mode in [
        Mode::MalformedJson,
        Mode::BadBase64,
        Mode::NoAudioField,
        Mode::EmptyAudio,
    ] {
        *server.mode.lock().unwrap() = mode;
        let err = tts.synthesize(&hello()).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::MalformedResponse {
                    provider: "google",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    *server.mode.lock().unwrap() = Mode::CutOff;
    let err = tts.synthesize(&hello()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Interrupted {
                provider: "google",
                ..
            }
        ),
        "{err:?}"
    );
}
