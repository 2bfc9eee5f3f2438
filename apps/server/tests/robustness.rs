//! What the caller hears when things break: every provider (speech-to-text, language model,
//! text-to-speech) failing or never answering, the store down in the middle of a call,
//! oversized bodies. Always 200 with TwiML (never a 5xx), the fallback phrase once per turn,
//! the goodbye and `<Hangup/>` after `KAV_MAX_FAILED_TURNS`, and no temporary file left.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::fakes::{self, ACCOUNT, BrokenTts, FakeOpenAi, Mode, RecordingsHost, TOKEN};
use common::{TempDir, sqlite_store};
use http_body_util::BodyExt as _;
use kav_server::config::{DEFAULT_FALLBACK, DEFAULT_GOODBYE};
use kav_server::{Agent, AppState, Config, app};
use kav_twilio_sig::{RequestValidator, SecretString};
use tower::ServiceExt as _;

const BASE: &str = "https://agent.example.com";
const SID: &str = "CA0123456789abcdef0123456789abcdef";
const SID2: &str = "CA0123456789abcdef0123456789abcde2";
const REC: &str = "RE0123456789abcdef0123456789abcdef";

struct Setup {
    state: AppState,
    fake: FakeOpenAi,
    host: RecordingsHost,
    dir: TempDir,
    tts_calls: Arc<AtomicUsize>,
}

/// Record mode: OpenAI speech-to-text and chat (fake), recordings from the fake host, and
/// the given text-to-speech (`None`: espeak-ng as configured).
async fn setup(extra: &[(&str, &str)], tts: Option<BrokenTts>) -> Setup {
    let (openai, fake) = fakes::fake_openai(&[]).await;
    let host = fakes::recordings_host(fakes::speech_wav("מה שעות הפתיחה שלכם?").await).await;
    let (store, dir) = sqlite_store().await;
    let data = dir.path().to_str().unwrap().to_owned();
    let mut vars: Vec<(&str, &str)> = vec![
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_ACCOUNT_SID", ACCOUNT),
        ("PUBLIC_BASE_URL", BASE),
        ("CALL_MODE", "record"),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &openai),
        ("RECORDING_HOSTS", &host.origin),
        ("KAV_LLM", "openai"),
        ("KAV_DATA_DIR", &data),
    ];
    vars.extend_from_slice(extra);
    let config = Config::from_vars(vars).unwrap();
    let tts_calls = Arc::new(AtomicUsize::new(0));
    let mut agent = Agent::from_config(&config);
    if let Some(mut broken) = tts {
        broken.calls = tts_calls.clone();
        agent = agent.with_tts(Some(Arc::new(broken)));
    }
    Setup {
        state: AppState::with_agent(config, store, agent),
        fake,
        host,
        dir,
        tts_calls,
    }
}

fn signed(path: &str, params: &[(&str, &str)]) -> Request<Body> {
    let signature = RequestValidator::new(SecretString::from(TOKEN.to_owned()))
        .compute_signature(&format!("{BASE}{path}"), params);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(Body::from(body))
        .unwrap()
}

/// Sends a webhook; checks it is answered 200 with TwiML.
async fn twiml(state: &AppState, request: Request<Body>) -> String {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    kav_twiml::VoiceResponse::parse(&body).unwrap();
    body
}

/// A new turn's recording: each has its own `RecordingSid`, as Twilio's do (a `RecordingSid`
/// posted again is a retry, answered from the store).
fn recording(sid: &str, host: &RecordingsHost) -> Request<Body> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let rec = format!("{}{n:08x}", &REC[..26]);
    signed(
        "/webhook/handle_recording",
        &[
            ("CallSid", sid),
            ("AccountSid", ACCOUNT),
            ("RecordingUrl", &host.url(&rec)),
            ("RecordingSid", &rec),
            ("RecordingDuration", "2"),
        ],
    )
}

fn no_leftovers(dir: &TempDir) {
    let left = fakes::leftover_temp_files(dir.path());
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[tokio::test]
async fn every_provider_failing_or_hanging_gives_the_fallback_once_then_goodbye() {
    for mode in [Mode::Fail, Mode::Hang] {
        let hang = mode == Mode::Hang;
        let s = setup(
            &[
                ("KAV_MAX_FAILED_TURNS", "2"),
                ("KAV_TURN_TIMEOUT_SECS", "1"),
            ],
            Some(BrokenTts {
                hang,
                calls: Arc::default(),
            }),
        )
        .await;
        *s.fake.stt_mode.lock().unwrap() = mode;
        *s.fake.chat_mode.lock().unwrap() = mode;

        // The greeting: synthesis fails, so <Say>.
        let body = twiml(
            &s.state,
            signed(
                "/webhook/incoming_call",
                &[("CallSid", SID), ("CallStatus", "ringing")],
            ),
        )
        .await;
        assert!(body.contains("<Say") && body.contains("<Record "), "{body}");

        // Turn 1: speech-to-text fails → the fallback once, and the caller is heard again.
        let body = twiml(&s.state, recording(SID, &s.host)).await;
        assert_eq!(body.matches(DEFAULT_FALLBACK).count(), 1, "{mode:?} {body}");
        assert!(body.contains("<Record "), "{body}");
        assert!(!body.contains("<Play"), "{body}");
        // Turn 2 fails too: the goodbye and <Hangup/>, no more listening.
        let body = twiml(&s.state, recording(SID, &s.host)).await;
        assert!(body.contains(DEFAULT_GOODBYE), "{body}");
        assert!(body.ends_with("<Hangup/></Response>"), "{body}");
        assert!(!body.contains("<Record") && !body.contains(DEFAULT_FALLBACK));
        let turns = s.state.store().turns(SID).await.unwrap();
        assert_eq!(turns.len(), 2);
        assert!(
            turns
                .iter()
                .all(|t| t.error.as_deref().unwrap().starts_with("stt: ")),
            "{turns:?}"
        );

        // Speech-to-text works, the language model fails: the fallback once.
        *s.fake.stt_mode.lock().unwrap() = Mode::Ok;
        let body = twiml(&s.state, recording(SID2, &s.host)).await;
        assert_eq!(body.matches(DEFAULT_FALLBACK).count(), 1, "{mode:?} {body}");
        assert!(body.contains("<Record "), "{body}");
        let turns = s.state.store().turns(SID2).await.unwrap();
        assert!(turns[0].error.as_deref().unwrap().starts_with("llm: "));
        assert_eq!(turns[0].transcript.as_deref(), Some("שלום"));

        // Everything works but speech synthesis: the reply itself, as <Say>.
        *s.fake.chat_mode.lock().unwrap() = Mode::Ok;
        let body = twiml(&s.state, recording(SID2, &s.host)).await;
        assert!(body.contains("בסדר.</Say>"), "{body}");
        assert!(body.contains("<Record "), "{body}");
        assert!(s.tts_calls.load(Ordering::SeqCst) > 0);

        let metrics = s.state.metrics().render(None);
        for stage in ["stt", "llm", "tts"] {
            assert!(
                metrics.contains(&format!("stage=\"{stage}\"}}")),
                "{stage} errors not counted:\n{metrics}"
            );
        }
        assert!(!metrics.contains("status=\"5"), "{metrics}");
        no_leftovers(&s.dir);
    }
}

#[tokio::test]
async fn the_store_down_during_a_call_still_gets_twiml() {
    for call_mode in ["record", "gather"] {
        // espeak-ng synthesizes; with the store down its audio cannot be kept, so <Say>.
        let s = setup(&[("CALL_MODE", call_mode), ("KAV_LLM", "scripted")], None).await;
        assert!(
            s.state.agent().tts().is_some(),
            "espeak-ng is not installed"
        );
        s.fake
            .stt_texts
            .lock()
            .unwrap()
            .push("מה שעות הפתיחה שלכם?".to_owned());
        s.state.store().close().await;

        let body = twiml(
            &s.state,
            signed(
                "/webhook/incoming_call",
                &[("CallSid", SID), ("CallStatus", "ringing")],
            ),
        )
        .await;
        assert!(body.contains("<Say"), "{body}");
        assert!(!body.contains("<Play"), "{body}");
        let turn = if call_mode == "record" {
            recording(SID, &s.host)
        } else {
            signed(
                "/webhook/gather",
                &[("CallSid", SID), ("SpeechResult", "מה שעות הפתיחה שלכם?")],
            )
        };
        let body = twiml(&s.state, turn).await;
        // The scripted answer about opening hours, and the call goes on.
        assert!(body.contains("פתוחים"), "{call_mode}: {body}");
        assert!(
            body.contains("<Record ") || body.contains("<Gather "),
            "{body}"
        );
        let status = app(s.state.clone())
            .oneshot(Request::get("/ready").body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        // No audio file was left without its row.
        let audio: Vec<_> = std::fs::read_dir(s.dir.path().join("audio"))
            .unwrap()
            .flatten()
            .collect();
        assert!(audio.is_empty(), "{audio:?}");
        no_leftovers(&s.dir);
    }
}

#[tokio::test]
async fn oversized_turn_bodies_get_413_and_store_nothing() {
    let s = setup(&[], None).await;
    let pad = "x".repeat(70 * 1024);
    for path in ["/webhook/handle_recording", "/webhook/gather"] {
        let params = [
            ("CallSid", SID),
            ("SpeechResult", "hi"),
            ("Pad", pad.as_str()),
        ];
        let response = app(s.state.clone())
            .oneshot(signed(path, &params))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    assert!(s.state.store().turns(SID).await.unwrap().is_empty());
    assert_eq!(s.host.hits(), 0);
    no_leftovers(&s.dir);
}
