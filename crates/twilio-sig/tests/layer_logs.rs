//! Logging of the axum layer, in its own test binary: tracing's per-callsite interest cache is
//! process-wide, so other tests running without a subscriber must not touch the callsites first.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use http::{Request, StatusCode};
use kav_twilio_sig::{
    RequestValidator, Scheme, SecretString, TwilioSignatureLayer, UrlSource, compute_signature,
};
use tower::ServiceExt as _;

const PARAMS: &[(&str, &str)] = &[("CallSid", "CA1234567890ABCDE"), ("From", "+972525551234")];
const FORM: &str = "CallSid=CA1234567890ABCDE&From=%2B972525551234";

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn app(layer: TwilioSignatureLayer) -> Router {
    Router::new()
        .route("/webhook/incoming_call", post(|| async { "ok" }))
        .layer(layer)
}

fn post_form(host: &str, signature: &str) -> Request<Body> {
    Request::post("/webhook/incoming_call")
        .header("host", host)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(Body::from(FORM))
        .unwrap()
}

/// A `MakeWriter` that appends to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn refusals_log_the_urls_tried_but_never_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let token = "tok-very-secret-123";
    let public = "https://ai.example.com/webhook/incoming_call";
    let expected = compute_signature(&secret(token), public, PARAMS);
    let layer = TwilioSignatureLayer::new(
        RequestValidator::new(secret(token)),
        UrlSource::Request {
            scheme: Scheme::Https,
        },
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            // Signed for the public host, received with the proxy's Host.
            let refused = app(layer.clone())
                .oneshot(post_form("internal:8080", &expected))
                .await
                .unwrap();
            assert_eq!(refused.status(), StatusCode::FORBIDDEN);
            let accepted = app(layer)
                .oneshot(post_form("ai.example.com", &expected))
                .await
                .unwrap();
            assert_eq!(accepted.status(), StatusCode::OK);
        });
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("https://internal:8080/webhook/incoming_call"),
        "{logs}"
    );
    assert!(logs.contains("does not match"), "{logs}");
    assert!(logs.contains("Twilio signature verified"), "{logs}");
    assert!(!logs.contains(token), "{logs}");
    assert!(!logs.contains(&expected), "{logs}");
}
