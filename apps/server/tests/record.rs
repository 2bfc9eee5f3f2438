//! Record mode: `/webhook/incoming_call` and `/webhook/handle_recording` against a local fake
//! OpenAI transcription server and a recordings host that demands Basic auth, and a whole call
//! placed by kav-callsim's simulator.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::{TempDir, sqlite_store};
use http_body_util::BodyExt as _;
use kav_server::{Agent, AppState, Config, Store, app};
use kav_twilio_sig::{RequestValidator, SecretString};
use tower::ServiceExt as _;

const TOKEN: &str = "test-auth-token-0123456789";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const BASE: &str = "https://agent.example.com";
const SID: &str = "CA0123456789abcdef0123456789abcdef";
const REC: &str = "RE0123456789abcdef0123456789abcdef";

/// How the fake transcription server behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    Fail,
    Hang,
}

#[derive(Clone)]
struct FakeOpenAi {
    mode: Arc<Mutex<Mode>>,
    texts: Arc<Mutex<Vec<&'static str>>>,
    calls: Arc<AtomicUsize>,
}

async fn transcriptions(State(fake): State<FakeOpenAi>, request: Request) -> Response {
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v == "Bearer sk-test");
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    fake.calls.fetch_add(1, Ordering::SeqCst);
    if !authorized || !content_type.starts_with("multipart/form-data") || body.len() < 1000 {
        return (StatusCode::BAD_REQUEST, "bad request").into_response();
    }
    let mode = *fake.mode.lock().unwrap();
    match mode {
        Mode::Fail => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({"error": {"message": "boom", "type": "server_error"}})),
        )
            .into_response(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
        Mode::Ok => {
            let mut texts = fake.texts.lock().unwrap();
            let text = if texts.is_empty() {
                "שלום"
            } else {
                texts.remove(0)
            };
            axum::Json(serde_json::json!({ "text": text })).into_response()
        }
    }
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

async fn fake_openai(texts: Vec<&'static str>) -> (String, FakeOpenAi) {
    let fake = FakeOpenAi {
        mode: Arc::new(Mutex::new(Mode::Ok)),
        texts: Arc::new(Mutex::new(texts)),
        calls: Arc::new(AtomicUsize::new(0)),
    };
    let router = Router::new()
        .route("/v1/audio/transcriptions", post(transcriptions))
        .with_state(fake.clone());
    (format!("{}/v1", serve(router).await), fake)
}

/// Hebrew speech from espeak-ng, as an 8 kHz PCM16 WAV like Twilio's recordings.
async fn speech_wav() -> Vec<u8> {
    use kav_tts::{EspeakTts, SpeechRequest, TextToSpeech};
    let audio = EspeakTts::new()
        .synthesize(&SpeechRequest::new("שלום, מה שעות הפתיחה שלכם?").unwrap())
        .await
        .unwrap();
    let pcm: Vec<i16> = audio.mulaw().iter().map(|&u| ulaw_to_pcm(u)).collect();
    let mut wav = Vec::new();
    let data_len = u32::try_from(pcm.len() * 2).unwrap();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for s in pcm {
        wav.extend_from_slice(&s.to_le_bytes());
    }
    wav
}

/// G.711 μ-law decoding.
fn ulaw_to_pcm(code: u8) -> i16 {
    let u = !code;
    let t = ((i32::from(u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4);
    let v = if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 };
    i16::try_from(v).unwrap()
}

/// A recordings host serving one recording behind Basic auth; counts downloads.
async fn recordings_host(wav: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let expected = format!(
        "Basic {}",
        base64_encode(format!("{ACCOUNT}:{TOKEN}").as_bytes())
    );
    let router = Router::new().route(
        "/2010-04-01/Accounts/{account}/Recordings/{file}",
        get(move |request: Request| {
            let wav = wav.clone();
            let counter = counter.clone();
            let expected = expected.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .is_none_or(|v| v != expected.as_str())
                {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                ([(header::CONTENT_TYPE, "audio/x-wav")], wav).into_response()
            }
        }),
    );
    (serve(router).await, hits)
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn record_config(openai: &str, recording_hosts: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_ACCOUNT_SID", ACCOUNT),
        ("PUBLIC_BASE_URL", BASE),
        ("CALL_MODE", "record"),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", openai),
        ("RECORDING_HOSTS", recording_hosts),
        ("KAV_TTS", "off"),
        // The fake OpenAI server transcribes only; the scripted responder answers.
        ("KAV_LLM", "scripted"),
    ];
    vars.extend_from_slice(extra);
    Config::from_vars(vars).unwrap()
}

fn state(config: Config, store: Store) -> AppState {
    let agent = Agent::from_config(&config);
    AppState::with_agent(config, store, agent)
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

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn recording(url: &str) -> Request<Body> {
    signed(
        "/webhook/handle_recording",
        &[
            ("CallSid", SID),
            ("AccountSid", ACCOUNT),
            ("RecordingUrl", url),
            ("RecordingSid", REC),
            ("RecordingDuration", "2"),
            ("Digits", "#"),
        ],
    )
}

async fn setup(
    extra: &[(&str, &str)],
) -> (AppState, FakeOpenAi, String, Arc<AtomicUsize>, TempDir) {
    let (openai, fake) = fake_openai(vec!["מה שעות הפתיחה שלכם?"]).await;
    let (host, hits) = recordings_host(speech_wav().await).await;
    let (store, dir) = sqlite_store().await;
    let state = state(record_config(&openai, &host, extra), store);
    let url = format!("{host}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{REC}");
    (state, fake, url, hits, dir)
}

#[tokio::test]
async fn incoming_call_greets_then_records() {
    let (state, _fake, _url, _hits, _dir) = setup(&[]).await;
    let (status, body) = send(
        &state,
        signed(
            "/webhook/incoming_call",
            &[("CallSid", SID), ("CallStatus", "ringing")],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
         <Say language=\"he-IL\" voice=\"Google.he-IL-Standard-A\">\
         שלום, הגעתם לעוזר הקולי. איך אפשר לעזור?</Say>\
         <Record action=\"https://agent.example.com/webhook/handle_recording\" finishOnKey=\"*\" \
         maxLength=\"30\" method=\"POST\" playBeep=\"true\" timeout=\"5\" trim=\"do-not-trim\"/>\
         </Response>"
    );
}

#[tokio::test]
async fn a_recording_is_downloaded_transcribed_answered_and_stored() {
    let (state, fake, url, hits, _dir) = setup(&[]).await;
    let (status, body) = send(&state, recording(&url)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("פתוחים"), "{body}");
    assert!(body.contains("<Record action="), "{body}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0].transcript.as_deref(), Some("מה שעות הפתיחה שלכם?"));
    assert!(turns[0].recording_ref.as_deref().unwrap().ends_with(".wav"));
    assert!(turns[0].stt_ms.is_some() && turns[0].llm_ms.is_some());
    let metrics = state.metrics().render(None);
    assert!(metrics.contains("stage=\"stt\""), "{metrics}");
}

#[tokio::test]
async fn failing_or_hanging_stt_gives_the_fallback_once() {
    for mode in [Mode::Fail, Mode::Hang] {
        let (state, fake, url, _hits, _dir) = setup(&[("KAV_TURN_TIMEOUT_SECS", "2")]).await;
        *fake.mode.lock().unwrap() = mode;
        let (status, body) = send(&state, recording(&url)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("סליחה, לא הצלחתי להבין"), "{body}");
        assert!(body.contains("<Record action="), "{body}");
        let turns = state.store().turns(SID).await.unwrap();
        assert!(
            turns[0].error.as_deref().unwrap().starts_with("stt: "),
            "{turns:?}"
        );
    }
}

#[tokio::test]
async fn foreign_or_malformed_recordings_are_not_downloaded() {
    let (state, fake, url, hits, _dir) = setup(&[]).await;
    let (status, body) = send(
        &state,
        recording("https://evil.example.com/2010-04-01/Accounts/AC1/Recordings/RE1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("סליחה, לא הצלחתי להבין"), "{body}");
    let bad_sid = signed(
        "/webhook/handle_recording",
        &[
            ("CallSid", SID),
            ("RecordingUrl", &url),
            ("RecordingSid", "RE../x"),
        ],
    );
    let (status, body) = send(&state, bad_sid).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("סליחה, לא הצלחתי להבין"), "{body}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
    let turns = state.store().turns(SID).await.unwrap();
    assert!(
        turns[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("recording refused")
    );
    assert_eq!(turns[1].error.as_deref(), Some("malformed RecordingSid"));

    let hangup = signed(
        "/webhook/handle_recording",
        &[
            ("CallSid", SID),
            ("RecordingUrl", &url),
            ("Digits", "hangup"),
        ],
    );
    let (status, body) = send(&state, hangup).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.ends_with("<Response><Hangup/></Response>"), "{body}");
}

#[tokio::test]
async fn whole_record_mode_call_through_the_simulator() {
    use kav_callsim::{CallScript, EndReason, SimConfig, Simulator, Turn};
    let (openai, fake) =
        fake_openai(vec!["מה שעות הפתיחה שלכם?", "I want to speak to a human"]).await;
    let (store, _dir) = sqlite_store().await;
    // The simulator's recordings host gets a fixed address, so `RECORDING_HOSTS` can name it
    // (and only it) before the call.
    let recordings = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let allowed = format!("http://{recordings}");
    let server = serve(app(state(
        record_config(&openai, &allowed, &[]),
        store.clone(),
    )))
    .await;
    let sim = SimConfig::new(&server, BASE, SecretString::from(TOKEN.to_owned()))
        .unwrap()
        .with_recordings_addr(recordings)
        .with_account_sid(ACCOUNT)
        .unwrap()
        .with_call_sid(SID)
        .unwrap()
        .with_timeouts(Duration::from_secs(30), Duration::from_secs(5));
    let script = CallScript::new()
        .turn(Turn::text("מה שעות הפתיחה שלכם?"))
        .turn(Turn::text("I want to speak to a human"))
        .stay_on_line(true);
    let report = Simulator::new(sim).run(&script).await.unwrap();
    assert!(!report.has_errors(), "{}", report.transcript());
    assert_ne!(report.ended_by, EndReason::Error, "{}", report.transcript());
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);

    let turns = store.turns(SID).await.unwrap();
    assert_eq!(turns.len(), 2, "{turns:?}\n{}", report.transcript());
    assert!(turns[0].reply.as_deref().unwrap().contains("פתוחים"));
    assert!(
        turns[1]
            .reply
            .as_deref()
            .unwrap()
            .contains("representative")
    );
    assert!(
        turns
            .iter()
            .all(|t| t.error.is_none() && t.recording_ref.is_some())
    );
}

#[tokio::test]
async fn a_goodbye_in_record_mode_ends_the_call() {
    let (openai, fake) = fake_openai(vec!["תודה, להתראות"]).await;
    let (host, _hits) = recordings_host(speech_wav().await).await;
    let (store, _dir) = sqlite_store().await;
    let state = state(record_config(&openai, &host, &[]), store);
    let url = format!("{host}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{REC}");
    let (status, body) = send(&state, recording(&url)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Thank you for calling"), "{body}");
    assert!(body.ends_with("<Hangup/></Response>"), "{body}");
    assert!(!body.contains("<Record"), "{body}");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns[0].transcript.as_deref(), Some("תודה, להתראות"));
}

#[tokio::test]
async fn the_last_words_before_hanging_up_are_transcribed_and_stored() {
    let (state, fake, url, hits, dir) = setup(&[]).await;
    let hangup = |url: &str, rec: &str| {
        signed(
            "/webhook/handle_recording",
            &[
                ("CallSid", SID),
                ("AccountSid", ACCOUNT),
                ("RecordingUrl", url),
                ("RecordingSid", rec),
                ("RecordingDuration", "2"),
                ("Digits", "hangup"),
            ],
        )
    };
    let (status, body) = send(&state, hangup(&url, REC)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.ends_with("<Response><Hangup/></Response>"), "{body}");
    // Twilio retrying it: the same answer, nothing stored twice.
    let (_, again) = send(&state, hangup(&url, REC)).await;
    assert_eq!(again, body);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 1, "{turns:?}");
    assert_eq!(turns[0].transcript.as_deref(), Some("מה שעות הפתיחה שלכם?"));
    assert_eq!(turns[0].reply, None);
    assert!(turns[0].error.is_none() && turns[0].recording_ref.is_some());
    // Failing speech-to-text: the turn is kept with its error, and the answer is the same.
    *fake.mode.lock().unwrap() = Mode::Fail;
    let other = "RE0123456789abcdef0123456789abcde1";
    let (status, body) = send(&state, hangup(&url.replace(REC, other), other)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.ends_with("<Response><Hangup/></Response>"), "{body}");
    let turns = state.store().turns(SID).await.unwrap();
    assert!(
        turns[1].error.as_deref().unwrap().starts_with("stt: "),
        "{turns:?}"
    );
    // No recording at all: nothing to store.
    let (_, body) = send(
        &state,
        signed(
            "/webhook/handle_recording",
            &[("CallSid", SID), ("Digits", "hangup")],
        ),
    )
    .await;
    assert!(body.ends_with("<Response><Hangup/></Response>"), "{body}");
    assert_eq!(state.store().turns(SID).await.unwrap().len(), 2);
    assert!(common::fakes::leftover_temp_files(dir.path()).is_empty());
}

/// Twilio posting the same recording again (a retry of a request already answered) gets the
/// same answer, and nothing is downloaded, transcribed, asked or stored twice; a failed turn
/// replayed gets the fallback phrase again, still once in the store.
#[tokio::test]
async fn a_retried_recording_is_answered_again_without_a_second_turn() {
    let (state, fake, url, hits, _dir) = setup(&[]).await;
    let (status, first) = send(&state, recording(&url)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(first.contains("פתוחים"), "{first}");
    let (status, again) = send(&state, recording(&url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    assert_eq!(state.store().turns(SID).await.unwrap().len(), 1);

    // The next recording is a new turn.
    let next = "RE0123456789abcdef0123456789abcde0";
    let next_url = url.replace(REC, next);
    let request = signed(
        "/webhook/handle_recording",
        &[
            ("CallSid", SID),
            ("AccountSid", ACCOUNT),
            ("RecordingUrl", &next_url),
            ("RecordingSid", next),
            ("Digits", "#"),
        ],
    );
    *fake.mode.lock().unwrap() = Mode::Fail;
    let (_, failed) = send(&state, request).await;
    assert!(failed.contains("סליחה, לא הצלחתי להבין"), "{failed}");
    let retried = signed(
        "/webhook/handle_recording",
        &[
            ("CallSid", SID),
            ("AccountSid", ACCOUNT),
            ("RecordingUrl", &next_url),
            ("RecordingSid", next),
            ("Digits", "#"),
        ],
    );
    let (_, again) = send(&state, retried).await;
    assert_eq!(again, failed);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 2, "{turns:?}");
    assert!(turns[1].error.is_some());
}
