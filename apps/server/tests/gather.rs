//! Gather mode: `/webhook/incoming_call` and `/webhook/gather`, with `oneshot` (the TwiML) and
//! as a whole call placed by kav-callsim's simulator over a real socket.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{TempDir, sqlite_store};
use http_body_util::BodyExt as _;
use kav_llm::ScriptedResponder;
use kav_llm::{BoxError, ChatModel, Error as LlmError, Message, Provider, Reply, TokenStream};
use kav_server::{Agent, AppState, Config, app};
use kav_twilio_sig::{RequestValidator, SecretString};
use kav_twiml::voice::{Verb, VoiceResponse};
use tower::ServiceExt as _;

const TOKEN: &str = "test-auth-token-0123456789";
const BASE: &str = "https://agent.example.com/kav";
const SID: &str = "CA0123456789abcdef0123456789abcdef";

async fn state(vars: &[(&str, &str)], agent: Option<Agent>) -> (AppState, TempDir) {
    let (store, dir) = sqlite_store().await;
    let mut all = vec![
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("PUBLIC_BASE_URL", BASE),
        ("KAV_TTS", "off"),
    ];
    all.extend_from_slice(vars);
    let config = Config::from_vars(all).unwrap();
    let agent = agent.unwrap_or_else(|| Agent::scripted(ScriptedResponder::builtin(), None));
    (AppState::with_agent(config, store, agent), dir)
}

fn signed(path: &str, params: &[(&str, &str)]) -> Request<Body> {
    let signature = RequestValidator::new(SecretString::from(TOKEN.to_owned()))
        .compute_signature(&format!("{BASE}{path}"), params);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Request::post(path)
        .header(header::HOST, "internal:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(Body::from(body))
        .unwrap()
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn incoming() -> Request<Body> {
    signed(
        "/webhook/incoming_call",
        &[
            ("CallSid", SID),
            ("CallStatus", "ringing"),
            ("From", "+972501234567"),
            ("To", "+97231234567"),
        ],
    )
}

fn speech(text: &str) -> Request<Body> {
    signed(
        "/webhook/gather",
        &[("CallSid", SID), ("SpeechResult", text)],
    )
}

#[tokio::test]
async fn incoming_call_greets_inside_a_speech_gather() {
    let (state, _dir) = state(&[], None).await;
    let (status, body) = send(&state, incoming()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>\
         <Gather action=\"https://agent.example.com/kav/webhook/gather?turn=0\" input=\"speech\" \
         language=\"he-IL\" method=\"POST\" speechTimeout=\"auto\">\
         <Say language=\"he-IL\" voice=\"Google.he-IL-Standard-A\">\
         שלום, הגעתם לעוזר הקולי. איך אפשר לעזור?</Say></Gather></Response>"
    );
    // Stored once, even when Twilio retries.
    assert_eq!(send(&state, incoming()).await.0, StatusCode::OK);
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 1);
    let call = state.store().call(SID).await.unwrap().unwrap();
    assert_eq!(call.status, "ringing");
    assert_eq!(call.mode.as_deref(), Some("gather"));
}

#[tokio::test]
async fn language_and_voice_are_configurable_and_unsigned_is_refused() {
    let (state, _dir) = state(
        &[("KAV_LANGUAGE", "en-US"), ("KAV_SAY_VOICE", "Polly.Joanna")],
        None,
    )
    .await;
    let (_, body) = send(&state, incoming()).await;
    let twiml = VoiceResponse::parse(&body).unwrap();
    let Verb::Gather(gather) = &twiml.verbs()[0] else {
        panic!("{body}")
    };
    assert_eq!(gather.language.as_deref(), Some("en-US"));
    assert!(body.contains("voice=\"Polly.Joanna\""), "{body}");

    let mut request = incoming();
    request.headers_mut().remove("X-Twilio-Signature");
    let response = app(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_turn_is_answered_stored_and_remembered() {
    let (state, _dir) = state(&[], None).await;
    send(&state, incoming()).await;
    let (status, body) = send(&state, speech("מה שעות הפתיחה שלכם?")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("פתוחים"), "{body}");
    // The next turn's index rides in the action URL (see the retry test below).
    assert!(body.contains("action=\"https://agent.example.com/kav/webhook/gather?turn=1\""));
    send(&state, speech("I want to speak to a human")).await;
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0].transcript.as_deref(), Some("מה שעות הפתיחה שלכם?"));
    assert!(turns[0].reply.as_deref().unwrap().contains("פתוחים"));
    assert!(turns[0].llm_ms.is_some() && turns[0].error.is_none());
    assert_eq!(turns[1].index, 1);
}

#[tokio::test]
async fn a_request_twilio_sends_again_is_answered_again_without_a_second_turn() {
    let (state, _dir) = state(&[], None).await;
    send(&state, incoming()).await;
    let said = [("CallSid", SID), ("SpeechResult", "מה שעות הפתיחה שלכם?")];
    let (_, first) = send(&state, signed("/webhook/gather?turn=0", &said)).await;
    assert!(first.contains("פתוחים"), "{first}");
    assert!(first.contains("/webhook/gather?turn=1"), "{first}");
    // Twilio retries the same request (same signed URL, same parameters): the same answer, and
    // nothing stored twice.
    let (status, again) = send(&state, signed("/webhook/gather?turn=0", &said)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first);
    assert_eq!(state.store().turns(SID).await.unwrap().len(), 1);

    // A failed turn (nothing heard), sent twice: the fallback twice, one failed turn stored.
    let nothing = [("CallSid", SID)];
    let (_, fallback) = send(&state, signed("/webhook/gather?turn=1", &nothing)).await;
    let (_, fallback_again) = send(&state, signed("/webhook/gather?turn=1", &nothing)).await;
    assert_eq!(fallback_again, fallback);
    assert!(fallback.contains("/webhook/gather?turn=2"), "{fallback}");
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 2);
    assert!(turns[1].error.is_some());

    // The next turn at the index the action URL gave is a new turn, even when the caller says
    // the same words again.
    let (_, next) = send(&state, signed("/webhook/gather?turn=2", &said)).await;
    assert!(next.contains("/webhook/gather?turn=3"), "{next}");
    assert_eq!(state.store().turns(SID).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_goodbye_from_the_scripted_agent_ends_the_call() {
    let (state, _dir) = state(&[], None).await;
    send(&state, speech("מה שעות הפתיחה שלכם?")).await;
    let (status, body) = send(&state, speech("תודה רבה, להתראות")).await;
    assert_eq!(status, StatusCode::OK);
    let twiml = VoiceResponse::parse(&body).unwrap();
    let verbs = twiml.verbs();
    assert_eq!(verbs.len(), 2, "{body}");
    let mut say = String::new();
    let Verb::Say(first) = &verbs[0] else {
        panic!("{body}")
    };
    first.write_xml(&mut say);
    assert!(say.contains("Thank you for calling"), "{say}");
    assert!(matches!(verbs[1], Verb::Hangup(_)), "{body}");
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 2);
    assert!(
        turns[1]
            .reply
            .as_deref()
            .unwrap()
            .contains("Thank you for calling")
    );
    assert!(turns[1].error.is_none());
}

#[tokio::test]
async fn empty_speech_reprompts_then_says_goodbye() {
    let (state, _dir) = state(&[("KAV_MAX_FAILED_TURNS", "2")], None).await;
    let (status, body) = send(&state, speech("")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("סליחה, לא הצלחתי להבין"), "{body}");
    assert!(body.contains("<Gather"), "{body}");
    let (_, body) = send(&state, signed("/webhook/gather", &[("CallSid", SID)])).await;
    assert!(body.contains("להתראות"), "{body}");
    assert!(body.ends_with("<Hangup/></Response>"), "{body}");
    assert!(!body.contains("<Gather"), "{body}");
    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 2);
    assert!(
        turns
            .iter()
            .all(|t| t.error.as_deref() == Some("no speech"))
    );
}

/// A model that fails, or never answers.
#[derive(Debug)]
struct Broken {
    hang: bool,
}

impl ChatModel for Broken {
    fn provider(&self) -> Provider {
        ScriptedResponder::builtin().provider()
    }

    fn reply<'a>(
        &'a self,
        _messages: &'a [Message],
    ) -> futures_util::future::BoxFuture<'a, Result<Reply, LlmError>> {
        let hang = self.hang;
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            Err(LlmError::Transport {
                provider: self.provider(),
                source: BoxError::from("connection refused"),
            })
        })
    }

    fn reply_stream<'a>(&'a self, _messages: &'a [Message]) -> TokenStream<'a> {
        Box::pin(futures_util::stream::empty())
    }
}

#[tokio::test]
async fn failing_or_hanging_model_gives_the_fallback_not_a_5xx() {
    for hang in [false, true] {
        let agent = Agent::new(Arc::new(Broken { hang }), None);
        let (state, _dir) = state(&[("KAV_TURN_TIMEOUT_SECS", "1")], Some(agent)).await;
        let (status, body) = send(&state, speech("hello")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("סליחה, לא הצלחתי להבין"), "{body}");
        assert!(body.contains("<Gather"), "{body}");
        let turns = state.store().turns(SID).await.unwrap();
        assert!(turns[0].error.as_deref().unwrap().starts_with("llm: "));
        let metrics = state.metrics().render(None);
        assert!(
            metrics.contains("kav_provider_errors_total{provider="),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn whole_call_through_the_simulator() {
    use kav_callsim::{CallScript, EndReason, Event, SimConfig, Simulator, Turn};
    // With espeak-ng (installed on CI) the replies are <Play> of /media/{id}.
    let (store, dir) = sqlite_store().await;
    let config = Config::from_vars([
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("PUBLIC_BASE_URL", BASE),
        ("KAV_DATA_DIR", dir.path().to_str().unwrap()),
        ("ADMIN_TOKEN", "admin-token-0123456789"),
    ])
    .unwrap();
    let agent = Agent::from_config(&config);
    assert!(agent.tts().is_some(), "espeak-ng is not installed");
    let state = AppState::with_agent(config, store, agent);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let serving = state.clone();
    tokio::spawn(async move { axum::serve(listener, app(serving)).await });

    let sim = SimConfig::new(&server, BASE, SecretString::from(TOKEN.to_owned()))
        .unwrap()
        .with_call_sid(SID)
        .unwrap()
        .with_timeouts(Duration::from_secs(30), Duration::from_secs(5));
    let script = CallScript::new()
        .turn(Turn::text("מה שעות הפתיחה שלכם?"))
        .turn(Turn::text("I want to speak to a human"));
    let report = Simulator::new(sim).run(&script).await.unwrap();
    assert!(!report.has_errors(), "{}", report.transcript());
    assert_eq!(
        report.ended_by,
        EndReason::CallerHangup,
        "{}",
        report.transcript()
    );
    let plays = report
        .events
        .iter()
        .filter(|e| matches!(e, Event::Play { .. }))
        .count();
    assert_eq!(plays, 3, "{}", report.transcript());

    let turns = state.store().turns(SID).await.unwrap();
    assert_eq!(turns.len(), 2);
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
            .all(|t| t.tts_audio_id.is_some() && t.error.is_none())
    );

    // The call shows in the admin history: JSON and the HTML page, with playable replies.
    let admin = async |uri: String| {
        let request = Request::get(uri)
            .header(header::AUTHORIZATION, "Bearer admin-token-0123456789")
            .body(Body::empty())
            .unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let (status, body) = admin(format!("/api/calls/{SID}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let call: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(call["sid"], SID);
    assert_eq!(call["first_words"], "מה שעות הפתיחה שלכם?");
    assert_eq!(call["turns"][0]["transcript"], "מה שעות הפתיחה שלכם?");
    let audio = call["turns"][0]["reply_audio_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(audio.starts_with("/media/"), "{audio}");
    assert_eq!(admin(audio.clone()).await.0, StatusCode::OK);
    let (status, page) = admin(format!("/calls/{SID}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("מה שעות הפתיחה שלכם?"));
    assert!(page.contains(&format!(r#"<audio controls preload="none" src="{audio}">"#)));
    let (_, list) = admin("/calls".to_owned()).await;
    assert!(list.contains(&format!(r#"href="/calls/{SID}""#)));
}

#[tokio::test]
async fn recording_status_is_stored_once() {
    let (state, _dir) = state(&[], None).await;
    let params = [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("CallSid", SID),
        ("RecordingSid", "RE0123456789abcdef0123456789abcdef"),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "4"),
        (
            "RecordingUrl",
            "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Recordings/RE0123456789abcdef0123456789abcdef",
        ),
    ];
    for _ in 0..2 {
        let response = app(state.clone())
            .oneshot(signed("/webhook/recording_status", &params))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let events = state
        .store()
        .recording_events("RE0123456789abcdef0123456789abcdef")
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "completed");
    assert_eq!(events[0].2, Some(4));
    // Bad input: 200, nothing stored.
    let bad = signed("/webhook/recording_status", &[("RecordingSid", "RE1")]);
    assert_eq!(
        app(state.clone()).oneshot(bad).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn incoming_call_preview_needs_the_admin_token() {
    let preview = |token: Option<&str>| {
        let mut request = Request::get("/webhook/incoming_call_preview");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(Body::empty()).unwrap()
    };
    let (state, _dir) = state(&[], None).await;
    let response = app(state.clone()).oneshot(preview(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    // Off, and it says so (like every admin route).
    assert_eq!(
        &body[..],
        b"admin routes are off: set ADMIN_TOKEN to enable them\n"
    );

    let admin = "admin-token-0123456789";
    let (state, _dir) = self::state(&[("ADMIN_TOKEN", admin)], None).await;
    for wrong in [None, Some("admin-token-0123456780"), Some("short")] {
        let response = app(state.clone()).oneshot(preview(wrong)).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let (status, body) = send(&state, preview(Some(admin))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<Gather action=\"https://agent.example.com/kav/webhook/gather?turn=0\"")
    );
    assert!(state.store().call(SID).await.unwrap().is_none());
}

#[tokio::test]
async fn without_public_base_url_urls_follow_the_signature_check() {
    let params = [("CallSid", SID), ("CallStatus", "ringing")];
    let sign = |url: &str| {
        RequestValidator::new(SecretString::from(TOKEN.to_owned())).compute_signature(url, &params)
    };
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    for (trust, expected_base) in [
        ("false", "http://internal:8080"),
        ("true", "https://public.example.com"),
    ] {
        let (store, _dir) = sqlite_store().await;
        let config = Config::from_vars([
            ("TWILIO_AUTH_TOKEN", TOKEN),
            ("TRUST_PROXY_HEADERS", trust),
            ("KAV_TTS", "off"),
        ])
        .unwrap();
        let agent = Agent::new(Arc::new(ScriptedResponder::builtin()), None);
        let state = AppState::with_agent(config, store, agent);
        let request = Request::post("/webhook/incoming_call")
            .header(header::HOST, "internal:8080")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "public.example.com")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(
                "X-Twilio-Signature",
                sign(&format!("{expected_base}/webhook/incoming_call")),
            )
            .body(Body::from(body.clone()))
            .unwrap();
        let (status, body) = send(&state, request).await;
        assert_eq!(status, StatusCode::OK);
        let action = format!("action=\"{expected_base}/webhook/gather?turn=0\"");
        assert!(body.contains(&action), "{body}");
    }
}
