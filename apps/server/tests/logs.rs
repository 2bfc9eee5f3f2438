//! Every log line of a webhook request names the call.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, header};
use common::sqlite_store;
use kav_server::{AppState, Config, app};
use kav_twilio_sig::{RequestValidator, SecretString};
use tower::ServiceExt as _;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SID: &str = "CA0123456789abcdef0123456789abcdef";

#[tokio::test(flavor = "current_thread")]
async fn call_sid_is_on_every_line() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (store, _dir) = sqlite_store().await;
    let token = "a-token-for-the-log-test";
    let config = Config::from_vars([
        ("TWILIO_AUTH_TOKEN", token),
        ("PUBLIC_BASE_URL", "https://kav.example.com"),
    ])
    .unwrap();
    let state = AppState::new(config, store);
    let params = [("CallSid", SID), ("CallStatus", "ringing")];
    let body = "CallSid=CA0123456789abcdef0123456789abcdef&CallStatus=ringing";
    let signature = RequestValidator::new(SecretString::from(token.to_owned()))
        .compute_signature("https://kav.example.com/webhook/call_status", &params);
    for signature in [Some(signature.as_str()), None] {
        let mut request = Request::post("/webhook/call_status")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(signature) = signature {
            request = request.header("X-Twilio-Signature", signature);
        }
        app(state.clone())
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
    }

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("webhook{")).collect();
    for expected in [
        "call status stored",
        "webhook answered",
        "missing X-Twilio-Signature header",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(expected)),
            "no {expected:?} line in\n{text}"
        );
    }
    for line in &lines {
        assert!(line.contains(&format!("call_sid={SID}")), "{line}");
        assert!(!line.contains(token), "{line}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_store_down_is_logged_and_call_status_still_answers_200() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (store, _dir) = sqlite_store().await;
    let config = Config::from_vars([("KAV_SIGNATURE_CHECK", "off")]).unwrap();
    let state = AppState::new(config, store);
    state.store().close().await;
    for status in ["ringing", "completed"] {
        let body = format!("CallSid={SID}&CallStatus={status}&SequenceNumber=0");
        let response = app(state.clone())
            .oneshot(
                Request::post("/webhook/call_status")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), axum::http::StatusCode::OK);
    }
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lost: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("call status NOT stored: store error"))
        .collect();
    assert_eq!(lost.len(), 2, "{text}");
    assert!(
        lost.iter()
            .all(|l| l.contains("ERROR") && l.contains(&format!("call_sid={SID}"))),
        "{text}"
    );
}
