//! `<Connect><Stream>`: the Media Streams WebSocket against an agent that answers each caller
//! turn, behind the signature layer (which checks the handshake's `wss://` signature).

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use kav_audio_codec::wav;
use kav_callsim::{CallScript, EndReason, Event, SimConfig, Simulator, Turn};
use kav_media_stream::{InboundMessage, OutboundMessage};
use kav_twilio_sig::{RequestValidator, SecretString, TwilioSignatureLayer, UrlSource};

const TOKEN: &str = "stream-token";
const PUBLIC: &str = "https://agent.example.com";

type Log = Arc<Mutex<Vec<String>>>;

const TWIML: &str = "<Response><Connect><Stream url=\"wss://agent.example.com/ws/twilio-media\">\
    <Parameter name=\"business_id\" value=\"7\"/></Stream></Connect>\
    <Say>stream over</Say></Response>";

async fn agent(twiml: &'static str) -> (String, Log) {
    let log: Log = Arc::default();
    let validator = RequestValidator::new(SecretString::from(TOKEN.to_owned()));
    let app = Router::new()
        .route(
            "/webhook/incoming_call",
            post(move || async move { ([(header::CONTENT_TYPE, "text/xml")], twiml) }),
        )
        .route("/ws/twilio-media", any(upgrade))
        .layer(TwilioSignatureLayer::new(
            validator,
            UrlSource::configured(PUBLIC).unwrap(),
        ))
        .with_state(Arc::clone(&log));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), log)
}

async fn upgrade(ws: WebSocketUpgrade, State(log): State<Log>) -> Response {
    ws.on_upgrade(move |socket| answer(socket, log))
        .into_response()
}

/// Answers each caller turn (speech, then 25 silent frames) with 500 ms of audio and a mark.
async fn answer(mut socket: WebSocket, log: Log) {
    let mut stream_sid = None;
    let (mut speech, mut silent, mut turns) = (0, 0, 0);
    while let Some(Ok(message)) = socket.recv().await {
        let Message::Text(text) = message else {
            continue;
        };
        match InboundMessage::parse(text.as_str()).unwrap() {
            InboundMessage::Connected(_) => log.lock().unwrap().push("connected".to_owned()),
            InboundMessage::Start(start) => {
                log.lock().unwrap().push(format!(
                    "start business_id={}",
                    start.custom_parameters["business_id"]
                ));
                stream_sid = Some(start.stream_sid);
            }
            InboundMessage::Media(media) => {
                let bytes = media.decode_payload().unwrap();
                assert_eq!(bytes.len(), 160);
                if bytes.iter().any(|&b| b != 0xFF) {
                    speech += 1;
                    silent = 0;
                } else if speech > 0 {
                    silent += 1;
                    if silent == 25 {
                        turns += 1;
                        speech = 0;
                        let sid = stream_sid.unwrap();
                        for _ in 0..25 {
                            let out = OutboundMessage::Media {
                                stream_sid: sid,
                                payload: Cow::Owned(vec![0xFF; 160]),
                            };
                            socket.send(Message::text(out.to_json())).await.unwrap();
                        }
                        let mark = OutboundMessage::Mark {
                            stream_sid: sid,
                            name: format!("reply-{turns}").into(),
                        };
                        socket.send(Message::text(mark.to_json())).await.unwrap();
                    }
                }
            }
            InboundMessage::Mark(mark) => log.lock().unwrap().push(format!("mark {}", mark.name)),
            InboundMessage::Dtmf(dtmf) => {
                log.lock()
                    .unwrap()
                    .push(format!("dtmf {}", dtmf.digit.as_char()));
                // Keys get a short answer at once.
                let out = OutboundMessage::Media {
                    stream_sid: stream_sid.unwrap(),
                    payload: Cow::Owned(vec![0xFF; 160]),
                };
                socket.send(Message::text(out.to_json())).await.unwrap();
            }
            InboundMessage::Stop(_) => {
                log.lock().unwrap().push("stop".to_owned());
                break;
            }
            _ => {}
        }
    }
}

fn tone(ms: u32) -> Vec<u8> {
    let samples: Vec<i16> = (0..8 * ms)
        .map(|i| ((f64::from(i) * 0.35).sin() * 9000.0) as i16)
        .collect();
    wav::encode_pcm16(&samples, 8000, 1)
}

fn config(server: &str) -> SimConfig {
    SimConfig::new(server, PUBLIC, SecretString::from(TOKEN.to_owned()))
        .unwrap()
        .with_stream_idle(Duration::from_millis(300))
}

#[tokio::test]
async fn stream_turns_marks_and_stop() {
    let (server, log) = agent(TWIML).await;
    let script = CallScript::new()
        .turn(Turn::wav("turn 1", tone(600)).with_text("hello"))
        .turn(Turn::wav("turn 2", tone(400)).with_text("bye"));
    let report = Simulator::new(config(&server)).run(&script).await.unwrap();
    assert!(report.notifications.is_empty(), "{}", report.transcript());
    assert_eq!(report.ended_by, EndReason::CallerHangup);
    let replies: Vec<u64> = report
        .events
        .iter()
        .filter_map(|e| match e {
            Event::AgentAudio { audio_ms } => Some(*audio_ms),
            _ => None,
        })
        .collect();
    assert_eq!(replies, [500, 500]);
    assert!(report.events.iter().any(|e| matches!(
        e,
        Event::StreamEnd { marks: 2, clears: 0, closed_by } if closed_by == "caller"
    )));
    assert!(report.events.iter().any(
        |e| matches!(e, Event::Stream { url, stream_sid } if url == "wss://agent.example.com/ws/twilio-media" && stream_sid.starts_with("MZ"))
    ));
    // Give the agent a moment to log the stop it has just received.
    for _ in 0..50 {
        if log.lock().unwrap().last().is_some_and(|l| l == "stop") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        *log.lock().unwrap(),
        [
            "connected",
            "start business_id=7",
            "mark reply-1",
            "mark reply-2",
            "stop"
        ]
    );
    let transcript = report.transcript();
    assert!(
        transcript.contains("agent streams 500 ms of audio"),
        "{transcript}"
    );
}

#[tokio::test]
async fn stream_handshake_refused() {
    // No WebSocket at that path: the handshake fails (31920) and the call goes on with <Say>.
    let (server, log) = agent(
        "<Response><Connect><Stream url=\"wss://agent.example.com/no-such-socket\"/></Connect><Say>after</Say></Response>",
    )
    .await;
    let report = Simulator::new(config(&server))
        .run(&CallScript::new().turn(Turn::wav("t", tone(200))))
        .await
        .unwrap();
    assert_eq!(report.codes(), [31920], "{}", report.transcript());
    assert!(matches!(report.events.last(), Some(Event::Say { text, .. }) if text == "after"));
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn stream_dtmf_in_real_time() {
    let (server, log) = agent(TWIML).await;
    let script = CallScript::new()
        .turn(Turn::digits("4#"))
        .turn(Turn::wav("short", tone(100)));
    let report = Simulator::new(config(&server).with_stream_realtime(true))
        .run(&script)
        .await
        .unwrap();
    assert!(report.notifications.is_empty(), "{}", report.transcript());
    let replies: Vec<u64> = report
        .events
        .iter()
        .filter_map(|e| match e {
            Event::AgentAudio { audio_ms } => Some(*audio_ms),
            _ => None,
        })
        .collect();
    assert_eq!(replies, [40, 500]);
    for _ in 0..50 {
        if log.lock().unwrap().last().is_some_and(|l| l == "stop") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        *log.lock().unwrap(),
        [
            "connected",
            "start business_id=7",
            "dtmf 4",
            "dtmf #",
            "mark reply-1",
            "stop"
        ]
    );
}

#[tokio::test]
async fn agent_closes_the_stream_then_connect_action() {
    // An agent that closes the socket after `start`: Twilio then requests <Connect action>.
    let validator = RequestValidator::new(SecretString::from(TOKEN.to_owned()));
    let app = Router::new()
        .route(
            "/webhook/incoming_call",
            post(|| async {
                (
                    [(header::CONTENT_TYPE, "text/xml")],
                    "<Response><Connect action=\"/webhook/stream_ended\"><Stream url=\"wss://agent.example.com/ws/twilio-media\"/></Connect><Say>never</Say></Response>",
                )
            }),
        )
        .route(
            "/webhook/stream_ended",
            post(|| async {
                (
                    [(header::CONTENT_TYPE, "text/xml")],
                    "<Response><Say>Sorry, goodbye</Say><Hangup/></Response>",
                )
            }),
        )
        .route(
            "/ws/twilio-media",
            any(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket| async move {
                    let _connected = socket.recv().await;
                    let _start = socket.recv().await;
                    let _ = socket.send(Message::Close(None)).await;
                })
            }),
        )
        .layer(TwilioSignatureLayer::new(
            validator,
            UrlSource::configured(PUBLIC).unwrap(),
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let script = CallScript::new().turn(Turn::wav("t", tone(300)));
    let report = Simulator::new(config(&server)).run(&script).await.unwrap();
    assert!(report.notifications.is_empty(), "{}", report.transcript());
    assert_eq!(report.ended_by, EndReason::AgentHangup);
    assert!(
        report
            .events
            .iter()
            .any(|e| matches!(e, Event::StreamEnd { closed_by, .. } if closed_by == "agent"))
    );
    assert_eq!(
        report.requests[1].url,
        "https://agent.example.com/webhook/stream_ended"
    );
    assert!(
        matches!(&report.events[report.events.len() - 2], Event::Say { text, .. } if text == "Sorry, goodbye")
    );
}
