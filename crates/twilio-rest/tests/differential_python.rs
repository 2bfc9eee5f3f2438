//! Differential test: for the same operations, this crate sends the same method, URL, Basic-auth
//! user and form fields as Twilio's own helper library (twilio-python, run once with every case
//! batched on stdin; see `tests/peer/twilio_requests.py`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use kav_twilio_rest::{
    AccountSid, ApiKeySid, CallEvent, CallInstructions, CallSid, CreateCall, CreateMessage,
    Credentials, Endpoint, HttpMethod, MachineDetection, MessagingServiceSid, PhoneNumber,
    PreparedRequest, RecordingSid, SecretString, TwilioClient, UpdateCall, Url,
};
use serde_json::{Value, json};

const AC: &str = "AC0123456789abcdef0123456789abcdef";
const SK: &str = "SK0123456789abcdef0123456789abcdef";
const CA: &str = "CAfedcba9876543210fedcba9876543210";
const RE: &str = "RE00112233445566778899aabbccddeeff";
const MG: &str = "MG0123456789abcdef0123456789abcdef";

fn python() -> Option<PathBuf> {
    if std::env::var("KAV_SKIP_PYTHON_PEERS").as_deref() == Ok("1") {
        eprintln!("KAV_SKIP_PYTHON_PEERS=1: skipping the twilio-python differential test");
        return None;
    }
    if let Ok(p) = std::env::var("KAV_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../.venv/bin/python"
    ));
    assert!(
        venv.exists(),
        "no Python with twilio-python: run scripts/test.sh (it installs .venv), set KAV_PYTHON, \
         or set KAV_SKIP_PYTHON_PEERS=1 to skip"
    );
    Some(venv)
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn num(s: &str) -> PhoneNumber {
    PhoneNumber::new(s).unwrap()
}

fn token_client(region: Option<&str>, edge: Option<&str>) -> TwilioClient {
    let creds =
        Credentials::auth_token(AccountSid::new(AC).unwrap(), SecretString::from("tok")).unwrap();
    let mut b = TwilioClient::builder(creds);
    if let Some(r) = region {
        b = b.region(r);
    }
    if let Some(e) = edge {
        b = b.edge(e);
    }
    b.build().unwrap()
}

fn key_client() -> TwilioClient {
    let creds = Credentials::api_key(
        AccountSid::new(AC).unwrap(),
        &ApiKeySid::new(SK).unwrap(),
        SecretString::from("key-secret"),
    )
    .unwrap();
    TwilioClient::new(creds).unwrap()
}

/// One case: the twilio-python call and our prepared request for the same operation.
fn cases() -> Vec<(Value, PreparedRequest)> {
    let c = token_client(None, None);
    let call_sid = CallSid::new(CA).unwrap();
    let rec_sid = RecordingSid::new(RE).unwrap();
    let py = |username: &str, extra: Value| {
        let mut v = json!({"username": username, "password": "tok", "account_sid": AC});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v
    };
    vec![
        (
            py(
                AC,
                json!({"op": "create_call", "kwargs": {
                    "to": "+14155550100", "from_": "+14155550199",
                    "url": "https://agent.example.com/webhook/incoming_call?ctx=a%20b&x=1",
                    "method": "POST",
                    "status_callback": "https://agent.example.com/webhook/call_status",
                    "status_callback_event": ["initiated", "ringing", "answered", "completed"],
                    "status_callback_method": "POST",
                    "fallback_url": "https://agent.example.com/webhook/fallback",
                    "fallback_method": "GET",
                    "record": true,
                    "recording_status_callback": "https://agent.example.com/webhook/recording_status",
                    "machine_detection": "Enable",
                    "timeout": 25, "time_limit": 600, "send_digits": "ww1234#",
                }}),
            ),
            c.prepare_create_call(
                &CreateCall::new(
                    num("+14155550100"),
                    num("+14155550199"),
                    CallInstructions::Url {
                        url: url("https://agent.example.com/webhook/incoming_call?ctx=a%20b&x=1"),
                        method: Some(HttpMethod::Post),
                    },
                )
                .status_callback(url("https://agent.example.com/webhook/call_status"))
                .status_callback_events(CallEvent::ALL.iter().copied())
                .status_callback_method(HttpMethod::Post)
                .fallback_url(
                    url("https://agent.example.com/webhook/fallback"),
                    Some(HttpMethod::Get),
                )
                .record(true)
                .recording_status_callback(url(
                    "https://agent.example.com/webhook/recording_status",
                ))
                .machine_detection(MachineDetection::Enable)
                .timeout(25)
                .time_limit(600)
                .send_digits("ww1234#"),
            )
            .unwrap(),
        ),
        (
            py(
                AC,
                json!({"op": "create_call", "region": "ie1", "kwargs": {
                    "to": "client:alice", "from_": "+14155550199",
                    "twiml": "<Response><Say language=\"he-IL\">שלום &amp; ברוכים</Say></Response>",
                    "record": false,
                }}),
            ),
            token_client(Some("ie1"), None)
                .prepare_create_call(
                    &CreateCall::new(
                        Endpoint::parse("client:alice").unwrap(),
                        num("+14155550199"),
                        CallInstructions::twiml(
                            "<Response><Say language=\"he-IL\">שלום &amp; ברוכים</Say></Response>",
                        ),
                    )
                    .record(false),
                )
                .unwrap(),
        ),
        (
            py(
                AC,
                json!({"op": "create_call", "edge": "sydney", "kwargs": {
                    "to": "sip:bob@example.com", "from_": "+14155550199",
                    "url": "https://agent.example.com/voice",
                }}),
            ),
            token_client(None, Some("sydney"))
                .prepare_create_call(&CreateCall::new(
                    Endpoint::parse("sip:bob@example.com").unwrap(),
                    num("+14155550199"),
                    CallInstructions::url(url("https://agent.example.com/voice")),
                ))
                .unwrap(),
        ),
        (
            py(
                AC,
                json!({"op": "create_call", "region": "au1", "edge": "sydney", "kwargs": {
                    "to": "+14155550100", "from_": "+14155550199",
                    "url": "https://agent.example.com/voice",
                }}),
            ),
            token_client(Some("au1"), Some("sydney"))
                .prepare_create_call(&CreateCall::new(
                    num("+14155550100"),
                    num("+14155550199"),
                    CallInstructions::url(url("https://agent.example.com/voice")),
                ))
                .unwrap(),
        ),
        (
            py(
                AC,
                json!({"op": "update_call", "sid": CA, "kwargs": {"status": "completed"}}),
            ),
            c.prepare_update_call(&call_sid, &UpdateCall::hang_up())
                .unwrap(),
        ),
        (
            py(
                AC,
                json!({"op": "update_call", "sid": CA, "kwargs": {"status": "canceled"}}),
            ),
            c.prepare_update_call(&call_sid, &UpdateCall::cancel())
                .unwrap(),
        ),
        (
            py(
                AC,
                json!({"op": "update_call", "sid": CA, "kwargs": {
                    "url": "https://agent.example.com/next", "method": "GET",
                    "status_callback": "https://agent.example.com/status",
                    "status_callback_method": "POST",
                }}),
            ),
            c.prepare_update_call(
                &call_sid,
                &UpdateCall::redirect(url("https://agent.example.com/next"), Some(HttpMethod::Get))
                    .status_callback(
                        url("https://agent.example.com/status"),
                        Some(HttpMethod::Post),
                    ),
            )
            .unwrap(),
        ),
        (
            py(
                AC,
                json!({"op": "update_call", "sid": CA, "kwargs": {
                    "twiml": "<Response><Hangup/></Response>", "time_limit": 30,
                }}),
            ),
            c.prepare_update_call(
                &call_sid,
                &UpdateCall::twiml("<Response><Hangup/></Response>").time_limit(30),
            )
            .unwrap(),
        ),
        (
            py(AC, json!({"op": "fetch_call", "sid": CA})),
            c.prepare_fetch_call(&call_sid).unwrap(),
        ),
        (
            py(
                AC,
                json!({"op": "create_message", "kwargs": {
                    "to": "+972501234567", "from_": "+14155550199",
                    "body": "תודה! Reply STOP to opt out & more: 100%",
                    "status_callback": "https://agent.example.com/webhook/sms_status",
                }}),
            ),
            c.prepare_create_message(
                &CreateMessage::new(num("+972501234567"), num("+14155550199"))
                    .body("תודה! Reply STOP to opt out & more: 100%")
                    .status_callback(url("https://agent.example.com/webhook/sms_status")),
            )
            .unwrap(),
        ),
        (
            py(
                AC,
                json!({"op": "create_message", "kwargs": {
                    "to": "+972501234567", "messaging_service_sid": MG,
                    "media_url": ["https://agent.example.com/a.png", "https://agent.example.com/b.png"],
                }}),
            ),
            c.prepare_create_message(
                &CreateMessage::new(num("+972501234567"), MessagingServiceSid::new(MG).unwrap())
                    .media_url(url("https://agent.example.com/a.png"))
                    .media_url(url("https://agent.example.com/b.png")),
            )
            .unwrap(),
        ),
        (
            py(SK, json!({"op": "fetch_recording", "sid": RE})),
            key_client().prepare_fetch_recording(&rec_sid).unwrap(),
        ),
        (
            py(SK, json!({"op": "delete_recording", "sid": RE})),
            key_client().prepare_delete_recording(&rec_sid).unwrap(),
        ),
    ]
}

/// Form fields grouped by key, keeping the order of repeated values.
fn grouped<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        m.entry(k.to_owned()).or_default().push(v.to_owned());
    }
    m
}

#[test]
fn requests_match_twilio_python() {
    let Some(python) = python() else { return };
    let cases = cases();
    let input = Value::Array(cases.iter().map(|(py, _)| py.clone()).collect());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peer/twilio_requests.py");
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "twilio-python side failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answers.len(), cases.len());
    for (i, ((py, ours), theirs)) in cases.iter().zip(&answers).enumerate() {
        let ctx = format!("case {i} ({})", py["op"]);
        assert_eq!(theirs["method"], ours.method(), "{ctx}: method");
        assert_eq!(theirs["url"], ours.url().as_str(), "{ctx}: URL");
        assert_eq!(theirs["query"], json!([]), "{ctx}: query");
        assert_eq!(theirs["auth"], ours.auth_user(), "{ctx}: Basic-auth user");
        let their_form = grouped(
            theirs["form"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap())),
        );
        let our_form = grouped(ours.form().iter().map(|(k, v)| (*k, v.as_str())));
        assert_eq!(our_form, their_form, "{ctx}: form fields");
    }
}
