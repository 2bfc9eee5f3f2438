//! OpenAI provider against a local server speaking `/v1/audio/transcriptions`, with every request
//! checked against `CreateTranscriptionRequest` and every canned answer against the response
//! schemas of `specs/openai_openapi.json`.
#![cfg(feature = "openai")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::{validate, validate_transcription_form};
use kav_stt::{AudioClip, Error, LanguageSource, OpenAiModel, OpenAiStt, Provider, SpeechToText};
use kav_testkit::{FakeServer, FormField, Misbehaviour, Recorded, Reply};
use serde_json::{Value, json};

const KEY: &str = "sk-test-0123456789abcdef";

#[derive(Debug, Clone)]
struct Seen {
    authorization: Option<String>,
    content_type: String,
    fields: Vec<FormField>,
    problem: Option<String>,
}

impl Seen {
    fn field(&self, name: &str) -> Option<&FormField> {
        self.fields.iter().find(|f| f.name == name)
    }
    fn text(&self, name: &str) -> Option<&str> {
        self.field(name).map(FormField::text)
    }
}

impl Seen {
    async fn of(request: &Recorded) -> Self {
        let (fields, problem) = match request.multipart().await {
            Ok(fields) => {
                let problem = validate_transcription_form(&fields).err();
                (fields, problem)
            }
            Err(e) => (Vec::new(), Some(e)),
        };
        Self {
            authorization: request.header("authorization").map(str::to_owned),
            content_type: request
                .header("content-type")
                .unwrap_or_default()
                .to_owned(),
            fields,
            problem,
        }
    }
}

/// The requests `server` received.
async fn seen(server: &FakeServer) -> Vec<Seen> {
    let mut seen = Vec::new();
    for request in server.requests() {
        seen.push(Seen::of(&request).await);
    }
    seen
}

/// Starts a server for `/v1/audio/transcriptions` answering `reply` to requests that follow the
/// spec; the base URL is as `OPENAI_BASE_URL` would hold it (with `/v1`).
async fn start(reply: Reply) -> (FakeServer, String) {
    let server = FakeServer::start(move |request: Recorded| {
        let reply = reply.clone();
        async move {
            if (request.method.as_str(), request.path.as_str())
                != ("POST", "/v1/audio/transcriptions")
            {
                return StatusCode::NOT_FOUND.into_response();
            }
            if let Some(problem) = Seen::of(&request).await.problem {
                let body = json!({"error": {"message": format!("test server: {problem}"),
                    "type": "invalid_request_error", "param": null, "code": null}});
                return (StatusCode::BAD_REQUEST, body.to_string()).into_response();
            }
            reply.respond().await
        }
    })
    .await;
    let base = server.url("/v1");
    (server, base)
}

fn client(base: &str) -> OpenAiStt {
    OpenAiStt::new(KEY.to_owned().into(), reqwest::Client::new())
        .with_base_url(base)
        .unwrap()
        .with_timeout(Duration::from_secs(10))
}

fn verbose_body() -> Value {
    // The shape whisper-1 answers with for response_format=verbose_json.
    let body = json!({
        "task": "transcribe",
        "language": "hebrew",
        "duration": 1.7599999904632568,
        "text": "שלום, מה שלומך?",
        "segments": [
            {"id": 0, "seek": 0, "start": 0.0, "end": 1.0, "text": " שלום,",
             "tokens": [50364, 9135, 11, 50414], "temperature": 0.0,
             "avg_logprob": -0.2, "compression_ratio": 0.8, "no_speech_prob": 0.01},
            {"id": 1, "seek": 0, "start": 1.0, "end": 1.76, "text": " מה שלומך?",
             "tokens": [50414, 8868, 50452], "temperature": 0.0,
             "avg_logprob": -0.4, "compression_ratio": 0.9, "no_speech_prob": 0.03}
        ],
        "usage": {"type": "duration", "seconds": 2}
    });
    validate(
        common::schema("CreateTranscriptionResponseVerboseJson"),
        &body,
        "verbose",
    )
    .unwrap();
    body
}

fn json_body_with_logprobs() -> Value {
    let body = json!({
        "text": "שלום, מה שלומך?",
        "logprobs": [
            {"token": "שלום", "logprob": -0.1, "bytes": [215, 169, 215, 156, 215, 149, 215, 157]},
            {"token": ",", "logprob": -0.3, "bytes": [44]},
            {"token": " מה", "logprob": -0.2, "bytes": [32, 215, 158, 215, 148]}
        ],
        "usage": {"type": "tokens", "input_tokens": 14,
                  "input_token_details": {"text_tokens": 0, "audio_tokens": 14},
                  "output_tokens": 5, "total_tokens": 19}
    });
    validate(
        common::schema("CreateTranscriptionResponseJson"),
        &body,
        "json",
    )
    .unwrap();
    body
}

fn openai_error(message: &str, kind: &str, code: Option<&str>) -> Value {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    validate(common::schema("ErrorResponse"), &body, "error").unwrap();
    body
}

fn speech_clip() -> AudioClip {
    let pcm = common::tone(8_000, 8_000, 300.0, -12.0);
    AudioClip::mulaw_8k(kav_audio_codec::ulaw_encode(&pcm))
}

#[tokio::test]
async fn whisper_verbose_json_round_trip() {
    let (st, base) = start(Reply::json(200, &verbose_body())).await;
    let clip = speech_clip();
    let t = client(&base).transcribe(&clip).await.unwrap();

    let seen = seen(&st).await[0].clone();
    assert_eq!(seen.problem, None);
    assert_eq!(
        seen.authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert!(
        seen.content_type
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(seen.text("model"), Some("whisper-1"));
    assert_eq!(seen.text("language"), Some("he"));
    assert_eq!(seen.text("response_format"), Some("verbose_json"));
    assert_eq!(seen.field("prompt").map(|f| f.name.clone()), None);
    assert_eq!(seen.field("include[]").map(|f| f.name.clone()), None);
    let file = seen.field("file").unwrap();
    assert_eq!(file.file_name.as_deref(), Some("audio.wav"));
    assert_eq!(file.content_type.as_deref(), Some("audio/wav"));
    let (samples, rate) = common::parse_wav_pcm16_mono(&file.bytes);
    assert_eq!(rate, 8_000);
    assert_eq!(samples, clip.to_pcm16().into_owned());

    assert_eq!(t.provider, Provider::OpenAi);
    assert_eq!(t.text, "שלום, מה שלומך?");
    let lang = t.language.unwrap();
    assert_eq!(
        (lang.code.as_str(), lang.source),
        ("he", LanguageSource::Declared)
    );
    assert_eq!(t.segments.len(), 2);
    assert_eq!(t.segments[1].text, "מה שלומך?");
    assert_eq!(t.segments[1].start, Duration::from_secs(1));
    assert!((t.segments[0].no_speech_prob - 0.01).abs() < 1e-12);
    assert!((t.segments[1].compression_ratio - 0.9).abs() < 1e-12);
    // Duration-weighted: (-0.2 * 1.0 + -0.4 * 0.76) / 1.76
    let expected = (-0.2 * 1.0 + -0.4 * 0.76) / 1.76;
    assert!((t.avg_logprob.unwrap() - expected).abs() < 1e-9);
    assert!((t.confidence.unwrap() - expected.exp()).abs() < 1e-9);
    assert!((t.duration.unwrap().as_secs_f64() - 1.76).abs() < 1e-6);
}

#[tokio::test]
async fn gpt4o_models_use_json_with_logprobs_and_prompt() {
    for (model, id) in [
        (OpenAiModel::Gpt4oTranscribe, "gpt-4o-transcribe"),
        (OpenAiModel::Gpt4oMiniTranscribe, "gpt-4o-mini-transcribe"),
    ] {
        let (st, base) = start(Reply::json(200, &json_body_with_logprobs())).await;
        let clip = AudioClip::pcm16(common::tone(16_000, 16_000, 440.0, -6.0), 16_000).unwrap();
        let t = client(&base)
            .with_model(model)
            .with_prompt("הזמנה מספר 42")
            .with_temperature(0.2)
            .transcribe(&clip)
            .await
            .unwrap();
        let seen = seen(&st).await[0].clone();
        assert_eq!(seen.problem, None);
        assert_eq!(seen.text("model"), Some(id));
        assert_eq!(seen.text("response_format"), Some("json"));
        assert_eq!(seen.text("include[]"), Some("logprobs"));
        assert_eq!(seen.text("prompt"), Some("הזמנה מספר 42"));
        assert_eq!(seen.text("temperature"), Some("0.2"));
        let (samples, rate) = common::parse_wav_pcm16_mono(&seen.field("file").unwrap().bytes);
        assert_eq!((samples.len(), rate), (16_000, 16_000));

        assert_eq!(t.text, "שלום, מה שלומך?");
        let mean = (-0.1 - 0.3 - 0.2) / 3.0;
        assert!((t.avg_logprob.unwrap() - mean).abs() < 1e-12);
        assert!((t.confidence.unwrap() - f64::exp(mean)).abs() < 1e-12);
        assert!(t.segments.is_empty());
        assert_eq!(t.no_speech_prob, None);
        // No duration in a json answer with token usage: the clip's own length.
        assert_eq!(t.duration, Some(Duration::from_secs(1)));
        assert_eq!(t.language.unwrap().source, LanguageSource::Declared);
    }
}

#[tokio::test]
async fn language_detection_and_no_logprobs() {
    let (st, base) = start(Reply::json(200, &json!({"text": "hello"}))).await;
    let t = client(&base)
        .with_model(OpenAiModel::Gpt4oMiniTranscribe)
        .with_logprobs(false)
        .with_language(None)
        .unwrap()
        .transcribe(&speech_clip())
        .await
        .unwrap();
    let seen = seen(&st).await[0].clone();
    assert_eq!(seen.problem, None);
    assert!(seen.field("language").is_none());
    assert!(seen.field("include[]").is_none());
    assert_eq!(t.language, None);
    assert_eq!(t.confidence, None);

    // whisper-1 with detection reports the detected language.
    let (_st, base) = start(Reply::json(200, &verbose_body())).await;
    let t = client(&base)
        .with_language(None)
        .unwrap()
        .transcribe(&speech_clip())
        .await
        .unwrap();
    let lang = t.language.unwrap();
    assert_eq!(
        (lang.code.as_str(), lang.source),
        ("he", LanguageSource::Detected)
    );
}

#[tokio::test]
async fn base_url_with_trailing_slash_and_other_model_ids() {
    let (st, base) = start(Reply::json(200, &json!({"text": "ok"}))).await;
    let t = client(&format!("{base}/"))
        .with_model("gpt-transcribe".parse().unwrap())
        .transcribe(&speech_clip())
        .await
        .unwrap();
    assert_eq!(t.text, "ok");
    let seen = seen(&st).await[0].clone();
    assert_eq!(seen.problem, None);
    assert_eq!(seen.text("model"), Some("gpt-transcribe"));
    assert_eq!(seen.text("response_format"), Some("json"));
}

async fn expect_api_error(reply: Reply) -> Error {
    let (_st, base) = start(reply).await;
    client(&base).transcribe(&speech_clip()).await.unwrap_err()
}

#[tokio::test]
async fn provider_errors_are_typed() {
    let e = expect_api_error(Reply::json(
        401,
        &openai_error(
            "Incorrect API key provided: sk-test-***cdef. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
    ))
    .await;
    match &e {
        Error::Api {
            provider: Provider::OpenAi,
            status: 401,
            code: Some(code),
            message,
            retry_after: None,
        } => {
            assert_eq!(code, "invalid_api_key");
            assert!(message.starts_with("Incorrect API key provided"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_retryable());
    assert!(
        e.to_string()
            .starts_with("OpenAI answered HTTP 401 (invalid_api_key): Incorrect")
    );

    let e = expect_api_error(Reply::json(
        400,
        &openai_error(
            "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
            "invalid_request_error",
            None,
        ),
    ))
    .await;
    // No `code`: the error `type` stands in.
    assert!(
        matches!(&e, Error::Api { status: 400, code: Some(c), message, .. }
            if c == "invalid_request_error" && message.starts_with("Invalid file format")),
        "{e:?}"
    );

    let reply = Reply::json(
        429,
        &openai_error(
            "Rate limit reached for whisper-1 in organization org-abc on requests per min (RPM): Limit 50, Used 50, Requested 1.",
            "requests",
            Some("rate_limit_exceeded"),
        ),
    )
    .with_retry_after("2");
    let e = expect_api_error(reply).await;
    assert!(
        matches!(&e, Error::Api { status: 429, code: Some(c), retry_after: Some(ra), .. }
            if c == "rate_limit_exceeded" && *ra == Duration::from_secs(2)),
        "{e:?}"
    );
    assert!(e.is_retryable());

    let e = expect_api_error(Reply::json(
        500,
        &openai_error(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
    ))
    .await;
    assert!(
        matches!(&e, Error::Api { status: 500, message, .. } if message.starts_with("The server had an error")),
        "{e:?}"
    );
    assert!(e.is_retryable());

    // A proxy's HTML page: the start of the body is the message.
    let e = expect_api_error(Reply::raw(502, "<html><body>502 Bad Gateway</body></html>")).await;
    assert!(
        matches!(&e, Error::Api { status: 502, code: None, message, .. } if message.contains("502 Bad Gateway")),
        "{e:?}"
    );
}

#[tokio::test]
async fn malformed_answers_are_typed() {
    for body in [
        "{\"text\": \"שלום\"",                               // not JSON
        "{\"txet\": \"שלום\"}",                              // no text
        "[1, 2, 3]",                                         // not an object
        "",                                                  // empty
        "{\"text\": \"a\", \"segments\": [{\"start\": 0}]}", // segment without its fields
    ] {
        let (_st, base) = start(Reply::raw(200, body)).await;
        let e = client(&base).transcribe(&speech_clip()).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::MalformedResponse {
                    provider: Provider::OpenAi,
                    status: 200,
                    ..
                }
            ),
            "{body}: {e:?}"
        );
    }
}

#[tokio::test]
async fn slow_answers_time_out() {
    let reply = Reply::json(200, &verbose_body()).with_delay(Duration::from_secs(30));
    let (_st, base) = start(reply).await;
    let e = client(&base)
        .with_timeout(Duration::from_millis(300))
        .transcribe(&speech_clip())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Timeout { provider: Provider::OpenAi, timeout } if timeout == Duration::from_millis(300)),
        "{e:?}"
    );
    assert!(e.is_retryable());

    // Headers on time, body never finishes: the timeout covers the body too.
    let base = kav_testkit::raw_server(Misbehaviour::Trickle("{\"text\": \"של")).await;
    let e = client(&format!("{base}/v1"))
        .with_timeout(Duration::from_millis(300))
        .transcribe(&speech_clip())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
}

#[tokio::test]
async fn bodies_cut_off_in_the_middle_are_typed() {
    let base = kav_testkit::raw_server(Misbehaviour::CutOff("{\"text\": \"שלום, מה של")).await;
    let e = client(&format!("{base}/v1"))
        .transcribe(&speech_clip())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ResponseBody {
                provider: Provider::OpenAi,
                status: 200,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(std::error::Error::source(&e).is_some());
}

#[tokio::test]
async fn connection_refused_is_a_request_error() {
    let port = kav_testkit::closed_port();
    let e = client(&format!("http://127.0.0.1:{port}/v1"))
        .transcribe(&speech_clip())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Request {
                provider: Provider::OpenAi,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn empty_clips_are_refused_without_a_request() {
    let (st, base) = start(Reply::json(200, &verbose_body())).await;
    let e = client(&base)
        .transcribe(&AudioClip::mulaw_8k(Vec::new()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidClip(_)), "{e:?}");
    assert!(seen(&st).await.is_empty());
}

#[tokio::test]
async fn dropping_the_future_abandons_the_request() {
    let (arrived_tx, arrived_rx) = tokio::sync::oneshot::channel();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    let stalling = kav_testkit::stalling_server(arrived_tx, closed_tx).await;
    let stt = client(&format!("{stalling}/v1"));
    let clip = speech_clip();
    tokio::select! {
        r = stt.transcribe(&clip) => panic!("the stalling server answered: {r:?}"),
        _ = arrived_rx => {} // the request is in flight: drop the future here
    }
    // The connection is closed once the future is gone.
    closed_rx.await.unwrap();

    // The same client (and its connection pool) still works.
    let (_st, base) = start(Reply::json(200, &json!({"text": "שוב"}))).await;
    let stt = stt.with_base_url(&base).unwrap();
    assert_eq!(stt.transcribe(&clip).await.unwrap().text, "שוב");
}

#[tokio::test]
async fn the_key_never_shows() {
    let (st, base) = start(Reply::json(
        401,
        &openai_error(
            "Incorrect API key provided",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
    ))
    .await;
    let stt = client(&base);
    let e = stt.transcribe(&speech_clip()).await.unwrap_err();
    for text in [format!("{stt:?}"), format!("{e:?}"), e.to_string()] {
        assert!(!text.contains(KEY), "{text}");
    }
    // It was sent, though.
    let seen = seen(&st).await[0].clone();
    assert!(seen.authorization.unwrap().ends_with(KEY));
}

#[tokio::test]
async fn object_safe_use() {
    let (_st, base) = start(Reply::json(200, &verbose_body())).await;
    let boxed: Box<dyn SpeechToText> = Box::new(client(&base));
    let shared: Arc<dyn SpeechToText> = Arc::new(client(&base));
    assert_eq!(boxed.provider(), Provider::OpenAi);
    let clip = speech_clip();
    let (a, b) = tokio::join!(boxed.transcribe(&clip), shared.transcribe(&clip));
    assert_eq!(a.unwrap().text, b.unwrap().text);
}

#[test]
fn the_request_checker_rejects_what_the_spec_rejects() {
    let field = |name: &str, value: &str| FormField {
        name: name.into(),
        file_name: None,
        content_type: None,
        bytes: value.as_bytes().to_vec(),
    };
    let file = FormField {
        name: "file".into(),
        file_name: Some("a.wav".into()),
        content_type: Some("audio/wav".into()),
        bytes: vec![0; 4],
    };
    assert_eq!(
        validate_transcription_form(&[file.clone(), field("model", "whisper-1")]),
        Ok(())
    );
    // Missing required fields.
    assert!(validate_transcription_form(std::slice::from_ref(&file)).is_err());
    assert!(validate_transcription_form(&[field("model", "whisper-1")]).is_err());
    // An enum value the spec does not have.
    assert!(
        validate_transcription_form(&[
            file.clone(),
            field("model", "whisper-1"),
            field("response_format", "verbose")
        ])
        .is_err()
    );
    assert!(
        validate_transcription_form(&[
            file.clone(),
            field("model", "gpt-4o-transcribe"),
            field("include[]", "logprob")
        ])
        .is_err()
    );
    // A field the schema does not know (additionalProperties: false).
    assert!(
        validate_transcription_form(&[
            file.clone(),
            field("model", "whisper-1"),
            field("lang", "he")
        ])
        .is_err()
    );
    // A number that is not one.
    assert!(
        validate_transcription_form(&[
            file.clone(),
            field("model", "whisper-1"),
            field("temperature", "warm")
        ])
        .is_err()
    );
    // `file` must be a file part.
    assert!(
        validate_transcription_form(&[field("file", "x"), field("model", "whisper-1")]).is_err()
    );
    // The response checker too.
    assert!(
        validate(
            common::schema("CreateTranscriptionResponseVerboseJson"),
            &json!({"text": "x"}),
            "verbose"
        )
        .is_err()
    );
}

/// A `MakeWriter` collecting everything logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// A current-thread runtime: the client, the server and the subscriber share one thread.
#[tokio::test(flavor = "current_thread")]
async fn the_key_never_shows_in_logs() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (_st, base) = start(Reply::json(
        401,
        &openai_error(
            "Incorrect API key provided",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
    ))
    .await;
    let e = client(&base).transcribe(&speech_clip()).await.unwrap_err();
    tracing::error!(error = %e, debug = ?e, "transcription failed");
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("transcription request"), "{logs}");
    assert!(logs.contains("transcription failed"), "{logs}");
    assert!(!logs.contains(KEY), "{logs}");
}
