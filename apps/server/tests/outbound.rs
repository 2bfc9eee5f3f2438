//! `POST /api/calls` and `POST /api/sms` against a local fake Twilio (axum on 127.0.0.1:0)
//! that checks the path, Basic auth and every form field against Twilio's OpenAPI document
//! (`specs/twilio_api_v2010.json`), then the webhooks carrying `context_id`.

mod common;

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::{TempDir, sqlite_store};
use http_body_util::BodyExt as _;
use kav_server::{AppState, Config, app};
use kav_twilio_sig::{RequestValidator, SecretString};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const ADMIN: &str = "admin-token-0123456789";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "test-auth-token-0123456789";
/// base64 of `{ACCOUNT}:{TOKEN}`.
const BASIC: &str =
    "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0ZXN0LWF1dGgtdG9rZW4tMDEyMzQ1Njc4OQ==";
const OURS: &str = "+97231234567";
const BASE: &str = "https://kav.example.com";
const CALL_SID: &str = "CAfeedfacefeedfacefeedfacefeedface";
const SMS_SID: &str = "SMfeedfacefeedfacefeedfacefeedface";

/// What the fake Twilio saw: (path, form pairs).
type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../specs/twilio_api_v2010.json"
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    })
}

/// What is wrong with `form` as the body of `POST {template}` according to Twilio's OpenAPI
/// document: unknown parameters, missing required ones, values of the wrong type (booleans,
/// absolute `http(s)` URLs, enums, the values a description lists), repeated scalars.
fn spec_violations(template: &str, form: &[(String, String)]) -> Vec<String> {
    let schema = &spec()["paths"][template]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        ["schema"];
    let properties = schema["properties"]
        .as_object()
        .expect("operation in the spec");
    let mut wrong = Vec::new();
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().unwrap();
        if !form.iter().any(|(k, _)| k == name) {
            wrong.push(format!("{name} is required"));
        }
    }
    for (key, value) in form {
        let Some(property) = properties.get(key) else {
            wrong.push(format!("{key} is not a parameter of {template}"));
            continue;
        };
        let is_array = property["type"] == "array";
        if !is_array && form.iter().filter(|(k, _)| k == key).count() > 1 {
            wrong.push(format!("{key} is repeated"));
        }
        let item = if is_array {
            &property["items"]
        } else {
            property
        };
        if item["type"] == "boolean" && value != "true" && value != "false" {
            wrong.push(format!("{key}={value} is not a boolean"));
        }
        let is_url = item["format"] == "uri" || key.ends_with("Callback") || key == "Url";
        if is_url
            && !url::Url::parse(value)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        {
            wrong.push(format!("{key}={value} is not an absolute URL"));
        }
        if let Some(allowed) = item["enum"].as_array()
            && !allowed.iter().any(|a| a == value.as_str())
        {
            wrong.push(format!("{key}={value} is not one of {allowed:?}"));
        }
        if key == "StatusCallbackEvent"
            && !["initiated", "ringing", "answered", "completed"].contains(&value.as_str())
        {
            wrong.push(format!("{key}={value} is not a call progress event"));
        }
        let description = property["description"].as_str().unwrap_or_default();
        if item["format"] == "endpoint" && value.is_empty() {
            wrong.push(format!("{key} is empty ({description})"));
        }
    }
    wrong
}

#[derive(Clone)]
struct Fake {
    seen: Seen,
    /// Answer with a Twilio error document instead.
    fail: bool,
}

async fn fake_twilio(
    State(fake): State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(BASIC)
    {
        return (StatusCode::UNAUTHORIZED, "bad auth").into_response();
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let template = uri.path().replace(ACCOUNT, "{AccountSid}");
    let violations = spec_violations(&template, &form);
    if !violations.is_empty() {
        // Twilio's error document, so the server's 502 shows what the spec refused.
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "code": 21200, "status": 400, "message": violations.join("; "),
                "more_info": "https://www.twilio.com/docs/errors/21200"
            })),
        )
            .into_response();
    }
    fake.seen
        .lock()
        .unwrap()
        .push((uri.path().to_owned(), form.clone()));
    if fake.fail {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "code": 21211,
                "message": "The 'To' number +15005550001 is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400
            })),
        )
            .into_response();
    }
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let path = uri.path();
    if path == format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json") {
        (
            StatusCode::CREATED,
            axum::Json(json!({
                "sid": CALL_SID, "account_sid": ACCOUNT, "status": "queued",
                "to": get("To"), "from": get("From"), "direction": "outbound-api"
            })),
        )
            .into_response()
    } else if path == format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json") {
        (
            StatusCode::CREATED,
            axum::Json(json!({
                "sid": SMS_SID, "account_sid": ACCOUNT, "status": "queued",
                "to": get("To"), "from": get("From"), "body": get("Body"),
                "direction": "outbound-api"
            })),
        )
            .into_response()
    } else {
        (StatusCode::NOT_FOUND, "unknown path").into_response()
    }
}

/// Starts the fake on 127.0.0.1:0; returns its base URL and what it sees.
async fn start_fake(fail: bool) -> (String, Seen) {
    let seen = Seen::default();
    let router = axum::Router::new().fallback(fake_twilio).with_state(Fake {
        seen: seen.clone(),
        fail,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}"), seen)
}

async fn state_with(vars: &[(&str, &str)]) -> (AppState, TempDir) {
    let (store, dir) = sqlite_store().await;
    let data = dir.path().to_str().unwrap().to_owned();
    let config = Config::from_vars(
        vars.iter()
            .copied()
            .chain([("KAV_DATA_DIR", data.as_str())]),
    )
    .unwrap();
    (AppState::new(config, store), dir)
}

async fn configured(twilio: &str) -> (AppState, TempDir) {
    state_with(&[
        ("ADMIN_TOKEN", ADMIN),
        ("PUBLIC_BASE_URL", BASE),
        ("TWILIO_ACCOUNT_SID", ACCOUNT),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_PHONE_NUMBER", OURS),
        ("TWILIO_API_BASE_URL", twilio),
    ])
    .await
}

async fn post_json(
    state: &AppState,
    path: &str,
    body: Value,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn all<'a>(form: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    form.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn signed_post(path_and_query: &str, params: &[(&str, &str)]) -> Request<Body> {
    let signature = RequestValidator::new(SecretString::from(TOKEN.to_owned()))
        .compute_signature(&format!("{BASE}{path_and_query}"), params);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Request::post(path_and_query)
        .header(header::HOST, "internal:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn places_a_call_through_twilio_and_stores_it() {
    let (twilio, seen) = start_fake(false).await;
    let (state, _dir) = configured(&twilio).await;
    let (status, body) = post_json(
        &state,
        "/api/calls",
        json!({ "to": "+972501234567", "context_id": "order-42", "mode": "gather" }),
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({ "sid": CALL_SID, "status": "queued" }));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (path, form) = &seen[0];
    assert_eq!(path, &format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json"));
    assert_eq!(all(form, "To"), ["+972501234567"]);
    assert_eq!(all(form, "From"), [OURS]);
    // The call's mode travels in the TwiML URL (covered by the signature).
    assert_eq!(
        all(form, "Url"),
        [format!("{BASE}/webhook/incoming_call?context_id=order-42&mode=gather").as_str()]
    );
    assert!(all(form, "Record").is_empty(), "not recorded by default");
    assert_eq!(
        all(form, "StatusCallback"),
        [format!("{BASE}/webhook/call_status?context_id=order-42").as_str()]
    );
    assert_eq!(
        all(form, "StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );

    let call = state.store().call(CALL_SID).await.unwrap().unwrap();
    assert_eq!(call.status, "queued");
    assert_eq!(call.direction.as_deref(), Some("outbound-api"));
    assert_eq!(call.context_id.as_deref(), Some("order-42"));
    assert_eq!(call.mode.as_deref(), Some("gather"));
    assert_eq!(call.to.as_deref(), Some("+972501234567"));

    // Twilio's status callback, signed over the URL with its query, is accepted and wins.
    let params = [
        ("AccountSid", ACCOUNT),
        ("CallSid", CALL_SID),
        ("CallStatus", "ringing"),
        ("SequenceNumber", "1"),
        ("Direction", "outbound-api"),
    ];
    let response = app(state.clone())
        .oneshot(signed_post(
            "/webhook/call_status?context_id=order-42",
            &params,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let call = state.store().call(CALL_SID).await.unwrap().unwrap();
    assert_eq!(call.status, "ringing");
    assert_eq!(call.context_id.as_deref(), Some("order-42"));
    assert_eq!(state.store().status_event_count(CALL_SID).await.unwrap(), 1);
}

#[tokio::test]
async fn webhooks_store_the_context_id_of_their_query() {
    let (state, _dir) =
        state_with(&[("TWILIO_AUTH_TOKEN", TOKEN), ("PUBLIC_BASE_URL", BASE)]).await;
    let sid = "CA0000000000000000000000000000beef";
    let params = [
        ("AccountSid", ACCOUNT),
        ("CallSid", sid),
        ("CallStatus", "in-progress"),
        ("From", OURS),
        ("To", "+972501234567"),
    ];
    // Signed over the URL without the query: refused, so nothing is stored.
    let signature = RequestValidator::new(SecretString::from(TOKEN.to_owned()))
        .compute_signature(&format!("{BASE}/webhook/incoming_call"), &params);
    let mut forged = signed_post("/webhook/incoming_call?context_id=c-1", &params);
    forged
        .headers_mut()
        .insert("X-Twilio-Signature", signature.parse().unwrap());
    let response = app(state.clone()).oneshot(forged).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(state.store().call(sid).await.unwrap().is_none());

    let response = app(state.clone())
        .oneshot(signed_post(
            "/webhook/incoming_call?context_id=c-1",
            &params,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let call = state.store().call(sid).await.unwrap().unwrap();
    assert_eq!(call.context_id.as_deref(), Some("c-1"));
    // No mode in the URL: the call is answered, and stored, in the server's CALL_MODE.
    assert_eq!(
        call.mode.as_deref(),
        Some(state.config().call_mode().as_str())
    );
}

#[tokio::test]
async fn refuses_bad_requests_and_reports_twilio_errors() {
    let (twilio, seen) = start_fake(true).await;
    let (state, _dir) = configured(&twilio).await;
    let call = json!({ "to": "+972501234567" });
    assert_eq!(
        post_json(&state, "/api/calls", call.clone(), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_json(&state, "/api/calls", call.clone(), Some("wrong"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    for bad in [
        json!({ "to": "0501234567" }),
        json!({ "to": "+972501234567", "context_id": "a b" }),
        json!({ "to": "+972501234567", "mode": "stream" }),
        json!({ "to": "+972501234567", "extra": 1 }),
        json!({}),
    ] {
        let (status, body) = post_json(&state, "/api/calls", bad.clone(), Some(ADMIN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
    }
    assert!(seen.lock().unwrap().is_empty());

    let (status, body) = post_json(&state, "/api/calls", call, Some(ADMIN)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["twilio_code"], 21211);
    assert_eq!(body["twilio_status"], 400);
    assert!(
        body["twilio_message"]
            .as_str()
            .unwrap()
            .contains("not a valid phone number")
    );
    assert!(state.store().call(CALL_SID).await.unwrap().is_none());
}

#[tokio::test]
async fn missing_twilio_config_is_503() {
    let (state, _dir) = state_with(&[("ADMIN_TOKEN", ADMIN), ("PUBLIC_BASE_URL", BASE)]).await;
    let (status, body) = post_json(
        &state,
        "/api/calls",
        json!({ "to": "+972501234567" }),
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("TWILIO_ACCOUNT_SID")
    );
}

#[tokio::test]
async fn sends_an_sms_through_twilio_and_stores_its_delivery_status() {
    let (twilio, seen) = start_fake(false).await;
    let (state, _dir) = configured(&twilio).await;
    let (status, body) = post_json(
        &state,
        "/api/sms",
        json!({ "to": "+972501234567", "body": "שלום & hi", "context_id": "order-42" }),
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({ "sid": SMS_SID, "status": "queued" }));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (path, form) = &seen[0];
    assert_eq!(
        path,
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
    assert_eq!(all(form, "To"), ["+972501234567"]);
    assert_eq!(all(form, "From"), [OURS]);
    assert_eq!(all(form, "Body"), ["שלום & hi"]);
    assert_eq!(
        all(form, "StatusCallback"),
        [format!("{BASE}/webhook/sms_status").as_str()]
    );
    let sms = state.store().sms(SMS_SID).await.unwrap().unwrap();
    assert_eq!(sms.status.as_deref(), Some("queued"));
    assert_eq!(sms.direction, "outbound-api");
    assert_eq!(sms.body.as_deref(), Some("שלום & hi"));
    assert_eq!(sms.context_id.as_deref(), Some("order-42"));

    let params = [
        ("AccountSid", ACCOUNT),
        ("MessageSid", SMS_SID),
        ("MessageStatus", "delivered"),
    ];
    let response = app(state.clone())
        .oneshot(signed_post("/webhook/sms_status", &params))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let sms = state.store().sms(SMS_SID).await.unwrap().unwrap();
    assert_eq!(sms.status.as_deref(), Some("delivered"));
    assert_eq!(sms.body.as_deref(), Some("שלום & hi"));

    // Malformed status callbacks are ignored, still 200.
    let response = app(state.clone())
        .oneshot(signed_post("/webhook/sms_status", &[("MessageSid", "SM1")]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    for bad in [
        json!({ "to": "+972501234567", "body": "" }),
        json!({ "to": "nope", "body": "hi" }),
        json!({ "to": "+972501234567" }),
    ] {
        let (status, _) = post_json(&state, "/api/sms", bad, Some(ADMIN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

#[test]
fn the_spec_check_catches_bad_forms() {
    let template = "/2010-04-01/Accounts/{AccountSid}/Calls.json";
    let form = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let good = form(&[
        ("To", "+972501234567"),
        ("From", OURS),
        (
            "Url",
            "https://kav.example.com/webhook/incoming_call?mode=gather",
        ),
        ("Record", "true"),
        ("StatusCallbackEvent", "ringing"),
        ("StatusCallbackEvent", "completed"),
    ]);
    assert_eq!(spec_violations(template, &good), Vec::<String>::new());
    for bad in [
        form(&[("From", OURS), ("Url", "https://kav.example.com/x")]),
        form(&[("To", "+1"), ("From", OURS), ("Mode", "gather")]),
        form(&[("To", "+1"), ("From", OURS), ("Record", "yes")]),
        form(&[("To", "+1"), ("From", OURS), ("Url", "kav.example.com/x")]),
        form(&[
            ("To", "+1"),
            ("From", OURS),
            ("RecordingStatusCallback", "/x"),
        ]),
        form(&[
            ("To", "+1"),
            ("From", OURS),
            ("StatusCallbackEvent", "done"),
        ]),
        form(&[("To", "+1"), ("To", "+2"), ("From", OURS)]),
    ] {
        assert!(!spec_violations(template, &bad).is_empty(), "{bad:?}");
    }
}

#[tokio::test]
async fn recorded_calls_and_the_default_mode() {
    let (twilio, seen) = start_fake(false).await;
    let (state, _dir) = state_with(&[
        ("ADMIN_TOKEN", ADMIN),
        ("PUBLIC_BASE_URL", BASE),
        ("TWILIO_ACCOUNT_SID", ACCOUNT),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_PHONE_NUMBER", OURS),
        ("TWILIO_API_BASE_URL", &twilio),
        ("KAV_RECORD_CALLS", "true"),
    ])
    .await;
    // Without a speech-to-text provider a call cannot run in record mode.
    let (status, body) = post_json(
        &state,
        "/api/calls",
        json!({ "to": "+972501234567", "mode": "record" }),
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("speech-to-text"));
    assert!(seen.lock().unwrap().is_empty());

    let (status, body) = post_json(
        &state,
        "/api/calls",
        json!({ "to": "+972501234567", "context_id": "c-9" }),
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let seen = seen.lock().unwrap().clone();
    let (_, form) = &seen[0];
    assert_eq!(
        all(form, "Url"),
        [format!("{BASE}/webhook/incoming_call?context_id=c-9").as_str()],
        "no mode asked for: the server's CALL_MODE applies"
    );
    assert_eq!(all(form, "Record"), ["true"]);
    assert_eq!(
        all(form, "RecordingStatusCallback"),
        [format!("{BASE}/webhook/recording_status?context_id=c-9").as_str()]
    );
    let call = state.store().call(CALL_SID).await.unwrap().unwrap();
    assert_eq!(call.mode, None);
    assert_eq!(call.context_id.as_deref(), Some("c-9"));

    // The list and the call's JSON show the context id.
    let request = Request::get("/api/calls")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let list: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(list["calls"][0]["context_id"], "c-9");
    assert_eq!(list["calls"][0]["direction"], "outbound-api");
}

#[tokio::test]
async fn an_outbound_call_runs_in_the_mode_of_its_url() {
    // CALL_MODE=record for the server; this call asked for gather.
    let (state, _dir) = state_with(&[
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("PUBLIC_BASE_URL", BASE),
        ("CALL_MODE", "record"),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
        ("KAV_LLM", "scripted"),
        ("KAV_TTS", "off"),
    ])
    .await;
    let sid = "CA0000000000000000000000000000cafe";
    let params = [
        ("AccountSid", ACCOUNT),
        ("CallSid", sid),
        ("CallStatus", "in-progress"),
        ("From", OURS),
        ("To", "+972501234567"),
        ("Direction", "outbound-api"),
    ];
    let twiml = async |request: Request<Body>| {
        let response = app(state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    let greeting = twiml(signed_post(
        "/webhook/incoming_call?context_id=c-2&mode=gather",
        &params,
    ))
    .await;
    assert!(
        greeting.contains("<Gather") && !greeting.contains("<Record"),
        "{greeting}"
    );
    let stored = state.store().call(sid).await.unwrap().unwrap();
    assert_eq!(stored.mode.as_deref(), Some("gather"));
    assert_eq!(stored.context_id.as_deref(), Some("c-2"));
    // The next turn goes on gathering.
    let turn = twiml(signed_post(
        "/webhook/gather",
        &[("CallSid", sid), ("SpeechResult", "מה שעות הפתיחה שלכם?")],
    ))
    .await;
    assert!(
        turn.contains("<Gather") && !turn.contains("<Record"),
        "{turn}"
    );
    // Without a mode in the URL, the server's CALL_MODE.
    let greeting = twiml(signed_post("/webhook/incoming_call", &params)).await;
    assert!(
        greeting.contains("<Record") && !greeting.contains("<Gather"),
        "{greeting}"
    );
    // A mode that is not record or gather is ignored.
    let greeting = twiml(signed_post("/webhook/incoming_call?mode=stream", &params)).await;
    assert!(greeting.contains("<Record"), "{greeting}");
}
