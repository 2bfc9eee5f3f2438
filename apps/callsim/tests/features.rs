//! `<Start><Recording>`, `<Dial>`, the fallback URL and connection overrides, real time, WAV
//! turns in a speech `<Gather>` and MP3 recording requests, against local agents that check
//! every signature.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kav_audio_codec::wav;
use kav_callsim::{CallScript, DialOutcome, EndReason, Event, Purpose, SimConfig, Simulator, Turn};
use kav_twilio_sig::{RequestValidator, SecretString};

const TOKEN: &str = "features-token";
const PUBLIC: &str = "https://agent.example.com";

/// How the agent answers a path.
#[derive(Clone)]
enum Page {
    /// TwiML.
    Twiml(&'static str),
    /// An HTTP status with an empty body.
    Status(u16),
    /// This status for the first `n` requests, then the TwiML.
    FailThen(u16, usize, &'static str),
    /// The TwiML after a delay.
    Slow(Duration, &'static str),
    /// The n-th document for the n-th request (the last one after that).
    Sequence(Vec<&'static str>),
    /// A WAV file.
    Wav(Vec<u8>),
    /// A recording status callback: fetches completed recordings (bare, `.wav`, `.mp3`).
    RecordingStatus,
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    params: HashMap<String, String>,
}

/// What the agent fetched from the recordings host: (suffix, status, bytes).
type Fetches = Arc<Mutex<Vec<(String, u16, Vec<u8>)>>>;

#[derive(Clone)]
struct Agent {
    pages: Arc<HashMap<&'static str, Page>>,
    log: Arc<Mutex<Vec<Seen>>>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    fetches: Fetches,
}

impl Agent {
    fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.path).collect()
    }

    fn params(&self, path: &str) -> Vec<HashMap<String, String>> {
        self.seen()
            .into_iter()
            .filter(|s| s.path == path)
            .map(|s| s.params)
            .collect()
    }
}

async fn agent(pages: Vec<(&'static str, Page)>) -> (String, Agent) {
    let agent = Agent {
        pages: Arc::new(pages.into_iter().collect()),
        log: Arc::default(),
        counts: Arc::default(),
        fetches: Arc::default(),
    };
    let app = Router::new().fallback(handler).with_state(agent.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), agent)
}

fn xml(twiml: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], twiml).into_response()
}

async fn handler(
    State(agent): State<Agent>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{PUBLIC}{path_and_query}");
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let validator = RequestValidator::new(SecretString::from(TOKEN.to_owned()));
    if validator.validate(&url, &params, signature).is_err() {
        return (StatusCode::FORBIDDEN, "bad signature").into_response();
    }
    // GET callbacks carry their parameters in the query (signed as part of the URL).
    let mut params: HashMap<String, String> = params.into_iter().collect();
    if let Some(query) = uri.query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        params.extend(pairs);
    }
    agent.log.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        params: params.clone(),
    });
    let n = {
        let mut counts = agent.counts.lock().unwrap();
        let n = counts.entry(uri.path().to_owned()).or_default();
        *n += 1;
        *n
    };
    match agent.pages.get(uri.path()).cloned() {
        Some(Page::Twiml(twiml)) => xml(twiml),
        Some(Page::Status(status)) => StatusCode::from_u16(status).unwrap().into_response(),
        Some(Page::FailThen(status, failures, twiml)) => {
            if n <= failures {
                StatusCode::from_u16(status).unwrap().into_response()
            } else {
                xml(twiml)
            }
        }
        Some(Page::Sequence(docs)) => xml(docs[(n - 1).min(docs.len() - 1)]),
        Some(Page::Slow(delay, twiml)) => {
            tokio::time::sleep(delay).await;
            xml(twiml)
        }
        Some(Page::Wav(bytes)) => ([(header::CONTENT_TYPE, "audio/wav")], bytes).into_response(),
        Some(Page::RecordingStatus) => {
            if let Some(url) = params.get("RecordingUrl")
                && params.get("RecordingStatus").map(String::as_str) == Some("completed")
            {
                let client = reqwest::Client::new();
                for suffix in ["", ".wav", ".mp3"] {
                    let response = client
                        .get(format!("{url}{suffix}"))
                        .basic_auth(&params["AccountSid"], Some(TOKEN))
                        .send()
                        .await
                        .unwrap();
                    let status = response.status().as_u16();
                    let bytes = response.bytes().await.unwrap().to_vec();
                    agent
                        .fetches
                        .lock()
                        .unwrap()
                        .push((suffix.to_owned(), status, bytes));
                }
            }
            "".into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn config(server: &str) -> SimConfig {
    SimConfig::new(server, PUBLIC, SecretString::from(TOKEN.to_owned())).unwrap()
}

fn tone(ms: u32) -> Vec<u8> {
    let samples: Vec<i16> = (0..8 * ms)
        .map(|i| ((f64::from(i) * 0.3).sin() * 8000.0) as i16)
        .collect();
    wav::encode_pcm16(&samples, 8000, 1)
}

fn no_errors(report: &kav_callsim::CallReport) {
    assert!(
        !report.has_errors(),
        "{:#?}\n{}",
        report.notifications,
        report.transcript()
    );
}

#[tokio::test]
async fn start_recording_records_the_whole_call() {
    let (server, agent) = agent(vec![
        (
            "/webhook/incoming_call",
            Page::Twiml(
                "<Response><Start><Recording recordingStatusCallback=\"/webhook/recording_status\" \
                 recordingStatusCallbackEvent=\"in-progress completed absent\"/></Start>\
                 <Play>/media/hello.wav</Play>\
                 <Gather input=\"speech\" action=\"/webhook/gather\"><Say>Hi</Say></Gather></Response>",
            ),
        ),
        ("/media/hello.wav", Page::Wav(tone(1000))),
        (
            "/webhook/gather",
            Page::Twiml("<Response><Say>Bye</Say><Hangup/></Response>"),
        ),
        ("/webhook/recording_status", Page::RecordingStatus),
        ("/webhook/call_status", Page::Status(204)),
    ])
    .await;
    let script = CallScript::new().turn(Turn::wav("caller", tone(1500)).with_text("hello"));
    let report = Simulator::new(config(&server).with_status_callback("/webhook/call_status"))
        .run(&script)
        .await
        .unwrap();
    no_errors(&report);
    assert_eq!(report.ended_by, EndReason::AgentHangup);

    // in-progress when it starts, completed after the call's own completed callback.
    let paths = agent.paths();
    let last_two: Vec<&str> = paths[paths.len() - 2..]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        last_two,
        ["/webhook/call_status", "/webhook/recording_status"]
    );
    let callbacks = agent.params("/webhook/recording_status");
    let statuses: Vec<&str> = callbacks
        .iter()
        .map(|p| p["RecordingStatus"].as_str())
        .collect();
    assert_eq!(statuses, ["in-progress", "completed"]);
    let completed = &callbacks[1];
    let sid = &completed["RecordingSid"];
    assert!(sid.starts_with("RE") && sid.len() == 34);
    assert!(sid[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(callbacks[0]["RecordingSid"], *sid);
    assert_eq!(completed["RecordingSource"], "StartCallRecordingTwiML");
    assert_eq!(completed["RecordingChannels"], "2");
    assert_eq!(completed["ErrorCode"], "0");
    assert_eq!(completed["CallSid"], report.call_sid);
    assert!(completed["AccountSid"].starts_with("AC"));
    assert!(completed["RecordingStartTime"].ends_with("+0000"));
    let url = &completed["RecordingUrl"];
    assert!(url.ends_with(&format!("/Recordings/{sid}")), "{url}");
    // 1 s of play, "Hi", 1.5 s of caller, "Bye": 3 s once rounded up.
    assert_eq!(completed["RecordingDuration"], "3");
    assert!(!callbacks[0].contains_key("RecordingDuration"));

    // The bare URL and `.wav` serve the same dual-channel WAV; `.mp3` is a clear 415.
    let fetches = agent.fetches.lock().unwrap().clone();
    assert_eq!(fetches.len(), 3);
    assert_eq!((fetches[0].1, fetches[1].1), (200, 200));
    assert_eq!(fetches[0].2, fetches[1].2);
    let decoded = wav::decode(&fetches[0].2).unwrap();
    assert_eq!((decoded.sample_rate, decoded.channels), (8000, 2));
    let frames = decoded.frames();
    assert!((2500 * 8..3000 * 8).contains(&frames), "{frames}");
    // Channel 1 (the caller) is silent while the greeting plays on channel 2, then speaks.
    let at = |frame: usize, channel: usize| decoded.samples[frame * 2 + channel];
    let loud = |range: std::ops::Range<usize>, ch: usize| {
        range.map(|f| at(f, ch).unsigned_abs() as u64).sum::<u64>()
    };
    assert_eq!(loud(0..8000, 0), 0);
    assert!(loud(0..8000, 1) > 0);
    assert!(loud(8000..frames, 0) > 0);
    assert_eq!(fetches[2].1, 415);
    assert!(String::from_utf8_lossy(&fetches[2].2).contains("WAV only"));

    // The report has it: the outcome, the WAV, the MP3 warning.
    assert_eq!(report.call_recordings.len(), 1);
    let outcome = &report.call_recordings[0];
    assert_eq!(outcome.status, "completed");
    assert_eq!(outcome.callbacks, ["in-progress", "completed"]);
    assert_eq!(outcome.url.as_deref(), Some(url.as_str()));
    assert!(
        report
            .recordings
            .iter()
            .any(|r| r.sid == *sid && r.wav == fetches[0].2)
    );
    assert!(
        report
            .notifications
            .iter()
            .any(|n| n.message.contains(".mp3"))
    );
    assert!(matches!(
        report.events[0],
        Event::StartRecording { channels: 2, .. }
    ));
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["call_recordings"][0]["status"], "completed");
    assert!(report.transcript().contains("call recording RE"));
}

#[tokio::test]
async fn start_recording_mono_default_events_and_absent() {
    let (server, agent) = agent(vec![
        (
            "/webhook/incoming_call",
            Page::Twiml(
                "<Response><Start><Recording channels=\"mono\" recordingStatusCallback=\"/webhook/recording_status\"/></Start>\
                 <Pause length=\"2\"/><Redirect>/webhook/short</Redirect></Response>",
            ),
        ),
        (
            "/webhook/short",
            Page::Twiml(
                "<Response><Start><Recording recordingStatusCallback=\"/webhook/recording_status\" \
                 recordingStatusCallbackEvent=\"absent\" recordingStatusCallbackMethod=\"GET\"/></Start><Hangup/></Response>",
            ),
        ),
        ("/webhook/recording_status", Page::RecordingStatus),
    ])
    .await;
    let report = Simulator::new(config(&server))
        .run(&CallScript::new())
        .await
        .unwrap();
    no_errors(&report);
    // The first: completed only (the default event), mono, 2 s. The second started as the
    // call hung up: absent (too short), posted with GET.
    let callbacks = agent.params("/webhook/recording_status");
    assert_eq!(callbacks.len(), 2, "{callbacks:#?}");
    assert_eq!(callbacks[0]["RecordingStatus"], "completed");
    assert_eq!(callbacks[0]["RecordingChannels"], "1");
    assert_eq!(callbacks[0]["RecordingDuration"], "2");
    assert_eq!(callbacks[1]["RecordingStatus"], "absent");
    assert_eq!(callbacks[1]["ErrorCode"], "16101");
    assert!(!callbacks[1].contains_key("RecordingUrl"));
    assert_eq!(report.call_recordings[1].status, "absent");
    let fetches = agent.fetches.lock().unwrap().clone();
    let decoded = wav::decode(&fetches[1].2).unwrap();
    assert_eq!((decoded.channels, decoded.frames()), (1, 16000));
}

#[tokio::test]
async fn dial_posts_its_outcome_to_the_action() {
    let (server, agent) = agent(vec![
        (
            "/webhook/incoming_call",
            Page::Twiml(
                "<Response><Dial action=\"/webhook/dialed\" timeout=\"12\"><Number>+15005550001</Number></Dial>\
                 <Say>never said</Say></Response>",
            ),
        ),
        (
            "/webhook/dialed",
            Page::Twiml("<Response><Say>Nobody answered</Say><Hangup/></Response>"),
        ),
    ])
    .await;
    // Default: no answer, after the <Dial timeout>.
    let report = Simulator::new(config(&server))
        .run(&CallScript::new())
        .await
        .unwrap();
    no_errors(&report);
    assert_eq!(report.ended_by, EndReason::AgentHangup);
    let Event::Dial {
        target,
        outcome,
        dial_call_sid,
        duration_seconds,
    } = &report.events[0]
    else {
        panic!("{:?}", report.events);
    };
    assert_eq!(
        (target.as_str(), outcome.as_str(), *duration_seconds),
        ("Number +15005550001", "no-answer", 12)
    );
    let posted = agent.params("/webhook/dialed");
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["DialCallStatus"], "no-answer");
    assert_eq!(posted[0]["DialCallSid"], *dial_call_sid);
    assert_eq!(posted[0]["DialBridged"], "false");
    assert_eq!(posted[0]["CallSid"], report.call_sid);
    assert!(!posted[0].contains_key("DialCallDuration"));
    assert!(!report.transcript().contains("never said"));
    assert!(
        report
            .transcript()
            .contains("dial Number +15005550001: no-answer")
    );
    assert_eq!(report.requests[1].purpose, Purpose::Action);

    // Completed: the conversation's length, capped by timeLimit.
    for (outcome, duration, expected) in [
        (DialOutcome::Completed, 90, "60"),
        (DialOutcome::Completed, 5, "5"),
        (DialOutcome::Busy, 5, ""),
        (DialOutcome::Failed, 5, ""),
    ] {
        let (server, agent) = agent_with_dial(
            "<Dial action=\"/webhook/dialed\" timeLimit=\"60\">+15005550001</Dial>",
        )
        .await;
        let report = Simulator::new(
            config(&server)
                .with_dial_outcome(outcome)
                .with_dial_duration(Duration::from_secs(duration)),
        )
        .run(&CallScript::new())
        .await
        .unwrap();
        no_errors(&report);
        let posted = &agent.params("/webhook/dialed")[0];
        assert_eq!(posted["DialCallStatus"], outcome.as_str());
        assert_eq!(
            posted.get("DialCallDuration").map_or("", String::as_str),
            expected
        );
        assert_eq!(
            posted["DialBridged"],
            (outcome == DialOutcome::Completed).to_string()
        );
    }
}

async fn agent_with_dial(dial: &'static str) -> (String, Agent) {
    let twiml: &'static str = Box::leak(format!("<Response>{dial}</Response>").into_boxed_str());
    agent(vec![
        ("/webhook/incoming_call", Page::Twiml(twiml)),
        (
            "/webhook/dialed",
            Page::Twiml("<Response><Hangup/></Response>"),
        ),
    ])
    .await
}

#[tokio::test]
async fn dial_without_action_goes_on_with_the_next_verb() {
    let (server, agent) = agent(vec![(
        "/webhook/incoming_call",
        Page::Twiml(
            "<Response><Dial timeout=\"5\" record=\"record-from-answer\"><Client>alice</Client><Sip>sip:bob@example.com</Sip></Dial>\
             <Say>Sorry, nobody is there</Say></Response>",
        ),
    )])
    .await;
    let report = Simulator::new(config(&server).with_dial_outcome(DialOutcome::Busy))
        .run(&CallScript::new())
        .await
        .unwrap();
    no_errors(&report);
    assert_eq!(agent.paths(), ["/webhook/incoming_call"]);
    assert!(matches!(
        &report.events[0],
        Event::Dial { target, outcome, duration_seconds: 0, .. }
            if target == "Client alice, Sip sip:bob@example.com" && outcome == "busy"
    ));
    assert!(
        matches!(&report.events[1], Event::Say { text, .. } if text == "Sorry, nobody is there")
    );
    assert_eq!(report.ended_by, EndReason::EndOfTwiml);
    assert!(
        report.notifications[0]
            .message
            .contains("<Dial record> is not simulated")
    );
}

const GOODBYE: &str = "<Response><Say>Recovered</Say><Hangup/></Response>";

#[tokio::test]
async fn fallback_url_after_a_5xx_and_after_bad_twiml() {
    let (server, agent) = agent(vec![
        ("/webhook/incoming_call", Page::Status(500)),
        (
            "/webhook/fallback",
            Page::Twiml("<Response><Gather input=\"dtmf\" action=\"/webhook/broken\"/></Response>"),
        ),
        (
            "/webhook/broken",
            Page::Twiml("<Response><Say>unclosed</Response>"),
        ),
    ])
    .await;
    let report = Simulator::new(
        config(&server).with_fallback_url("/webhook/fallback", kav_twiml::HttpMethod::Post),
    )
    .run(&CallScript::new().turn(Turn::digits("1")))
    .await
    .unwrap();
    // Primary 500 -> fallback (11200); its gather action returns bad TwiML -> fallback again
    // (12100), which answers a Gather the caller hangs up on.
    let fallbacks = agent.params("/webhook/fallback");
    assert_eq!(fallbacks.len(), 2, "{}", report.transcript());
    assert_eq!(fallbacks[0]["ErrorCode"], "11200");
    assert_eq!(
        fallbacks[0]["ErrorUrl"],
        "https://agent.example.com/webhook/incoming_call"
    );
    assert_eq!(fallbacks[0]["CallStatus"], "ringing");
    assert_eq!(fallbacks[1]["ErrorCode"], "12100");
    assert_eq!(
        fallbacks[1]["ErrorUrl"],
        "https://agent.example.com/webhook/broken"
    );
    assert_eq!(fallbacks[1]["Digits"], "1");
    assert_eq!(report.fallbacks.len(), 2);
    assert!(report.fallbacks.iter().all(|f| f.recovered));
    assert_eq!(report.fallbacks[1].error_code, 12100);
    assert_eq!(report.codes(), [11200, 12100]);
    assert_eq!(report.ended_by, EndReason::CallerHangup);
    assert!(
        report
            .requests
            .iter()
            .any(|r| r.purpose == Purpose::Fallback)
    );
    assert!(
        report
            .transcript()
            .contains("fallback https://agent.example.com/webhook/fallback after 11200")
    );
}

#[tokio::test]
async fn connection_overrides_retry_and_time_out() {
    // A closed port: refused. Twilio's default (rc=1, rp=ct) retries it once.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let redirect = "<Response><Redirect>/webhook/flaky#rc=2&amp;rp=5xx,ct</Redirect></Response>";
    let unreachable: &'static str = Box::leak(
        format!("<Response><Redirect>http://{closed}/x</Redirect></Response>").into_boxed_str(),
    );
    let (server, agent) = agent(vec![
        ("/webhook/incoming_call", Page::Twiml(redirect)),
        // Two 503s, then TwiML: within rc=2.
        ("/webhook/flaky", Page::FailThen(503, 2, unreachable)),
        (
            "/webhook/fallback",
            Page::Sequence(vec![
                "<Response><Redirect>/webhook/slow#rt=200&amp;rc=0&amp;rp=sometimes</Redirect></Response>",
                GOODBYE,
            ]),
        ),
        ("/webhook/slow", Page::Slow(Duration::from_secs(3), GOODBYE)),
    ])
    .await;
    let report = Simulator::new(
        config(&server).with_fallback_url("/webhook/fallback", kav_twiml::HttpMethod::Post),
    )
    .run(&CallScript::new())
    .await
    .unwrap();
    let transcript = report.transcript();
    // The 503s were retried (the fragment is not sent and not signed).
    assert_eq!(agent.params("/webhook/flaky").len(), 3, "{transcript}");
    let flaky = report
        .requests
        .iter()
        .find(|r| r.url.ends_with("/webhook/flaky"))
        .unwrap();
    assert_eq!((flaky.retries, flaky.status), (2, Some(200)));
    assert_eq!(flaky.url, "https://agent.example.com/webhook/flaky");
    // The closed port: refused twice (one default retry), then the fallback with 11205.
    let refused = report
        .requests
        .iter()
        .find(|r| r.url.contains(&closed.to_string()))
        .unwrap();
    assert_eq!(refused.retries, 1, "{transcript}");
    assert_eq!(
        refused.error.map(kav_callsim::TwilioCode::code),
        Some(11205)
    );
    let fallbacks = agent.params("/webhook/fallback");
    assert_eq!(fallbacks[0]["ErrorCode"], "11205");
    assert_eq!(fallbacks[0]["ErrorUrl"], format!("http://{closed}/x"));
    // rt=200 against a 3 s answer: a timeout, not retried (rc=0); the unknown policy is
    // warning 11243; the fallback is requested again and recovers.
    let slow = report
        .requests
        .iter()
        .find(|r| r.url.ends_with("/webhook/slow"))
        .unwrap();
    assert_eq!(
        (slow.retries, slow.error.map(kav_callsim::TwilioCode::code)),
        (0, Some(11205))
    );
    assert_eq!(fallbacks[1]["ErrorCode"], "11205");
    assert_eq!(
        fallbacks[1]["ErrorUrl"],
        "https://agent.example.com/webhook/slow"
    );
    assert!(report.codes().contains(&11243));
    assert_eq!(report.retries, 3);
    assert_eq!(report.ended_by, EndReason::AgentHangup);
    assert!(matches!(report.events.last(), Some(Event::Hangup)));
    assert!(transcript.contains("after 2 retries"));
}

#[tokio::test]
async fn real_time_waits_for_say_pause_and_play() {
    let (server, _agent) = agent(vec![
        (
            "/webhook/incoming_call",
            Page::Twiml(
                "<Response><Say>hi</Say><Pause length=\"1\"/><Play>/media/beep.wav</Play></Response>",
            ),
        ),
        ("/media/beep.wav", Page::Wav(tone(300))),
    ])
    .await;
    let report = Simulator::new(config(&server).with_real_time(true))
        .run(&CallScript::new())
        .await
        .unwrap();
    no_errors(&report);
    assert!(report.real_time);
    // Simulated start of each event: "hi" takes 130 ms, the pause 1 s, the beep 300 ms.
    let at: Vec<u64> = report.event_times.iter().map(|t| t.at_ms).collect();
    assert_eq!(at, [0, 130, 1130]);
    // Sleeping guarantees a lower bound only: the call took at least as long as its audio.
    assert!(report.wall_ms >= 1430, "{}", report.wall_ms);
    let walls: Vec<u64> = report.event_times.iter().map(|t| t.wall_ms).collect();
    assert!(walls[1] >= 130 && walls[2] >= 1130, "{walls:?}");
    assert!(report.transcript().contains("real time"));
}

#[tokio::test]
async fn wav_only_turn_in_a_speech_gather() {
    let (server, agent) = agent(vec![
        (
            "/webhook/incoming_call",
            Page::Twiml(
                "<Response><Gather input=\"speech\" action=\"/webhook/heard\"/>\
                 <Say>I did not catch that</Say>\
                 <Gather input=\"speech\" action=\"/webhook/heard\" actionOnEmptyResult=\"true\"/></Response>",
            ),
        ),
        ("/webhook/heard", Page::Twiml("<Response><Hangup/></Response>")),
    ])
    .await;
    let script = CallScript::new()
        .turn(Turn::wav("first.wav", tone(400)))
        .turn(Turn::wav("second.wav", tone(400)));
    let report = Simulator::new(config(&server)).run(&script).await.unwrap();
    no_errors(&report);
    // The first Gather hears nothing it can recognize: it times out, the next verb runs. The
    // second posts its action without a SpeechResult.
    let heard = agent.params("/webhook/heard");
    assert_eq!(heard.len(), 1);
    assert!(!heard[0].contains_key("SpeechResult") && !heard[0].contains_key("Confidence"));
    assert!(
        report
            .events
            .iter()
            .any(|e| matches!(e, Event::Say { text, .. } if text == "I did not catch that"))
    );
    let warnings: Vec<&str> = report
        .notifications
        .iter()
        .map(|n| n.message.as_str())
        .collect();
    assert_eq!(warnings.len(), 2);
    assert!(warnings[0].contains("speech recognizer") && warnings[0].contains("next verb"));
    assert!(warnings[1].contains("without SpeechResult"));
    assert!(warnings[0].contains("first.wav::"));

    // With its transcript, the same audio gives a SpeechResult.
    let (server, agent) = crate::agent(vec![
        (
            "/webhook/incoming_call",
            Page::Twiml(
                "<Response><Gather input=\"speech\" action=\"/webhook/heard\"/></Response>",
            ),
        ),
        (
            "/webhook/heard",
            Page::Twiml("<Response><Hangup/></Response>"),
        ),
    ])
    .await;
    let script = CallScript::new().turn(Turn::wav("first.wav", tone(400)).with_text("a taxi"));
    let report = Simulator::new(config(&server)).run(&script).await.unwrap();
    assert!(report.notifications.is_empty());
    assert_eq!(agent.params("/webhook/heard")[0]["SpeechResult"], "a taxi");
}
