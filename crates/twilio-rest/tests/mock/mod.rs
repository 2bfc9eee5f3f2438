//! A local stand-in for Twilio's REST API that checks every request against Twilio's OpenAPI
//! document (`specs/twilio_api_v2010.json`) and answers with bodies built from the document's
//! own examples.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

/// The OpenAPI document, loaded once per test binary.
pub(crate) fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../specs/twilio_api_v2010.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        serde_json::from_str(&text).expect("the OpenAPI document is JSON")
    })
}

/// Resolves a `$ref` to `#/components/schemas/…`.
pub(crate) fn resolve(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unsupported $ref {r}"));
            &spec()["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Checks `value` against a SID pattern of the forms Twilio uses:
/// `^XY[0-9a-fA-F]{32}$` and `^(XY|ZW)[0-9a-fA-F]{32}$`.
fn matches_pattern(pattern: &str, value: &str) -> bool {
    let inner = pattern
        .strip_prefix('^')
        .and_then(|p| p.strip_suffix("[0-9a-fA-F]{32}$"))
        .unwrap_or_else(|| panic!("unsupported pattern {pattern}"));
    let prefixes: Vec<&str> = match inner.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
        Some(alts) => alts.split('|').collect(),
        None => vec![inner],
    };
    assert!(
        prefixes
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_alphabetic())),
        "unsupported pattern {pattern}"
    );
    prefixes.iter().any(|p| {
        value.len() == p.len() + 32
            && value.starts_with(p)
            && value[p.len()..].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn is_e164(v: &str) -> bool {
    v.strip_prefix('+').is_some_and(|d| {
        (1..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// Checks one value against a (resolved) property schema. Returns a problem, if any.
fn check_value(name: &str, schema: &Value, value: &str) -> Option<String> {
    let schema = resolve(schema);
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.iter().any(|v| v.as_str() == Some(value))
    {
        return Some(format!("{name}={value:?} is not one of {values:?}"));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") if value.parse::<i64>().is_err() => {
            return Some(format!("{name}={value:?} is not an integer"));
        }
        Some("number") if value.parse::<f64>().is_err() => {
            return Some(format!("{name}={value:?} is not a number"));
        }
        Some("boolean") if !matches!(value, "true" | "false") => {
            return Some(format!("{name}={value:?} is not a boolean"));
        }
        _ => {}
    }
    if let Some(p) = schema.get("pattern").and_then(Value::as_str)
        && !matches_pattern(p, value)
    {
        return Some(format!("{name}={value:?} does not match {p}"));
    }
    let len = value.chars().count() as u64;
    if schema
        .get("minLength")
        .and_then(Value::as_u64)
        .is_some_and(|m| len < m)
        || schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len > m)
    {
        return Some(format!("{name}={value:?} has a bad length"));
    }
    match schema.get("format").and_then(Value::as_str) {
        Some("uri") => {
            let ok = url::Url::parse(value)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !ok {
                return Some(format!("{name}={value:?} is not an absolute http(s) URI"));
            }
        }
        Some("endpoint") => {
            let ok = is_e164(value)
                || value.strip_prefix("client:").is_some_and(|r| !r.is_empty())
                || value.strip_prefix("sip:").is_some_and(|r| r.contains('@'));
            if !ok {
                return Some(format!(
                    "{name}={value:?} is not a phone number, client: or sip: address"
                ));
            }
        }
        Some("phone-number") => {
            let ok = is_e164(value)
                || value
                    .split_once(':')
                    .is_some_and(|(ch, rest)| !ch.is_empty() && is_e164(rest));
            if !ok {
                return Some(format!(
                    "{name}={value:?} is not an E.164 number or channel address"
                ));
            }
        }
        _ => {}
    }
    None
}

/// The documented values of a parameter whose schema is a plain string but whose description
/// lists them (Twilio's OpenAPI leaves some enums to prose); the test checks that the
/// description really names each of them.
fn described_values(op_id: &str, name: &str) -> Option<&'static [&'static str]> {
    match (op_id, name) {
        ("CreateCall", "MachineDetection") => Some(&["Enable", "DetectMessageEnd"]),
        _ => None,
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) operation: Option<String>,
    pub(crate) authorization: Option<String>,
    pub(crate) form: Vec<(String, String)>,
}

impl Seen {
    pub(crate) fn values(&self, key: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A scripted answer, used instead of the default one.
#[derive(Debug, Clone)]
pub(crate) struct Canned {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
    /// Send the body in chunks without `Content-Length`.
    pub(crate) chunked: bool,
    /// Wait this long before answering.
    pub(crate) delay: Duration,
}

impl Canned {
    pub(crate) fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            chunked: false,
            delay: Duration::ZERO,
        }
    }

    /// Twilio's JSON error document.
    pub(crate) fn twilio_error(status: u16, code: u32, message: &str) -> Self {
        let body = json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        });
        Self::status(status)
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    pub(crate) fn chunked(mut self) -> Self {
        self.chunked = true;
        self
    }

    pub(crate) fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

#[derive(Default)]
struct Shared {
    seen: Vec<Seen>,
    violations: Vec<String>,
    auth_failures: usize,
    canned: VecDeque<Canned>,
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Mutex<Shared>>,
    expected_auth: Arc<String>,
}

/// A running mock server.
pub(crate) struct MockTwilio {
    pub(crate) addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

/// A tiny WAV file (100 ms of 8 kHz 16-bit silence), as Twilio serves recordings.
pub(crate) fn wav_bytes() -> Vec<u8> {
    let data_len: u32 = 1600;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&16000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.resize(v.len() + data_len as usize, 0);
    v
}

/// Stand-in MP3 bytes (an ID3 header and silence; the client does not decode).
pub(crate) fn mp3_bytes() -> Vec<u8> {
    let mut v = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    v.resize(417, 0);
    v
}

impl MockTwilio {
    /// Starts a server on 127.0.0.1:0 accepting Basic auth `user:password`.
    pub(crate) async fn start(user: &str, password: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::serve(listener, user, password)
    }

    /// Serves on an already bound listener.
    pub(crate) fn serve(listener: tokio::net::TcpListener, user: &str, password: &str) -> Self {
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let state = AppState {
            shared: shared.clone(),
            expected_auth: Arc::new(format!("Basic {token}")),
        };
        let app = Router::new().fallback(handle).with_state(state);
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("mock server");
        });
        Self { addr, shared }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a scripted answer for the next request.
    pub(crate) fn push(&self, canned: Canned) {
        self.shared.lock().unwrap().canned.push_back(canned);
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    pub(crate) fn auth_failures(&self) -> usize {
        self.shared.lock().unwrap().auth_failures
    }

    /// Panics if any request broke the OpenAPI document.
    pub(crate) fn assert_clean(&self) {
        let s = self.shared.lock().unwrap();
        assert!(
            s.violations.is_empty(),
            "requests broke the OpenAPI document:\n{}",
            s.violations.join("\n")
        );
    }
}

/// Finds the operation for a request path: returns (template, path parameters).
fn match_path(path: &str) -> Result<(String, BTreeMap<String, String>), String> {
    let got: Vec<&str> = path.split('/').collect();
    let mut found = Vec::new();
    for template in spec()["paths"].as_object().expect("paths").keys() {
        let want: Vec<&str> = template.split('/').collect();
        if want.len() != got.len() {
            continue;
        }
        let mut params = BTreeMap::new();
        let ok = want
            .iter()
            .zip(&got)
            .all(|(w, g)| match (w.find('{'), w.find('}')) {
                (Some(a), Some(b)) => {
                    let (prefix, suffix) = (&w[..a], &w[b + 1..]);
                    let name = &w[a + 1..b];
                    match g
                        .strip_prefix(prefix)
                        .and_then(|rest| rest.strip_suffix(suffix))
                    {
                        Some(v) if !v.is_empty() && !v.contains('.') => {
                            params.insert(name.to_owned(), v.to_owned());
                            true
                        }
                        _ => false,
                    }
                }
                _ => w == g,
            });
        if ok {
            found.push((template.clone(), params));
        }
    }
    match found.len() {
        1 => Ok(found.pop().expect("one")),
        0 => Err(format!("no path template matches {path}")),
        _ => Err(format!("several path templates match {path}: {found:?}")),
    }
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Validates a request against the document. Returns the operation id and its problems.
fn validate(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> (Option<String>, BTreeMap<String, String>, Vec<String>) {
    let mut problems = Vec::new();
    let (template, path_params) = match match_path(uri.path()) {
        Ok(m) => m,
        Err(e) => return (None, BTreeMap::new(), vec![e]),
    };
    let Some(op) = spec()["paths"][&template].get(method.as_str().to_ascii_lowercase()) else {
        return (
            None,
            path_params,
            vec![format!("{method} is not documented for {template}")],
        );
    };
    let op_id = op["operationId"].as_str().unwrap_or("?").to_owned();
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    for (name, value) in &path_params {
        match params
            .iter()
            .find(|p| p["in"] == "path" && p["name"] == name.as_str())
        {
            Some(p) => problems.extend(check_value(name, &p["schema"], value)),
            None => problems.push(format!("{op_id}: undocumented path parameter {name}")),
        }
    }
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        match params
            .iter()
            .find(|p| p["in"] == "query" && p["name"] == k.as_ref())
        {
            Some(p) => problems.extend(check_value(&k, &p["schema"], &v)),
            None => problems.push(format!("{op_id}: undocumented query parameter {k}")),
        }
    }
    let form = form_pairs(body);
    match op.get("requestBody") {
        None => {
            if !body.is_empty() {
                problems.push(format!("{op_id}: takes no body, got {} bytes", body.len()));
            }
        }
        Some(rb) => {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let ct_main = ct.split(';').next().unwrap_or("").trim();
            let Some(media) = rb["content"].get(ct_main) else {
                problems.push(format!("{op_id}: content type {ct:?} is not documented"));
                return (Some(op_id), path_params, problems);
            };
            if ct_main != "application/x-www-form-urlencoded" {
                problems.push(format!("{op_id}: unexpected content type {ct:?}"));
            }
            let schema = resolve(&media["schema"]);
            let props = schema["properties"].as_object().expect("properties");
            for req in schema["required"].as_array().into_iter().flatten() {
                let req = req.as_str().expect("name");
                if !form.iter().any(|(k, _)| k == req) {
                    problems.push(format!("{op_id}: required parameter {req} missing"));
                }
            }
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (k, v) in &form {
                *counts.entry(k).or_default() += 1;
                let Some(prop) = props.get(k) else {
                    problems.push(format!("{op_id}: parameter {k} is not in the document"));
                    continue;
                };
                let prop = resolve(prop);
                let item_schema = if prop["type"] == "array" {
                    &prop["items"]
                } else {
                    prop
                };
                problems.extend(check_value(k, item_schema, v));
                if let Some(allowed) = described_values(&op_id, k) {
                    let desc = prop["description"].as_str().unwrap_or("");
                    for a in allowed {
                        assert!(desc.contains(a), "{k}'s description no longer names {a}");
                    }
                    if !allowed.contains(&v.as_str()) {
                        problems.push(format!("{op_id}: {k}={v:?} is not one of {allowed:?}"));
                    }
                }
            }
            for (k, n) in counts {
                if n > 1
                    && props
                        .get(k)
                        .map(resolve)
                        .is_some_and(|p| p["type"] != "array")
                {
                    problems.push(format!("{op_id}: {k} repeated but not a list"));
                }
            }
            problems.extend(conditional_rules(&op_id, &form));
        }
    }
    (Some(op_id), path_params, problems)
}

/// Rules Twilio states in prose rather than in the schema.
fn conditional_rules(op_id: &str, form: &[(String, String)]) -> Vec<String> {
    let has = |k: &str| form.iter().any(|(key, _)| key == k);
    let count = |keys: &[&str]| keys.iter().filter(|k| has(k)).count();
    let mut problems = Vec::new();
    match op_id {
        "CreateCall" => {
            if count(&["Url", "Twiml", "ApplicationSid"]) != 1 {
                problems.push("CreateCall: exactly one of Url, Twiml, ApplicationSid".to_owned());
            }
            let events = &spec()["components"]["schemas"]["call_enum_event"]["enum"];
            for (k, v) in form {
                if k == "StatusCallbackEvent"
                    && !events
                        .as_array()
                        .expect("enum")
                        .iter()
                        .any(|e| e == v.as_str())
                {
                    problems.push(format!(
                        "CreateCall: StatusCallbackEvent={v:?} not in call_enum_event"
                    ));
                }
            }
            if has("StatusCallbackEvent") && !has("StatusCallback") {
                problems.push("CreateCall: StatusCallbackEvent without StatusCallback".to_owned());
            }
        }
        "UpdateCall" => {
            if has("Url") && has("Twiml") {
                problems.push("UpdateCall: Url and Twiml are mutually exclusive".to_owned());
            }
            if count(&["Status", "Url", "Twiml"]) == 0 {
                problems.push("UpdateCall: none of Status, Url, Twiml".to_owned());
            }
        }
        "CreateMessage" => {
            if count(&["From", "MessagingServiceSid"]) == 0 {
                problems.push("CreateMessage: one of From, MessagingServiceSid".to_owned());
            }
            if count(&["Body", "MediaUrl", "ContentSid"]) == 0 {
                problems.push("CreateMessage: one of Body, MediaUrl, ContentSid".to_owned());
            }
        }
        _ => {}
    }
    problems
}

fn example_of(op: &Value, status: &str) -> Value {
    op["responses"][status]["content"]["application/json"]["examples"]
        .as_object()
        .and_then(|ex| ex.values().next())
        .map(|e| e["value"].clone())
        .unwrap_or_else(|| panic!("no example for {}", op["operationId"]))
}

fn new_sid(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:032x}")
}

/// The default answer for a valid request: the document's example, adjusted to the request.
fn default_answer(
    op_id: &str,
    method: &Method,
    path: &str,
    params: &BTreeMap<String, String>,
    form: &[(String, String)],
    n: usize,
) -> (u16, Value) {
    let template = match_path(path).expect("validated").0;
    let op = &spec()["paths"][&template][method.as_str().to_ascii_lowercase()];
    let field = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let account = params.get("AccountSid").cloned().unwrap_or_default();
    match op_id {
        "CreateCall" => {
            let mut v = example_of(op, "201");
            v["sid"] = json!(new_sid("CA", n));
            v["account_sid"] = json!(account);
            v["to"] = json!(field("To"));
            v["from"] = json!(field("From"));
            v["status"] = json!("queued");
            v["direction"] = json!("outbound-api");
            (201, v)
        }
        "UpdateCall" | "FetchCall" => {
            let mut v = example_of(op, "200");
            v["sid"] = json!(params["Sid"]);
            v["account_sid"] = json!(account);
            if let Some(s) = field("Status") {
                v["status"] = json!(s);
            }
            (200, v)
        }
        "CreateMessage" => {
            let mut v = example_of(op, "201");
            v["sid"] = json!(new_sid("SM", n));
            v["account_sid"] = json!(account);
            v["to"] = json!(field("To"));
            v["from"] = json!(field("From"));
            v["body"] = json!(field("Body"));
            v["messaging_service_sid"] = json!(field("MessagingServiceSid"));
            (201, v)
        }
        "FetchRecording" => {
            let mut v = example_of(op, "200");
            v["sid"] = json!(params["Sid"]);
            v["account_sid"] = json!(account);
            (200, v)
        }
        "DeleteRecording" => (204, Value::Null),
        other => panic!("the mock has no answer for {other}"),
    }
}

fn respond(status: u16, headers: &[(&str, String)], body: Body) -> Response {
    let mut b = Response::builder().status(StatusCode::from_u16(status).expect("status"));
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.body(body).expect("response")
}

async fn handle(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = uri.path().to_owned();
    let media = path.ends_with(".wav") || path.ends_with(".mp3");
    let (op_id, params, problems) = if media {
        // Recording media: `RecordingUrl` + extension, GET only (not in the OpenAPI document).
        let json_path = format!("{}.json", &path[..path.len() - 4]);
        match match_path(&json_path) {
            Ok((t, p)) if t.ends_with("/Recordings/{Sid}.json") && method == Method::GET => {
                (Some("RecordingMedia".to_owned()), p, Vec::new())
            }
            _ => (
                None,
                BTreeMap::new(),
                vec![format!("{method} {path} is not recording media")],
            ),
        }
    } else {
        validate(&method, &uri, &headers, &body)
    };
    let form = if media { Vec::new() } else { form_pairs(&body) };
    let (canned, n) = {
        let mut s = st.shared.lock().unwrap();
        s.seen.push(Seen {
            method: method.to_string(),
            path: path.clone(),
            operation: op_id.clone(),
            authorization: authorization.clone(),
            form: form.clone(),
        });
        for p in &problems {
            s.violations.push(format!("{method} {path}: {p}"));
        }
        let n = s.seen.len();
        if authorization.as_deref() != Some(st.expected_auth.as_str()) {
            s.auth_failures += 1;
            drop(s);
            let c = Canned::twilio_error(401, 20003, "Authentication Error - invalid username");
            return respond(c.status, &c.headers, Body::from(c.body));
        }
        (s.canned.pop_front(), n)
    };
    if !problems.is_empty() {
        let c = Canned::twilio_error(400, 21000, &problems.join("; "));
        return respond(c.status, &c.headers, Body::from(c.body));
    }
    if let Some(c) = canned {
        tokio::time::sleep(c.delay).await;
        let body = if c.chunked {
            let chunks: Vec<Result<Bytes, std::io::Error>> = c
                .body
                .chunks(8192)
                .map(|ch| Ok(Bytes::copy_from_slice(ch)))
                .collect();
            Body::from_stream(futures_util::stream::iter(chunks))
        } else {
            Body::from(c.body)
        };
        return respond(c.status, &c.headers, body);
    }
    let op_id = op_id.expect("validated");
    if op_id == "RecordingMedia" {
        let (ct, bytes) = if path.ends_with(".wav") {
            ("audio/x-wav", wav_bytes())
        } else {
            ("audio/mpeg", mp3_bytes())
        };
        return respond(200, &[("content-type", ct.to_owned())], Body::from(bytes));
    }
    let (status, value) = default_answer(&op_id, &method, &path, &params, &form, n);
    if status == 204 {
        return respond(204, &[], Body::empty());
    }
    respond(
        status,
        &[("content-type", "application/json".to_owned())],
        Body::from(value.to_string()),
    )
}

/// A response built from a schema: every documented property present and null, plus one
/// property the document does not have (Twilio adds fields over time).
pub(crate) fn all_null_from_schema(schema_name: &str) -> Value {
    let schema = &spec()["components"]["schemas"][schema_name];
    let mut obj = serde_json::Map::new();
    for (k, p) in schema["properties"].as_object().expect("properties") {
        let p = resolve(p);
        // Only nullable properties may be null; the rest get a value of their type.
        let nullable = p.get("nullable").and_then(Value::as_bool).unwrap_or(false);
        let v = if nullable {
            Value::Null
        } else if let Some(first) = p.get("enum").and_then(|e| e.get(0)) {
            first.clone()
        } else {
            panic!("{schema_name}.{k} is neither nullable nor an enum")
        };
        obj.insert(k.clone(), v);
    }
    obj.insert("a_field_from_the_future".into(), json!({"nested": [1, 2]}));
    Value::Object(obj)
}

/// The property names of a schema.
pub(crate) fn schema_properties(schema_name: &str) -> Vec<String> {
    spec()["components"]["schemas"][schema_name]["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect()
}

/// Every example value of the success answers of an operation.
pub(crate) fn examples(template: &str, method: &str, status: &str) -> Vec<Value> {
    spec()["paths"][template][method]["responses"][status]["content"]["application/json"]
        ["examples"]
        .as_object()
        .expect("examples")
        .values()
        .map(|e| e["value"].clone())
        .collect()
}
