//! The axum layer, driven through `tower::ServiceExt::oneshot`.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Extension;
use axum::routing::{get, post};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use kav_twilio_sig::{
    Algorithm, PublicBaseUrl, RequestValidator, Scheme, SecretString, SigError, TokenSlot,
    TwilioSignatureLayer, UrlSource, Verified, body_sha256_hex, compute_signature,
    compute_signature_with,
};
use tower::ServiceExt as _;

const TOKEN: &str = "12345";
const BASE: &str = "https://ai.example.com";

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn validator() -> RequestValidator {
    RequestValidator::new(secret(TOKEN))
}

fn sign(url: &str, params: &[(&str, &str)]) -> String {
    compute_signature(&secret(TOKEN), url, params)
}

fn form(params: &[(&str, &str)]) -> String {
    form_encode(params)
}

fn form_encode(params: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode(k));
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Echoes the body it received, and which token matched.
async fn echo(Extension(verified): Extension<Verified>, body: Bytes) -> String {
    let token = match verified.token {
        TokenSlot::Primary => "primary",
        TokenSlot::Secondary => "secondary",
        _ => "other",
    };
    format!("{token}|{}", String::from_utf8_lossy(&body))
}

/// A protected sub-router and an unprotected route, like the server will have.
fn app(layer: TwilioSignatureLayer) -> Router {
    let protected = Router::new()
        .route("/webhook/incoming_call", post(echo))
        .route("/webhook/get_hook", get(echo))
        .route(
            "/ws/twilio-media",
            get(|| async { "upgrade would happen here" }),
        )
        .layer(layer);
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(protected)
}

fn configured() -> TwilioSignatureLayer {
    TwilioSignatureLayer::new(validator(), UrlSource::configured(BASE).unwrap())
}

const PARAMS: &[(&str, &str)] = &[
    ("CallSid", "CA1234567890ABCDE"),
    ("From", "+972525551234"),
    ("To", "+97235551234"),
    ("SpeechResult", "שלום, מה שלומך? & 100% כן"),
    ("Digits", "1"),
    ("Digits", "2"),
];

fn post_form(uri: &str, body: String, signature: Option<&str>) -> Request<Body> {
    let mut builder = Request::post(uri)
        .header("host", "internal:8080")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(signature) = signature {
        builder = builder.header("x-twilio-signature", signature);
    }
    builder.body(Body::from(body)).unwrap()
}

async fn send(app: Router, request: Request<Body>) -> (StatusCode, String, Option<SigError>) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let error = response.extensions().get::<SigError>().cloned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap(), error)
}

#[tokio::test]
async fn valid_form_passes_and_body_is_untouched() {
    let url = format!("{BASE}/webhook/incoming_call?attempt=1");
    let body = form(PARAMS);
    let request = post_form(
        "/webhook/incoming_call?attempt=1",
        body.clone(),
        Some(&sign(&url, PARAMS)),
    );
    let (status, text, _) = send(app(configured()), request).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, format!("primary|{body}"));
}

#[tokio::test]
async fn tampered_form_is_refused_with_the_reason() {
    let url = format!("{BASE}/webhook/incoming_call");
    let signature = sign(&url, PARAMS);
    let mut tampered = PARAMS.to_vec();
    tampered[4].1 = "9";
    let request = post_form("/webhook/incoming_call", form(&tampered), Some(&signature));
    let (status, text, error) = send(app(configured()), request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(text, "X-Twilio-Signature does not match the request\n");
    let error = error.expect("the error is in the response extensions");
    assert_eq!(
        error.tried_urls(),
        [
            "https://ai.example.com/webhook/incoming_call".to_owned(),
            "https://ai.example.com:443/webhook/incoming_call".to_owned()
        ]
    );
    // A tampered query string is refused as well.
    let request = post_form("/webhook/incoming_call?x=1", form(PARAMS), Some(&signature));
    assert_eq!(
        send(app(configured()), request).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn missing_or_empty_signature_is_refused() {
    let request = post_form("/webhook/incoming_call", form(PARAMS), None);
    let (status, text, error) = send(app(configured()), request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(text, "missing X-Twilio-Signature header\n");
    assert_eq!(error, Some(SigError::MissingSignature));
    let request = post_form("/webhook/incoming_call", form(PARAMS), Some(""));
    assert_eq!(
        send(app(configured()), request).await.0,
        StatusCode::FORBIDDEN
    );
    // Unprotected routes are not affected.
    let health = Request::get("/health").body(Body::empty()).unwrap();
    assert_eq!(send(app(configured()), health).await.0, StatusCode::OK);
}

#[tokio::test]
async fn wrong_host_behind_proxy_is_refused_unless_proxy_is_trusted() {
    let public = format!("{BASE}/webhook/incoming_call");
    let signature = sign(&public, PARAMS);
    let behind_proxy = || {
        let mut request = post_form("/webhook/incoming_call", form(PARAMS), Some(&signature));
        let headers = request.headers_mut();
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        headers.insert("x-forwarded-host", "ai.example.com".parse().unwrap());
        request
    };
    // Rebuilding from the request sees the proxy's Host (internal:8080) and refuses, even
    // though the forwarded headers say otherwise: they are not trusted here.
    let from_request = TwilioSignatureLayer::new(
        validator(),
        UrlSource::Request {
            scheme: Scheme::Http,
        },
    );
    let (status, _, error) = send(app(from_request), behind_proxy()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        error.unwrap().tried_urls(),
        [
            "http://internal/webhook/incoming_call".to_owned(),
            "http://internal:8080/webhook/incoming_call".to_owned()
        ]
    );
    // Trusting the proxy fixes it.
    let trusted = TwilioSignatureLayer::new(
        validator(),
        UrlSource::TrustedProxy {
            fallback_scheme: Scheme::Http,
        },
    );
    let (status, text, _) = send(app(trusted), behind_proxy()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

#[tokio::test]
async fn trusted_proxy_headers() {
    let trusted = || {
        TwilioSignatureLayer::new(
            validator(),
            UrlSource::TrustedProxy {
                fallback_scheme: Scheme::Http,
            },
        )
    };
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[(
                "forwarded",
                "for=54.172.60.1;proto=https;host=ai.example.com, for=10.0.0.2",
            )],
            "https://ai.example.com/webhook/incoming_call",
        ),
        (
            &[
                ("x-forwarded-proto", "https, http"),
                ("x-forwarded-host", "ai.example.com, internal:8080"),
                ("x-forwarded-port", "8443"),
            ],
            "https://ai.example.com:8443/webhook/incoming_call",
        ),
        // Forwarded wins over X-Forwarded-*; a malformed host falls back to Host.
        (
            &[
                ("forwarded", "proto=https;host=\"ai.example.com:9443\""),
                ("x-forwarded-host", "evil.example"),
            ],
            "https://ai.example.com:9443/webhook/incoming_call",
        ),
        (
            &[
                ("x-forwarded-host", "bad host/"),
                ("x-forwarded-proto", "gopher"),
            ],
            "http://internal:8080/webhook/incoming_call",
        ),
    ];
    for (headers, public) in cases {
        let mut request = post_form(
            "/webhook/incoming_call",
            form(PARAMS),
            Some(&sign(public, PARAMS)),
        );
        for (name, value) in *headers {
            request.headers_mut().insert(*name, value.parse().unwrap());
        }
        let (status, text, _) = send(app(trusted()), request).await;
        assert_eq!(status, StatusCode::OK, "{public}: {text}");
    }
}

#[tokio::test]
async fn json_with_body_sha256() {
    let body = r#"{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}"#;
    let path = format!(
        "/webhook/incoming_call?bodySHA256={}",
        body_sha256_hex(body.as_bytes())
    );
    let signature = sign(&format!("{BASE}{path}"), &[]);
    let json = |body: &str, path: &str| {
        Request::post(path)
            .header("content-type", "application/json; charset=utf-8")
            .header("x-twilio-signature", &signature)
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let (status, text, _) = send(app(configured()), json(body, &path)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, format!("primary|{body}"));

    let (status, text, _) = send(app(configured()), json(&body.replace("CA", "CB"), &path)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(text, "bodySHA256 does not match the request body\n");

    let (status, text, _) = send(app(configured()), json(body, "/webhook/incoming_call")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(text, "JSON request without a bodySHA256 query parameter\n");
}

fn upgrade(path: &str, signature: &str) -> Request<Body> {
    Request::get(path)
        .header("host", "internal:8080")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("x-twilio-signature", signature)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn websocket_upgrade_is_validated_against_its_wss_url() {
    let none: &[(&str, &str)] = &[];
    for signed in [
        "wss://ai.example.com/ws/twilio-media",
        "wss://ai.example.com/ws/twilio-media/",
        "wss://ai.example.com:443/ws/twilio-media",
    ] {
        let (status, text, _) = send(
            app(configured()),
            upgrade("/ws/twilio-media", &sign(signed, none)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{signed}: {text}");
    }
    // The https URL is not the one Twilio signs for a stream.
    let (status, _, error) = send(
        app(configured()),
        upgrade(
            "/ws/twilio-media",
            &sign("https://ai.example.com/ws/twilio-media", none),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        error
            .unwrap()
            .tried_urls()
            .contains(&"wss://ai.example.com/ws/twilio-media/".to_owned())
    );
    // A plain GET (no upgrade) to a GET webhook is signed over its https URL with its query.
    let url = "https://ai.example.com/webhook/get_hook?CallSid=CA1&Digits=5";
    let request = Request::get("/webhook/get_hook?CallSid=CA1&Digits=5")
        .header("x-twilio-signature", sign(url, none))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(app(configured()), request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn secondary_token_and_shared_key_sha256() {
    let url = format!("{BASE}/webhook/incoming_call");
    let rotating = TwilioSignatureLayer::new(
        RequestValidator::new(secret("new-token")).with_secondary(secret(TOKEN)),
        UrlSource::configured(BASE).unwrap(),
    );
    let request = post_form(
        "/webhook/incoming_call",
        form(PARAMS),
        Some(&sign(&url, PARAMS)),
    );
    let (status, text, _) = send(app(rotating), request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.starts_with("secondary|"), "{text}");

    let sha256 = compute_signature_with(&secret(TOKEN), Algorithm::HmacSha256, &url, PARAMS);
    let mut request = post_form("/webhook/incoming_call", form(PARAMS), Some(&sha256));
    request.headers_mut().insert(
        "x-twilio-webhooks-signature-settings",
        "key=KS00000000000000000000000000000000,algorithm=HMAC_SHA256"
            .parse()
            .unwrap(),
    );
    assert_eq!(send(app(configured()), request).await.0, StatusCode::OK);

    let mut request = post_form("/webhook/incoming_call", form(PARAMS), Some(&sha256));
    request.headers_mut().insert(
        "x-twilio-webhooks-signature-settings",
        "algorithm=HMAC_SHA512".parse().unwrap(),
    );
    let (status, text, _) = send(app(configured()), request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        text,
        "unsupported webhook signature algorithm \"HMAC_SHA512\"\n"
    );
}

#[tokio::test]
async fn oversized_requests_get_413() {
    let small = configured().body_limit(64);
    let url = format!("{BASE}/webhook/incoming_call");
    let big = form(&[("Body", &"x".repeat(100))]);
    let signature = sign(&url, &[("Body", &"x".repeat(100))]);
    // Declared too large.
    let mut request = post_form("/webhook/incoming_call", big.clone(), Some(&signature));
    request
        .headers_mut()
        .insert("content-length", big.len().to_string().parse().unwrap());
    let (status, text, _) = send(app(small.clone()), request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(text, "request body larger than 64 bytes\n");
    // Not declared, found too large while reading.
    let request = post_form("/webhook/incoming_call", big, Some(&signature));
    assert_eq!(
        send(app(small), request).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // The default limit accepts it.
    let request = post_form(
        "/webhook/incoming_call",
        form(&[("Body", &"x".repeat(100))]),
        Some(&signature),
    );
    assert_eq!(send(app(configured()), request).await.0, StatusCode::OK);
}

#[tokio::test]
async fn unsupported_body_is_refused() {
    let url = format!("{BASE}/webhook/incoming_call");
    let request = Request::post("/webhook/incoming_call")
        .header("content-type", "text/plain")
        .header("x-twilio-signature", sign(&url, &[]))
        .body(Body::from("hello"))
        .unwrap();
    let (status, text, _) = send(app(configured()), request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(text, "unsupported request body type Some(\"text/plain\")\n");
}

#[tokio::test]
async fn nested_router_with_path_prefix() {
    // The service is mounted under /agent by a proxy that keeps the prefix, and the webhook
    // router is nested under /agent in the app: OriginalUri gives the full path.
    let base = PublicBaseUrl::parse("https://example.com/agent").unwrap();
    let layer = TwilioSignatureLayer::new(validator(), UrlSource::Configured(base.clone()));
    let app = Router::new().nest("/agent", app(layer));
    let url = "https://example.com/agent/webhook/incoming_call";
    let request = post_form(
        "/agent/webhook/incoming_call",
        form(PARAMS),
        Some(&sign(url, PARAMS)),
    );
    let (status, text, _) = send(app, request).await;
    assert_eq!(status, StatusCode::OK, "{text}");

    // Without a prefix in the base URL, only OriginalUri knows the router is nested.
    let layer = TwilioSignatureLayer::new(
        validator(),
        UrlSource::configured("https://example.com").unwrap(),
    );
    let nested = Router::new().nest("/agent", self::app(layer));
    let request = post_form(
        "/agent/webhook/incoming_call",
        form(PARAMS),
        Some(&sign(url, PARAMS)),
    );
    let (status, text, _) = send(nested, request).await;
    assert_eq!(status, StatusCode::OK, "{text}");

    // A proxy that strips the prefix: the app sees /webhook/..., the prefix is put back.
    let layer = TwilioSignatureLayer::new(validator(), UrlSource::Configured(base));
    let request = post_form(
        "/webhook/incoming_call",
        form(PARAMS),
        Some(&sign(url, PARAMS)),
    );
    let (status, text, _) = send(self::app(layer), request).await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

/// A real HTTP/1.1 server on 127.0.0.1: the upgrade survives the layer (its extensions are
/// handed on), and a forged handshake never gets 101.
#[tokio::test]
async fn real_websocket_handshake_through_the_layer() {
    use axum::extract::ws::WebSocketUpgrade;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = Router::new()
        .route(
            "/ws/twilio-media",
            get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(|_socket| async {}) }),
        )
        .layer(configured());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let none: &[(&str, &str)] = &[];
    let good = sign("wss://ai.example.com/ws/twilio-media", none);
    let bad = sign("wss://evil.example/ws/twilio-media", none);
    for (signature, status) in [(good.as_str(), "101"), (bad.as_str(), "403")] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /ws/twilio-media HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Twilio-Signature: {signature}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before the response head");
            head.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
    }
    server.abort();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

    /// Whatever arrives, the layer answers 200 (signed), 403 or 413, and never panics.
    #[test]
    fn any_request_gets_a_typed_answer(
        content_type in proptest::sample::select(vec![
            "application/x-www-form-urlencoded", "application/json", "application/vnd.x+json",
            "text/plain", "multipart/form-data; boundary=x", "", "application/x-www-form-urlencoded; charset=\u{ff}",
        ]),
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        signature in "[A-Za-z0-9+/=]{0,40}",
        path in "/(webhook/incoming_call|ws/twilio-media)(\\?[a-zA-Z0-9=&%]{0,20})?",
        upgrade in proptest::prelude::any::<bool>(),
        forwarded in "[a-z=;,\": .0-9]{0,30}",
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let status = runtime.block_on(async {
            let method = if upgrade || path.starts_with("/ws") { "GET" } else { "POST" };
            let mut builder = Request::builder()
                .method(method)
                .uri(path.as_str())
                .header("x-twilio-signature", signature.as_str())
                .header("forwarded", forwarded.as_str());
            if let Ok(value) = http::HeaderValue::from_bytes(content_type.as_bytes()) {
                builder = builder.header("content-type", value);
            }
            if upgrade {
                builder = builder.header("upgrade", "websocket").header("connection", "upgrade");
            }
            let request = builder.body(Body::from(body)).unwrap();
            let trusted = TwilioSignatureLayer::new(
                validator(),
                UrlSource::TrustedProxy { fallback_scheme: Scheme::Https },
            )
            .body_limit(100);
            app(trusted).oneshot(request).await.unwrap().status()
        });
        proptest::prop_assert!(
            [StatusCode::FORBIDDEN, StatusCode::PAYLOAD_TOO_LARGE, StatusCode::METHOD_NOT_ALLOWED]
                .contains(&status),
            "{status}"
        );
    }
}
