//! Google provider against a local server speaking Speech-to-Text v1 `speech:recognize` (and an
//! OAuth token endpoint for the service-account case).
#![cfg(feature = "google")]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use kav_google_auth::GoogleAuth;
use kav_stt::{AudioClip, Error, GoogleStt, LanguageSource, Provider, SpeechToText};
use kav_testkit::{FakeServer, Misbehaviour, Recorded, Reply};
use serde_json::{Value, json};

const API_KEY: &str = "AIzaSy-test-key-0123456789";
const TOKEN: &str = "ya29.test-access-token";

/// A `speech:recognize` request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    api_key: Option<String>,
    authorization: Option<String>,
    body: Value,
    audio: Vec<u8>,
    problem: Option<String>,
}

impl Seen {
    fn of(request: &Recorded) -> Self {
        let header = |name: &str| request.header(name).map(str::to_owned);
        let body = request.json_or_null();
        let checked = check_request(&body);
        Self {
            api_key: header("x-goog-api-key"),
            authorization: header("authorization"),
            audio: checked.clone().unwrap_or_default(),
            problem: checked.err(),
            body,
        }
    }
}

const RECOGNIZE: &str = "/v1/speech:recognize";

/// The recognize requests `server` received.
fn seen(server: &FakeServer) -> Vec<Seen> {
    let requests = server.requests();
    requests
        .iter()
        .filter(|r| r.path == RECOGNIZE)
        .map(Seen::of)
        .collect()
}

/// The token requests `server` received.
fn token_requests(server: &FakeServer) -> usize {
    let requests = server.requests();
    requests.iter().filter(|r| r.path == "/token").count()
}

/// The fields of `RecognitionConfig` (v1) and their JSON types, for rejecting unknown ones.
const CONFIG_FIELDS: &[(&str, &str)] = &[
    ("encoding", "string"),
    ("sampleRateHertz", "integer"),
    ("audioChannelCount", "integer"),
    ("enableSeparateRecognitionPerChannel", "boolean"),
    ("languageCode", "string"),
    ("alternativeLanguageCodes", "array"),
    ("maxAlternatives", "integer"),
    ("profanityFilter", "boolean"),
    ("adaptation", "object"),
    ("speechContexts", "array"),
    ("enableWordTimeOffsets", "boolean"),
    ("enableWordConfidence", "boolean"),
    ("enableAutomaticPunctuation", "boolean"),
    ("enableSpokenPunctuation", "boolean"),
    ("enableSpokenEmojis", "boolean"),
    ("diarizationConfig", "object"),
    ("metadata", "object"),
    ("model", "string"),
    ("useEnhanced", "boolean"),
];

const ENCODINGS: &[&str] = &[
    "ENCODING_UNSPECIFIED",
    "LINEAR16",
    "FLAC",
    "MULAW",
    "AMR",
    "AMR_WB",
    "OGG_OPUS",
    "SPEEX_WITH_HEADER_BYTE",
    "MP3",
    "WEBM_OPUS",
];

/// Checks a `RecognizeRequest` as the v1 API documents it.
fn check_request(body: &Value) -> Result<Vec<u8>, String> {
    let obj = body.as_object().ok_or("body is not an object")?;
    for k in obj.keys() {
        if k != "config" && k != "audio" {
            return Err(format!("unknown field {k:?}"));
        }
    }
    let config = obj
        .get("config")
        .and_then(Value::as_object)
        .ok_or("no config")?;
    for (k, v) in config {
        let ty = CONFIG_FIELDS
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, t)| *t)
            .ok_or_else(|| format!("unknown config field {k:?}"))?;
        let ok = match ty {
            "string" => v.is_string(),
            "integer" => v.is_u64(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            _ => v.is_object(),
        };
        if !ok {
            return Err(format!("config.{k} is not a {ty}"));
        }
    }
    let encoding = config["encoding"].as_str().ok_or("no encoding")?;
    if !ENCODINGS.contains(&encoding) {
        return Err(format!(
            "encoding {encoding:?} is not a RecognitionConfig.AudioEncoding"
        ));
    }
    let rate = config["sampleRateHertz"]
        .as_u64()
        .ok_or("no sampleRateHertz")?;
    if !(8_000..=48_000).contains(&rate) {
        return Err(format!("sampleRateHertz {rate} out of range"));
    }
    if config.get("languageCode").and_then(Value::as_str).is_none() {
        return Err("languageCode is required".into());
    }
    let content = body["audio"]["content"]
        .as_str()
        .ok_or("no audio.content")?;
    let audio = base64::engine::general_purpose::STANDARD
        .decode(content)
        .map_err(|e| format!("audio.content is not base64: {e}"))?;
    if encoding == "LINEAR16" && audio.len() % 2 != 0 {
        return Err("LINEAR16 audio with an odd byte count".into());
    }
    Ok(audio)
}

async fn recognize(request: &Recorded, reply: &Reply) -> Response {
    if let Some(problem) = Seen::of(request).problem {
        let body = json!({"error": {"code": 400, "message": format!("test server: {problem}"),
            "status": "INVALID_ARGUMENT"}});
        return (StatusCode::BAD_REQUEST, body.to_string()).into_response();
    }
    reply
        .clone()
        .with_header("content-type", "application/json; charset=UTF-8")
        .respond()
        .await
}

fn token(request: &Recorded) -> Response {
    let form = serde_urlencoded_pairs(&String::from_utf8_lossy(&request.body));
    let grant = form
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.as_str());
    let assertion = form
        .iter()
        .find(|(k, _)| k == "assertion")
        .map(|(_, v)| v.as_str());
    if grant != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        || assertion.is_none_or(|a| a.split('.').count() != 3)
    {
        let body = json!({"error": "invalid_grant", "error_description": "bad assertion"});
        return (StatusCode::BAD_REQUEST, body.to_string()).into_response();
    }
    let body = json!({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"});
    ([("content-type", "application/json")], body.to_string()).into_response()
}

/// Splits `a=b&c=d` (percent-decoding `%XX` and `+`).
fn serde_urlencoded_pairs(body: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// A server for `speech:recognize` (answering `reply` to valid requests) and `/token`.
async fn start(reply: Reply) -> FakeServer {
    FakeServer::start(move |request: Recorded| {
        let reply = reply.clone();
        async move {
            match (request.method.as_str(), request.path.as_str()) {
                ("POST", RECOGNIZE) => recognize(&request, &reply).await,
                ("POST", "/token") => token(&request),
                _ => StatusCode::NOT_FOUND.into_response(),
            }
        }
    })
    .await
}

fn client(base: &str) -> GoogleStt {
    GoogleStt::new(
        GoogleAuth::api_key(API_KEY.to_owned().into()),
        reqwest::Client::new(),
    )
    .with_base_url(base)
    .unwrap()
    .with_timeout(Duration::from_secs(10))
}

/// A `RecognizeResponse` as the v1 API sends it.
fn two_results() -> Value {
    json!({
        "results": [
            {"alternatives": [{"transcript": "שלום", "confidence": 0.92},
                              {"transcript": "שלוש"}],
             "resultEndTime": "1.200s", "languageCode": "iw-il"},
            {"alternatives": [{"transcript": " מה שלומך", "confidence": 0.84}],
             "resultEndTime": "2.500s", "languageCode": "iw-il"}
        ],
        "totalBilledTime": "3s",
        "requestId": "8177362512829125930"
    })
}

fn google_error(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

fn speech_clip() -> AudioClip {
    AudioClip::mulaw_8k(kav_audio_codec::ulaw_encode(&common::tone(
        20_000, 8_000, 300.0, -12.0,
    )))
}

#[tokio::test]
async fn mulaw_clips_are_sent_as_mulaw() {
    let st = start(Reply::json(200, &two_results())).await;
    let base = st.base();
    let clip = speech_clip();
    let t = client(base).transcribe(&clip).await.unwrap();

    let seen = seen(&st)[0].clone();
    assert_eq!(seen.problem, None);
    assert_eq!(seen.api_key.as_deref(), Some(API_KEY));
    assert_eq!(seen.authorization, None);
    assert_eq!(
        seen.body["config"],
        json!({"encoding": "MULAW", "sampleRateHertz": 8000, "languageCode": "he-IL",
               "enableAutomaticPunctuation": true})
    );
    let Some(codes) = (match clip.samples() {
        kav_stt::Samples::Mulaw(c) => Some(c.clone()),
        _ => None,
    }) else {
        unreachable!()
    };
    assert_eq!(seen.audio, codes);

    assert_eq!(t.provider, Provider::Google);
    assert_eq!(t.text, "שלום מה שלומך");
    assert!((t.confidence.unwrap() - 0.88).abs() < 1e-9);
    let lang = t.language.unwrap();
    assert_eq!(
        (lang.code.as_str(), lang.source),
        ("iw-il", LanguageSource::Declared)
    );
    assert_eq!(t.billed_duration, Some(Duration::from_secs(3)));
    assert_eq!(t.duration, Some(Duration::from_millis(2_500)));
    assert!(t.segments.is_empty());
}

#[tokio::test]
async fn pcm_clips_are_sent_as_linear16_with_options() {
    let st = start(Reply::json(200, &two_results())).await;
    let base = st.base();
    let pcm = common::tone(16_000, 16_000, 440.0, -6.0);
    let clip = AudioClip::pcm16(pcm.clone(), 16_000).unwrap();
    client(base)
        .with_language_code("en-US")
        .unwrap()
        .with_model(Some("phone_call"))
        .with_automatic_punctuation(false)
        .transcribe(&clip)
        .await
        .unwrap();
    let seen = seen(&st)[0].clone();
    assert_eq!(seen.problem, None);
    assert_eq!(
        seen.body["config"],
        json!({"encoding": "LINEAR16", "sampleRateHertz": 16000, "languageCode": "en-US",
               "model": "phone_call", "enableAutomaticPunctuation": false})
    );
    let sent: Vec<i16> = seen
        .audio
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(sent, pcm);
}

#[tokio::test]
async fn no_speech_answers_are_empty_transcripts() {
    // What speech:recognize answers for silence: no results at all.
    let st = start(Reply::json(
        200,
        &json!({"totalBilledTime": "1s", "requestId": "1"}),
    ))
    .await;
    let base = st.base();
    let t = client(base).transcribe(&speech_clip()).await.unwrap();
    assert_eq!(t.text, "");
    assert_eq!(t.confidence, None);
    assert_eq!(t.language.as_ref().unwrap().code, "he-IL");
    assert!(!kav_stt::SpeechGuard::default().after(&t).is_speech());

    let st = start(Reply::json(200, &json!({}))).await;
    let base = st.base();
    let t = client(base).transcribe(&speech_clip()).await.unwrap();
    assert_eq!(t.text, "");
    assert_eq!(t.billed_duration, None);
}

#[tokio::test]
async fn service_accounts_get_a_bearer_token() {
    let st = start(Reply::json(200, &two_results())).await;
    let base = st.base();
    let pem = include_str!("fixtures/test-key.pem");
    let key = json!({
        "type": "service_account",
        "project_id": "kav-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "stt@kav-test.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "token_uri": format!("{base}/token"),
    });
    let http = reqwest::Client::new();
    let auth = GoogleAuth::from_service_account_json(&key.to_string(), http.clone()).unwrap();
    let stt = GoogleStt::new(auth, http).with_base_url(base).unwrap();
    let clip = speech_clip();
    stt.transcribe(&clip).await.unwrap();
    stt.transcribe(&clip).await.unwrap();

    let seen = seen(&st);
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(
            s.authorization.as_deref(),
            Some(&*format!("Bearer {TOKEN}"))
        );
        assert_eq!(s.api_key, None);
    }
    // The token is cached by kav-google-auth: one token request for two recognitions.
    assert_eq!(token_requests(&st), 1);
    assert!(!format!("{stt:?}").contains("PRIVATE KEY"));
}

#[tokio::test]
async fn token_failures_are_auth_errors() {
    let st = start(Reply::json(200, &two_results())).await;
    let base = st.base();
    let key = json!({
        "type": "service_account",
        "private_key": include_str!("fixtures/test-key.pem"),
        "client_email": "stt@kav-test.iam.gserviceaccount.com",
        // A path where the server answers 404.
        "token_uri": format!("{base}/no-token-here"),
    });
    let http = reqwest::Client::new();
    let auth = GoogleAuth::from_service_account_json(&key.to_string(), http.clone()).unwrap();
    let e = GoogleStt::new(auth, http)
        .with_base_url(base)
        .unwrap()
        .transcribe(&speech_clip())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Auth {
                provider: Provider::Google,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(std::error::Error::source(&e).is_some());
    assert!(seen(&st).is_empty(), "no recognize call without a token");
}

async fn expect_error(reply: Reply) -> Error {
    let st = start(reply).await;
    let base = st.base();
    client(base).transcribe(&speech_clip()).await.unwrap_err()
}

#[tokio::test]
async fn provider_errors_are_typed() {
    let e = expect_error(Reply::json(
        401,
        &google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        ),
    ))
    .await;
    assert!(
        matches!(&e, Error::Api { provider: Provider::Google, status: 401, code: Some(c), message, .. }
            if c == "UNAUTHENTICATED" && message.starts_with("Request had invalid authentication")),
        "{e:?}"
    );
    assert!(e.to_string().starts_with(
        "Google Speech-to-Text answered HTTP 401 (UNAUTHENTICATED): Request had invalid"
    ));

    let e = expect_error(Reply::json(
        400,
        &google_error(
            400,
            "INVALID_ARGUMENT",
            "Invalid recognition 'config': bad encoding..",
        ),
    ))
    .await;
    assert!(
        matches!(&e, Error::Api { status: 400, code: Some(c), .. } if c == "INVALID_ARGUMENT"),
        "{e:?}"
    );
    assert!(!e.is_retryable());

    let reply = Reply::json(
        429,
        &google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service 'speech.googleapis.com'.",
        ),
    )
    .with_retry_after("30");
    let e = expect_error(reply).await;
    assert!(
        matches!(&e, Error::Api { status: 429, code: Some(c), retry_after: Some(ra), .. }
            if c == "RESOURCE_EXHAUSTED" && *ra == Duration::from_secs(30)),
        "{e:?}"
    );
    assert!(e.is_retryable());

    let e = expect_error(Reply::json(
        500,
        &google_error(500, "INTERNAL", "Internal error encountered."),
    ))
    .await;
    assert!(
        matches!(&e, Error::Api { status: 500, code: Some(c), message, .. }
            if c == "INTERNAL" && message == "Internal error encountered."),
        "{e:?}"
    );
    assert!(e.is_retryable());

    let e = expect_error(Reply::raw(503, "upstream connect error")).await;
    assert!(
        matches!(&e, Error::Api { status: 503, code: None, message, .. } if message == "upstream connect error"),
        "{e:?}"
    );
}

#[tokio::test]
async fn malformed_answers_are_typed() {
    for body in [
        "{\"results\": [",
        "{\"results\": {}}",
        "{\"results\": [{\"alternatives\": [{\"transcript\": 5}]}]}",
        "{\"totalBilledTime\": \"three seconds\"}",
        "null",
        "",
    ] {
        let st = start(Reply::raw(200, body)).await;
        let base = st.base();
        let e = client(base).transcribe(&speech_clip()).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::MalformedResponse {
                    provider: Provider::Google,
                    status: 200,
                    ..
                }
            ),
            "{body}: {e:?}"
        );
    }
}

#[tokio::test]
async fn slow_and_cut_off_answers() {
    let reply = Reply::json(200, &two_results()).with_delay(Duration::from_secs(30));
    let st = start(reply).await;
    let base = st.base();
    let e = client(base)
        .with_timeout(Duration::from_millis(300))
        .transcribe(&speech_clip())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Timeout {
                provider: Provider::Google,
                ..
            }
        ),
        "{e:?}"
    );

    let base = kav_testkit::raw_server(Misbehaviour::Trickle("{\"results\": [")).await;
    let e = client(&base)
        .with_timeout(Duration::from_millis(300))
        .transcribe(&speech_clip())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");

    let base = kav_testkit::raw_server(Misbehaviour::CutOff(
        "{\"results\": [{\"alternatives\": [{\"tr",
    ))
    .await;
    let e = client(&base).transcribe(&speech_clip()).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::ResponseBody {
                provider: Provider::Google,
                status: 200,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn dropping_the_future_abandons_the_request() {
    let (arrived_tx, arrived_rx) = tokio::sync::oneshot::channel();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    let stalling = kav_testkit::stalling_server(arrived_tx, closed_tx).await;
    let stt = client(&stalling);
    let clip = speech_clip();
    tokio::select! {
        r = stt.transcribe(&clip) => panic!("the stalling server answered: {r:?}"),
        _ = arrived_rx => {}
    }
    closed_rx.await.unwrap();
    let st = start(Reply::json(200, &two_results())).await;
    let base = st.base();
    let stt = stt.with_base_url(base).unwrap();
    assert_eq!(stt.transcribe(&clip).await.unwrap().text, "שלום מה שלומך");
}

#[tokio::test]
async fn clips_over_the_sync_limits_are_refused_without_a_request() {
    let st = start(Reply::json(200, &two_results())).await;
    let base = st.base();
    let stt = client(base);
    let long = AudioClip::mulaw_8k(vec![0x00; 8_000 * 61]);
    assert!(matches!(
        stt.transcribe(&long).await,
        Err(Error::InvalidClip(_))
    ));
    assert!(matches!(
        stt.transcribe(&AudioClip::mulaw_8k(Vec::new())).await,
        Err(Error::InvalidClip(_))
    ));
    assert!(seen(&st).is_empty());
}

#[tokio::test]
async fn the_key_never_shows() {
    let st = start(Reply::json(
        403,
        &google_error(
            403,
            "PERMISSION_DENIED",
            "API key not valid. Please pass a valid API key.",
        ),
    ))
    .await;
    let base = st.base();
    let stt = client(base);
    let e = stt.transcribe(&speech_clip()).await.unwrap_err();
    for text in [format!("{stt:?}"), format!("{e:?}"), e.to_string()] {
        assert!(!text.contains(API_KEY), "{text}");
    }
    assert_eq!(seen(&st)[0].api_key.as_deref(), Some(API_KEY));
}

#[test]
fn the_request_checker_can_fail() {
    let ok = json!({"config": {"encoding": "MULAW", "sampleRateHertz": 8000, "languageCode": "he-IL"},
                    "audio": {"content": "AAAA"}});
    assert!(check_request(&ok).is_ok());
    let mut bad = ok.clone();
    bad["config"]["encoding"] = json!("ULAW");
    assert!(check_request(&bad).is_err());
    let mut bad = ok.clone();
    bad["config"]["sampleRate"] = json!(8000);
    assert!(check_request(&bad).is_err());
    let mut bad = ok.clone();
    bad["config"]["sampleRateHertz"] = json!("8000");
    assert!(check_request(&bad).is_err());
    let mut bad = ok;
    bad["audio"]["content"] = json!("not base64!");
    assert!(check_request(&bad).is_err());
}
