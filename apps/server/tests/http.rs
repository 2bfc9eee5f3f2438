//! The HTTP application through `app(state)` with `oneshot`, and once over a real socket.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{TempDir, sqlite_store};
use http_body_util::BodyExt as _;
use kav_server::store::now_millis;
use kav_server::{AppState, Config, app};
use kav_twilio_sig::{RequestValidator, SecretString};
use tower::ServiceExt as _;

const TOKEN: &str = "test-auth-token-0123456789";
const BASE: &str = "https://kav.example.com";
const SID: &str = "CA0123456789abcdef0123456789abcdef";

async fn state_with(vars: &[(&str, &str)]) -> (AppState, TempDir) {
    let (store, dir) = sqlite_store().await;
    let config = Config::from_vars(vars.iter().copied()).unwrap();
    (AppState::new(config, store), dir)
}

async fn signed_state() -> (AppState, TempDir) {
    state_with(&[("TWILIO_AUTH_TOKEN", TOKEN), ("PUBLIC_BASE_URL", BASE)]).await
}

fn form(params: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

fn sign(path: &str, params: &[(&str, &str)]) -> String {
    RequestValidator::new(SecretString::from(TOKEN.to_owned()))
        .compute_signature(&format!("{BASE}{path}"), params)
}

fn post(path: &str, body: String, signature: Option<&str>) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::HOST, "internal:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(signature) = signature {
        request = request.header("X-Twilio-Signature", signature);
    }
    request.body(Body::from(body)).unwrap()
}

fn status_params(status: &str, sequence: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "AccountSid",
            "AC0123456789abcdef0123456789abcdef".to_owned(),
        ),
        ("CallSid", SID.to_owned()),
        ("CallStatus", status.to_owned()),
        ("SequenceNumber", sequence.to_owned()),
        ("From", "+972501234567".to_owned()),
        ("To", "+97231234567".to_owned()),
        ("Direction", "inbound".to_owned()),
    ]
}

fn signed_status(status: &str, sequence: &str) -> Request<Body> {
    let owned = status_params(status, sequence);
    let params: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let signature = sign("/webhook/call_status", &params);
    post("/webhook/call_status", form(&params), Some(&signature))
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, String) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn health_and_ready() {
    let (state, _dir) = state_with(&[]).await;
    assert_eq!(
        send(&state, get("/health")).await,
        (StatusCode::OK, "ok\n".to_owned())
    );
    assert_eq!(send(&state, get("/ready")).await.0, StatusCode::OK);
    state.store().close().await;
    assert_eq!(
        send(&state, get("/ready")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(send(&state, get("/health")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn call_status_is_stored_once() {
    let (state, _dir) = signed_state().await;
    for _ in 0..3 {
        assert_eq!(
            send(&state, signed_status("ringing", "0")).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&state, signed_status("completed", "1")).await.0,
        StatusCode::OK
    );
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 2);
    let call = state.store().call(SID).await.unwrap().unwrap();
    assert_eq!(call.status, "completed");
    assert_eq!(call.direction.as_deref(), Some("inbound"));
}

#[tokio::test]
async fn call_status_answers_200_to_bad_input_and_when_the_store_is_down() {
    let (state, _dir) = signed_state().await;
    for params in [
        vec![("CallStatus", "completed")],
        vec![("CallSid", "CA1"), ("CallStatus", "completed")],
        vec![("CallSid", SID), ("CallStatus", "exploded")],
        vec![
            ("CallSid", SID),
            ("CallStatus", "ringing"),
            ("SequenceNumber", "one"),
        ],
    ] {
        let signature = sign("/webhook/call_status", &params);
        let request = post("/webhook/call_status", form(&params), Some(&signature));
        assert_eq!(send(&state, request).await.0, StatusCode::OK, "{params:?}");
    }
    // Not even well-formed form encoding (signed over what it decodes to).
    let garbage = "%%%\u{0}&=&CallSid";
    let decoded: Vec<(String, String)> = url::form_urlencoded::parse(garbage.as_bytes())
        .into_owned()
        .collect();
    let signature = RequestValidator::new(SecretString::from(TOKEN.to_owned()))
        .compute_signature(&format!("{BASE}/webhook/call_status"), &decoded);
    let request = post("/webhook/call_status", garbage.to_owned(), Some(&signature));
    assert_eq!(send(&state, request).await.0, StatusCode::OK);
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 0);

    state.store().close().await;
    assert_eq!(
        send(&state, signed_status("ringing", "0")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn webhooks_are_post_only() {
    let (state, _dir) = signed_state().await;
    let response = app(state.clone())
        .oneshot(get("/webhook/call_status"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
    // Also without a token configured: the method is checked first.
    let (state, _dir) = state_with(&[]).await;
    assert_eq!(
        send(&state, get("/webhook/call_status")).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn signatures_are_checked() {
    let (state, _dir) = signed_state().await;
    let owned = status_params("ringing", "0");
    let params: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = form(&params);

    let (status, text) = send(&state, post("/webhook/call_status", body.clone(), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(text, "missing X-Twilio-Signature header\n");

    let wrong = post(
        "/webhook/call_status",
        body.clone(),
        Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    );
    assert_eq!(send(&state, wrong).await.0, StatusCode::FORBIDDEN);

    // Signed for another URL (the internal one): refused.
    let internal = RequestValidator::new(SecretString::from(TOKEN.to_owned()))
        .compute_signature("http://internal:8080/webhook/call_status", &params);
    let request = post("/webhook/call_status", body.clone(), Some(&internal));
    assert_eq!(send(&state, request).await.0, StatusCode::FORBIDDEN);

    // Tampered parameters: refused.
    let signature = sign("/webhook/call_status", &params);
    let tampered = body.replace("ringing", "completed");
    let request = post("/webhook/call_status", tampered, Some(&signature));
    assert_eq!(send(&state, request).await.0, StatusCode::FORBIDDEN);
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 0);

    let request = post("/webhook/call_status", body, Some(&signature));
    assert_eq!(send(&state, request).await.0, StatusCode::OK);
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 1);
}

#[tokio::test]
async fn secondary_token_is_accepted() {
    let (state, _dir) = state_with(&[
        ("TWILIO_AUTH_TOKEN", "a-brand-new-token"),
        ("TWILIO_AUTH_TOKEN_SECONDARY", TOKEN),
        ("PUBLIC_BASE_URL", BASE),
    ])
    .await;
    assert_eq!(
        send(&state, signed_status("ringing", "0")).await.0,
        StatusCode::OK
    );
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 1);
}

#[tokio::test]
async fn without_a_token_webhooks_are_refused_unless_checks_are_off() {
    let (state, _dir) = state_with(&[("PUBLIC_BASE_URL", BASE)]).await;
    let (status, text) = send(&state, signed_status("ringing", "0")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("TWILIO_AUTH_TOKEN is not set"), "{text}");
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 0);

    let (state, _dir) = state_with(&[("KAV_SIGNATURE_CHECK", "off")]).await;
    let owned = status_params("ringing", "0");
    let params: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let request = post("/webhook/call_status", form(&params), None);
    assert_eq!(send(&state, request).await.0, StatusCode::OK);
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 1);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    for vars in [
        &[("TWILIO_AUTH_TOKEN", TOKEN), ("PUBLIC_BASE_URL", BASE)][..],
        &[("KAV_SIGNATURE_CHECK", "off")][..],
    ] {
        let (state, _dir) = state_with(vars).await;
        let big = format!("CallSid={SID}&Pad={}", "x".repeat(70 * 1024));
        let request = post("/webhook/call_status", big, Some("c2lnbmF0dXJl"));
        assert_eq!(send(&state, request).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    }
    // The limit is configurable.
    let (state, _dir) = state_with(&[
        ("KAV_SIGNATURE_CHECK", "off"),
        ("KAV_WEBHOOK_BODY_LIMIT", "1024"),
    ])
    .await;
    let request = post(
        "/webhook/call_status",
        "x=".to_owned() + &"y".repeat(2000),
        None,
    );
    assert_eq!(send(&state, request).await.0, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn media_is_served_by_id_only() {
    let (state, _dir) = state_with(&[]).await;
    let wav = b"RIFF\x24\0\0\0WAVEfmt ".to_vec();
    let id = state
        .store()
        .save_audio(&wav, "audio/wav", now_millis())
        .await
        .unwrap();
    let response = app(state.clone())
        .oneshot(get(&format!("/media/{id}")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(
        response.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.as_ref(), wav.as_slice());

    let upper = id.as_str().to_ascii_uppercase();
    for path in [
        "/media/0123456789abcdef0123456789abcdef".to_owned(),
        format!("/media/{upper}"),
        format!("/media/{id}x"),
        "/media/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/media/..%2Fkav.db".to_owned(),
        "/media/%2e%2e".to_owned(),
    ] {
        assert_eq!(
            send(&state, get(&path)).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // The record without its file is a 404 too.
    let file = state.store().audio(&id).await.unwrap().unwrap();
    std::fs::remove_file(file.path).unwrap();
    assert_eq!(
        send(&state, get(&format!("/media/{id}"))).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn metrics_exposition() {
    let (state, _dir) = signed_state().await;
    send(&state, signed_status("in-progress", "1")).await;
    send(&state, signed_status("in-progress", "1")).await;
    send(
        &state,
        post("/webhook/call_status", "CallSid=x".to_owned(), None),
    )
    .await;
    send(&state, get("/webhook/call_status")).await;
    let response = app(state.clone()).oneshot(get("/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    for line in [
        r#"kav_webhook_requests_total{route="/webhook/call_status",status="200"} 2"#,
        r#"kav_webhook_requests_total{route="/webhook/call_status",status="403"} 1"#,
        r#"kav_webhook_requests_total{route="/webhook/call_status",status="405"} 1"#,
        r#"kav_webhook_duration_seconds_count{route="/webhook/call_status",status="200"} 2"#,
        "# TYPE kav_turn_stage_duration_seconds histogram",
        "# TYPE kav_provider_errors_total counter",
        "kav_active_calls 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // /health and /metrics themselves are not webhooks.
    assert!(!text.contains("route=\"/health\""));
}

#[tokio::test]
async fn over_a_real_socket() {
    let (state, _dir) = signed_state().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kav_server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let owned = status_params("ringing", "0");
    let params: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = client
        .post(format!("http://{addr}/webhook/call_status"))
        .header("X-Twilio-Signature", sign("/webhook/call_status", &params))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&params))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 1);

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        client
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .is_err(),
        "the listener is closed after shutdown"
    );
}

#[tokio::test]
async fn in_flight_requests_finish_after_shutdown_starts() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let (state, _dir) = signed_state().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kav_server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));

    let owned = status_params("ringing", "0");
    let params: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = form(&params);
    let (first, rest) = body.split_at(10);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /webhook/call_status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         X-Twilio-Signature: {}\r\n\r\n{first}",
        body.len(),
        sign("/webhook/call_status", &params)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The request is in flight (its body half sent) when shutdown begins.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !server.is_finished(),
        "the server waits for the request in flight"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections once shutdown has begun"
    );
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.await.unwrap().unwrap();
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 1);
}

#[tokio::test]
async fn the_signed_url_follows_the_configuration() {
    let owned = status_params("ringing", "0");
    let params: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let validator = RequestValidator::new(SecretString::from(TOKEN.to_owned()));

    // No PUBLIC_BASE_URL, proxy headers trusted: the URL the proxy saw.
    let (state, _dir) = state_with(&[
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TRUST_PROXY_HEADERS", "true"),
    ])
    .await;
    let signature =
        validator.compute_signature("https://public.example.com/webhook/call_status", &params);
    let request = Request::post("/webhook/call_status")
        .header(header::HOST, "internal:8080")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "public.example.com")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", &signature)
        .body(Body::from(form(&params)))
        .unwrap();
    assert_eq!(send(&state, request).await.0, StatusCode::OK);
    assert_eq!(state.store().status_event_count(SID).await.unwrap(), 1);

    // Neither: plain http and the Host header (local use).
    let (state, _dir) = state_with(&[("TWILIO_AUTH_TOKEN", TOKEN)]).await;
    let signature =
        validator.compute_signature("http://internal:8080/webhook/call_status", &params);
    let request = post("/webhook/call_status", form(&params), Some(&signature));
    assert_eq!(send(&state, request).await.0, StatusCode::OK);
    // The proxy's headers are ignored when not trusted.
    let signature =
        validator.compute_signature("https://public.example.com/webhook/call_status", &params);
    let request = Request::post("/webhook/call_status")
        .header(header::HOST, "internal:8080")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "public.example.com")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", &signature)
        .body(Body::from(form(&params)))
        .unwrap();
    assert_eq!(send(&state, request).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn debug_output_hides_secrets() {
    let (state, _dir) = state_with(&[
        ("TWILIO_AUTH_TOKEN", "SECRET-token-1"),
        ("TWILIO_AUTH_TOKEN_SECONDARY", "SECRET-token-2"),
        ("OPENAI_API_KEY", "sk-SECRET-3"),
        ("ADMIN_TOKEN", "SECRET-admin-token-4"),
    ])
    .await;
    let debug = format!("{state:?}");
    assert!(debug.contains("twilio_auth_token"), "{debug}");
    assert!(!debug.contains("SECRET"), "{debug}");
}

/// The start-up summary names only what the server really uses: text-to-speech is espeak-ng
/// (when installed) or Twilio's `<Say>`, whatever API keys are set; each missing piece that
/// limits what works is one warning.
#[tokio::test]
async fn the_startup_summary_tells_what_really_works() {
    let (store, _dir) = sqlite_store().await;
    let tts_line = |info: &[String]| {
        info.iter()
            .find(|l| l.starts_with("text-to-speech providers: "))
            .cloned()
            .unwrap()
    };

    // Keys for providers the server does not synthesize with are not listed as TTS.
    let config = Config::from_vars([
        ("OPENAI_API_KEY", "sk-test"),
        ("KAV_TTS", "off"),
        ("KAV_SAY_VOICE", "Polly.Joanna"),
    ])
    .unwrap();
    let (info, warnings) = kav_server::startup_summary(&config, &store);
    let line = tts_line(&info);
    assert_eq!(
        line,
        "text-to-speech providers: none (Twilio's <Say voice=\"Polly.Joanna\">: KAV_TTS=off)"
    );
    assert!(
        !warnings.iter().any(|w| w.contains("espeak-ng")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w == "GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON is not set: no Google speech-to-text."),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("TWILIO_PHONE_NUMBER is not set: no outbound call or SMS")),
        "{warnings:?}"
    );

    // With TTS on, the line matches what `Agent::from_config` picks from the PATH, and a
    // missing espeak-ng is warned about once.
    let config = Config::from_vars([
        ("OPENAI_API_KEY", "sk-test"),
        ("TWILIO_PHONE_NUMBER", "+972501234567"),
    ])
    .unwrap();
    let (info, warnings) = kav_server::startup_summary(&config, &store);
    let line = tts_line(&info);
    let installed = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("espeak-ng").is_file())
    });
    let espeak_warnings = warnings.iter().filter(|w| w.contains("espeak-ng")).count();
    if installed {
        assert_eq!(
            line,
            "text-to-speech providers: espeak-ng (replies played with <Play>)"
        );
        assert_eq!(espeak_warnings, 0, "{warnings:?}");
    } else {
        assert!(line.ends_with("espeak-ng is not installed)"), "{line}");
        assert_eq!(espeak_warnings, 1, "{warnings:?}");
    }
    assert!(!line.contains("openai"), "{line}");
    assert!(
        !warnings
            .iter()
            .any(|w| w.starts_with("TWILIO_PHONE_NUMBER")),
        "{warnings:?}"
    );
}
