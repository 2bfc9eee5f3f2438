//! Whole calls against agents written here (axum on 127.0.0.1), which check every webhook's
//! signature with kav-twilio-sig as a real deployment behind a TLS proxy would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kav_audio_codec::wav;
use kav_callsim::{CallReport, CallScript, EndReason, Event, Purpose, SimConfig, Simulator, Turn};
use kav_twilio_sig::{RequestValidator, Scheme, SecretString, TwilioSignatureLayer, UrlSource};
use kav_twiml::voice::{Gather, Hangup, Play, Record, Say, VoiceResponse};
use kav_twiml::{DtmfKeys, GatherInput, Url};

const TOKEN: &str = "test-auth-token";
const PUBLIC: &str = "https://agent.example.com";
const CALL_SID: &str = "CA0123456789abcdef0123456789abcdef";

type Params = HashMap<String, String>;

#[derive(Clone, Default)]
struct Agent {
    /// Turns after which the agent says goodbye and hangs up.
    turns: usize,
    /// Every webhook: path and parameters.
    seen: Arc<Mutex<Vec<(String, Params)>>>,
    /// Format of every recording fetched: (rate, channels, frames).
    recordings: Arc<Mutex<Vec<(u32, u16, usize)>>>,
}

fn xml(twiml: &VoiceResponse) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], twiml.to_xml()).into_response()
}

fn public(path: &str) -> Url {
    Url::parse(PUBLIC).unwrap().join(path).unwrap()
}

fn record_verb() -> Record {
    Record::new()
        .action(Url::relative("/webhook/handle_recording").unwrap())
        .recording_status_callback(Url::relative("/webhook/recording_status").unwrap())
        .finish_on_key(DtmfKeys::new("#").unwrap())
        .max_length(30)
        .timeout(3)
}

fn gather_verb(prompt: &str) -> Gather {
    Gather::new()
        .input([GatherInput::Speech])
        .language("en-US")
        .action(public("/webhook/gather"))
        .say(Say::new(prompt))
}

fn tone(rate: u32, channels: u16, ms: u32) -> Vec<u8> {
    let frames = rate * ms / 1000;
    let mut samples = Vec::new();
    for i in 0..frames {
        let v = ((f64::from(i) * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 8000.0)
            as i16;
        for _ in 0..channels {
            samples.push(v);
        }
    }
    wav::encode_pcm16(&samples, rate, channels)
}

impl Agent {
    fn log(&self, path: &str, params: &Params) -> usize {
        let mut seen = self.seen.lock().unwrap();
        seen.push((path.to_owned(), params.clone()));
        seen.iter().filter(|(p, _)| p == path).count()
    }
}

async fn incoming_record(State(agent): State<Agent>, Form(p): Form<Params>) -> Response {
    agent.log("/webhook/incoming_call", &p);
    xml(&VoiceResponse::new()
        .play(Play::new(public("/media/greeting.wav")))
        .record(record_verb()))
}

async fn handle_recording(State(agent): State<Agent>, Form(p): Form<Params>) -> Response {
    let n = agent.log("/webhook/handle_recording", &p);
    let url = p.get("RecordingUrl").cloned().unwrap_or_default();
    let client = reqwest::Client::new();
    // Without credentials the recordings host refuses, as Twilio's API does.
    let anonymous = client.get(format!("{url}.wav")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let response = client
        .get(format!("{url}.wav"))
        .basic_auth(p["AccountSid"].clone(), Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let decoded = wav::decode(&bytes).unwrap();
    agent.recordings.lock().unwrap().push((
        decoded.sample_rate,
        decoded.channels,
        decoded.frames(),
    ));
    if n >= agent.turns {
        return xml(&VoiceResponse::new()
            .say(Say::new("Goodbye"))
            .hangup(Hangup::new()));
    }
    xml(&VoiceResponse::new()
        .say(Say::new(format!("Got turn {n}. Go on.")))
        .record(record_verb()))
}

async fn incoming_gather(State(agent): State<Agent>, Form(p): Form<Params>) -> Response {
    agent.log("/webhook/incoming_call", &p);
    xml(&VoiceResponse::new().gather(gather_verb("How can I help?")))
}

async fn gather(State(agent): State<Agent>, Form(p): Form<Params>) -> Response {
    let n = agent.log("/webhook/gather", &p);
    let heard = p.get("SpeechResult").cloned().unwrap_or_default();
    if n >= agent.turns {
        return xml(&VoiceResponse::new()
            .say(Say::new(format!("You said {heard}. Goodbye")))
            .hangup(Hangup::new()));
    }
    xml(&VoiceResponse::new().gather(gather_verb(&format!("You said {heard}. Anything else?"))))
}

async fn call_status(State(agent): State<Agent>, Form(p): Form<Params>) -> &'static str {
    agent.log("/webhook/call_status", &p);
    ""
}

async fn recording_status(State(agent): State<Agent>, Form(p): Form<Params>) -> &'static str {
    agent.log("/webhook/recording_status", &p);
    ""
}

async fn greeting() -> Response {
    ([(header::CONTENT_TYPE, "audio/wav")], tone(8000, 1, 500)).into_response()
}

/// Serves the agent behind the signature layer; returns its local address.
async fn serve(router: Router<Agent>, agent: Agent, source: UrlSource) -> String {
    let validator = RequestValidator::new(SecretString::from(TOKEN.to_owned()));
    let app = router
        .route("/webhook/call_status", post(call_status))
        .route("/webhook/recording_status", post(recording_status))
        .route("/media/greeting.wav", get(greeting))
        .layer(TwilioSignatureLayer::new(validator, source))
        .with_state(agent);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn config(server: &str) -> SimConfig {
    SimConfig::new(server, PUBLIC, SecretString::from(TOKEN.to_owned()))
        .unwrap()
        .with_call_sid(CALL_SID)
        .unwrap()
}

fn no_errors(report: &CallReport) {
    assert!(
        report.notifications.is_empty(),
        "{:#?}\n{}",
        report.notifications,
        report.transcript()
    );
}

#[tokio::test]
async fn record_mode_whole_call() {
    let agent = Agent {
        turns: 3,
        ..Agent::default()
    };
    let router = Router::new()
        .route("/webhook/incoming_call", post(incoming_record))
        .route("/webhook/handle_recording", post(handle_recording));
    // The agent rebuilds its public URL from the proxy headers the simulator sends.
    let server = serve(
        router,
        agent.clone(),
        UrlSource::TrustedProxy {
            fallback_scheme: Scheme::Http,
        },
    )
    .await;
    let script = CallScript::new()
        .turn(Turn::text("I need a taxi"))
        .turn(Turn::wav("stereo 16 kHz", tone(16000, 2, 1200)).with_text("a tone"))
        .turn(Turn::text("to the airport please"))
        .stay_on_line(true);
    let report = Simulator::new(config(&server).with_status_callback("/webhook/call_status"))
        .run(&script)
        .await
        .unwrap();
    no_errors(&report);
    assert_eq!(report.ended_by, EndReason::AgentHangup);
    assert_eq!(report.status, "completed");

    let seen = agent.seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/webhook/call_status",
            "/webhook/incoming_call",
            "/webhook/call_status",
            "/webhook/handle_recording",
            "/webhook/recording_status",
            "/webhook/handle_recording",
            "/webhook/recording_status",
            "/webhook/handle_recording",
            "/webhook/recording_status",
            "/webhook/call_status",
        ]
    );
    for (_, p) in seen
        .iter()
        .filter(|(p, _)| p == "/webhook/recording_status")
    {
        assert_eq!(p["RecordingStatus"], "completed");
        assert_eq!(p["CallSid"], CALL_SID);
        assert!(p["RecordingUrl"].contains(&p["RecordingSid"]));
    }
    let statuses: Vec<&str> = seen
        .iter()
        .filter(|(p, _)| p == "/webhook/call_status")
        .map(|(_, q)| q["CallStatus"].as_str())
        .collect();
    assert_eq!(statuses, ["ringing", "in-progress", "completed"]);
    let completed = &seen.last().unwrap().1;
    assert!(completed["CallDuration"].parse::<u64>().unwrap() >= 1);
    assert_eq!(completed["Duration"], "1");

    let incoming = &seen[1].1;
    assert_eq!(incoming["CallSid"], CALL_SID);
    assert_eq!(incoming["ApiVersion"], "2010-04-01");
    assert_eq!(incoming["Direction"], "inbound");
    assert_eq!(incoming["CallStatus"], "ringing");
    assert_eq!(incoming["FromCountry"], "IL");
    assert!(incoming["AccountSid"].starts_with("AC"));
    for (_, p) in seen
        .iter()
        .filter(|(p, _)| p == "/webhook/handle_recording")
    {
        assert!(p["RecordingSid"].starts_with("RE") && p["RecordingSid"].len() == 34);
        assert!(p["RecordingDuration"].parse::<u32>().unwrap() >= 1);
        assert_eq!(p["Digits"], "#");
    }
    // Every recording is what Twilio records: 8 kHz mono.
    let recordings = agent.recordings.lock().unwrap().clone();
    assert_eq!(recordings.len(), 3);
    assert!(
        recordings
            .iter()
            .all(|&(rate, ch, _)| rate == 8000 && ch == 1)
    );
    // The 1.2 s WAV turn keeps its length through the conversion.
    assert!((9000..=10_000).contains(&recordings[1].2), "{recordings:?}");

    let played: Vec<&Event> = report
        .events
        .iter()
        .filter(|e| matches!(e, Event::Play { .. }))
        .collect();
    assert_eq!(played.len(), 1);
    assert_eq!(report.media.len(), 1);
    assert!(matches!(
        played[0],
        Event::Play { url, duration_ms: Some(500), .. } if url == "https://agent.example.com/media/greeting.wav"
    ));
    // The audio can be kept: what was played and what was recorded.
    let dir = std::env::temp_dir().join(format!("callsim-save-{}", std::process::id()));
    let files = report.save_audio(&dir).unwrap();
    assert_eq!(files.len(), 4);
    assert!(files[0].ends_with("play-1.wav"));
    let saved = wav::decode(&std::fs::read(&files[1]).unwrap()).unwrap();
    assert_eq!((saved.sample_rate, saved.channels), (8000, 1));
    std::fs::remove_dir_all(&dir).unwrap();

    let transcript = report.transcript();
    println!("{transcript}");
    assert!(
        transcript.contains("caller says: I need a taxi"),
        "{transcript}"
    );
    assert!(
        transcript.contains("agent says [man en-US]: Goodbye"),
        "{transcript}"
    );
}

#[tokio::test]
async fn record_mode_caller_hangs_up_after_last_turn() {
    let agent = Agent {
        turns: 5,
        ..Agent::default()
    };
    let router = Router::new()
        .route("/webhook/incoming_call", post(incoming_record))
        .route("/webhook/handle_recording", post(handle_recording));
    let server = serve(
        router,
        agent.clone(),
        UrlSource::configured(PUBLIC).unwrap(),
    )
    .await;
    // Hebrew turns, spoken by espeak-ng's Hebrew voice.
    let script = CallScript::new()
        .turn(Turn::text("שלום, אני צריך מונית"))
        .turn(Turn::text("לשדה התעופה"));
    let report = Simulator::new(config(&server).with_espeak("espeak-ng", Some("he".to_owned())))
        .run(&script)
        .await
        .unwrap();
    no_errors(&report);
    assert_eq!(report.ended_by, EndReason::CallerHangup);
    let seen = agent.seen.lock().unwrap().clone();
    let digits: Vec<&str> = seen
        .iter()
        .filter(|(p, _)| p == "/webhook/handle_recording")
        .map(|(_, q)| q["Digits"].as_str())
        .collect();
    assert_eq!(digits, ["#", "hangup"]);
    let recordings = agent.recordings.lock().unwrap().clone();
    assert_eq!(recordings.len(), 2);
    assert!(
        recordings
            .iter()
            .all(|&(rate, ch, frames)| rate == 8000 && ch == 1 && frames > 4000)
    );
}

#[tokio::test]
async fn recordings_host_on_a_fixed_address() {
    let agent = Agent {
        turns: 2,
        ..Agent::default()
    };
    let router = Router::new()
        .route("/webhook/incoming_call", post(incoming_record))
        .route("/webhook/handle_recording", post(handle_recording));
    let server = serve(
        router,
        agent.clone(),
        UrlSource::configured(PUBLIC).unwrap(),
    )
    .await;
    let script = CallScript::new()
        .turn(Turn::wav("tone", tone(8000, 1, 600)))
        .turn(Turn::wav("tone", tone(8000, 1, 600)))
        .stay_on_line(true);

    // An address that is taken: the call does not start.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap();
    let err = Simulator::new(config(&server).with_recordings_addr(taken_addr))
        .run(&script)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kav_callsim::Error::RecordingsHost(_)),
        "{err:?}"
    );
    assert!(agent.seen.lock().unwrap().is_empty());

    // A free address, known before the call: every RecordingUrl is on it.
    drop(taken);
    let config = config(&server).with_recordings_addr(taken_addr);
    assert_eq!(config.recordings_addr(), Some(taken_addr));
    let report = Simulator::new(config).run(&script).await.unwrap();
    no_errors(&report);
    assert_eq!(report.ended_by, EndReason::AgentHangup);
    let prefix = format!(
        "http://{taken_addr}/2010-04-01/Accounts/{}/Recordings/RE",
        kav_callsim::DEFAULT_ACCOUNT_SID
    );
    let seen = agent.seen.lock().unwrap().clone();
    let urls: Vec<&str> = seen
        .iter()
        .filter(|(p, _)| p == "/webhook/handle_recording")
        .map(|(_, q)| q["RecordingUrl"].as_str())
        .collect();
    assert_eq!(urls.len(), 2, "{}", report.transcript());
    assert!(urls.iter().all(|u| u.starts_with(&prefix)), "{urls:?}");
    assert_eq!(agent.recordings.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn gather_mode_whole_call() {
    let agent = Agent {
        turns: 2,
        ..Agent::default()
    };
    let router = Router::new()
        .route("/webhook/incoming_call", post(incoming_gather))
        .route("/webhook/gather", post(gather));
    let server = serve(
        router,
        agent.clone(),
        UrlSource::configured(PUBLIC).unwrap(),
    )
    .await;
    let script = CallScript::new()
        .turn(Turn::text("what time is it"))
        .turn(Turn::text("thanks"));
    let report = Simulator::new(config(&server)).run(&script).await.unwrap();
    no_errors(&report);
    assert_eq!(report.ended_by, EndReason::AgentHangup);
    let seen = agent.seen.lock().unwrap().clone();
    let gathered: Vec<(&str, &str)> = seen
        .iter()
        .filter(|(p, _)| p == "/webhook/gather")
        .map(|(_, q)| (q["SpeechResult"].as_str(), q["Confidence"].as_str()))
        .collect();
    assert_eq!(gathered, [("what time is it", "0.9"), ("thanks", "0.9")]);
    let says: Vec<&str> = report
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Say { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        says,
        [
            "How can I help?",
            "You said what time is it. Anything else?",
            "You said thanks. Goodbye"
        ]
    );

    // The JSON structure is stable: compare with the golden file (timings zeroed).
    let mut json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    for request in json["requests"].as_array_mut().unwrap() {
        request["elapsed_ms"] = 0.into();
    }
    for time in json["event_times"].as_array_mut().unwrap() {
        time["wall_ms"] = 0.into();
    }
    json["wall_ms"] = 0.into();
    if std::env::var_os("KAV_UPDATE_GOLDEN").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/gather_call.json");
        std::fs::write(path, serde_json::to_string_pretty(&json).unwrap() + "\n").unwrap();
    }
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("golden/gather_call.json")).unwrap();
    assert_eq!(
        json,
        golden,
        "{}",
        serde_json::to_string_pretty(&json).unwrap()
    );
}

#[tokio::test]
async fn bad_caller_audio_fails_before_the_call() {
    let agent = Agent::default();
    let router = Router::new().route("/webhook/incoming_call", post(incoming_record));
    let server = serve(
        router,
        agent.clone(),
        UrlSource::configured(PUBLIC).unwrap(),
    )
    .await;
    let script = CallScript::new().turn(Turn::wav("broken.wav", b"RIFF....WAVEjunk".to_vec()));
    let err = Simulator::new(config(&server))
        .run(&script)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kav_callsim::Error::CallerAudio { .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "caller audio `broken.wav` is not a usable WAV file"
    );
    assert!(agent.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn wrong_token_is_refused_by_the_agent() {
    let agent = Agent::default();
    let router = Router::new().route("/webhook/incoming_call", post(incoming_gather));
    let server = serve(
        router,
        agent.clone(),
        UrlSource::configured(PUBLIC).unwrap(),
    )
    .await;
    let config = SimConfig::new(&server, PUBLIC, SecretString::from("wrong".to_owned())).unwrap();
    let report = Simulator::new(config)
        .run(&CallScript::new())
        .await
        .unwrap();
    assert_eq!(report.codes(), [11200]);
    assert_eq!(report.requests[0].status, Some(403));
    assert!(agent.seen.lock().unwrap().is_empty());
}

/// An agent whose voice URL answers with a fixed response.
async fn fixed(status: u16, content_type: &'static str, body: &'static str) -> String {
    let app = Router::new()
        .route(
            "/webhook/incoming_call",
            post(move || async move {
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [(header::CONTENT_TYPE, content_type)],
                    body,
                )
            }),
        )
        .route(
            "/page",
            get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html></html>") }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "<Response/>"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn codes_for(status: u16, content_type: &'static str, body: &'static str) -> CallReport {
    let server = fixed(status, content_type, body).await;
    Simulator::new(config(&server))
        .run(&CallScript::new())
        .await
        .unwrap()
}

#[tokio::test]
async fn twilio_error_codes() {
    let r = codes_for(500, "text/plain", "boom").await;
    assert_eq!(r.codes(), [11200]);
    assert_eq!(r.ended_by, EndReason::Error);
    assert_eq!(r.status, "failed");

    let r = codes_for(200, "text/xml", "<Response><Say>hi</Response>").await;
    assert_eq!(r.codes(), [12100]);

    let r = codes_for(200, "application/json", "{}").await;
    assert_eq!(r.codes(), [12300]);

    let r = codes_for(
        200,
        "text/xml",
        "<Response><Record timeout=\"soon\"/></Response>",
    )
    .await;
    assert_eq!(r.codes(), [12200]);

    let r = codes_for(
        200,
        "text/xml",
        "<Response><Play>agent.example.com/a.wav</Play></Response>",
    )
    .await;
    assert_eq!(r.codes(), [11100]);

    let r = codes_for(
        200,
        "text/xml",
        "<Response><Say language=\"he-IL\">שלום</Say></Response>",
    )
    .await;
    assert_eq!(r.codes(), [13512]);
    assert!(!r.has_errors());
    assert_eq!(r.ended_by, EndReason::EndOfTwiml);

    let r = codes_for(
        200,
        "text/xml",
        "<Response><Say language=\"he-IL\" voice=\"Google.he-IL-Standard-A\">שלום</Say></Response>",
    )
    .await;
    assert!(r.codes().is_empty());

    // <Play> of a page that is not audio: 12300, and the call goes on.
    let r = codes_for(
        200,
        "text/xml",
        "<Response><Play>/page</Play><Say>after</Say></Response>",
    )
    .await;
    assert_eq!(r.codes(), [12300]);
    assert!(matches!(r.events.last(), Some(Event::Say { text, .. }) if text == "after"));
    assert_eq!(r.requests[1].purpose, Purpose::Media);
    assert_eq!(r.requests[1].url, "https://agent.example.com/page");

    // A response slower than the limit: 11205.
    let server = fixed(200, "text/xml", "<Response/>").await;
    let r = Simulator::new(
        config(&server)
            .with_voice_url_path("/slow")
            .unwrap()
            .with_timeouts(Duration::from_millis(300), Duration::from_millis(300)),
    )
    .run(&CallScript::new())
    .await
    .unwrap();
    assert_eq!(r.codes(), [11205]);

    // Nothing listening: 11205.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let r = Simulator::new(config(&format!("http://{addr}")))
        .run(&CallScript::new())
        .await
        .unwrap();
    assert_eq!(r.codes(), [11205]);
    assert_eq!(r.requests[0].status, None);
}
