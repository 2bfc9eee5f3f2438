//! Local fakes speaking the real wire formats: OpenAI (transcriptions and chat completions),
//! a Twilio recordings host behind Basic auth, and text-to-speech / speech-to-text providers
//! that fail or hang on demand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt as _;

pub const TOKEN: &str = "test-auth-token-0123456789";
pub const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";

/// Serves `router` on a loopback port; returns `http://127.0.0.1:port`.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// How a fake endpoint behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Fail,
    Hang,
}

/// A fake OpenAI server: `/v1/audio/transcriptions` and `/v1/chat/completions`.
#[derive(Clone)]
pub struct FakeOpenAi {
    pub stt_mode: Arc<Mutex<Mode>>,
    pub chat_mode: Arc<Mutex<Mode>>,
    /// Transcripts to give, in order (then `שלום`).
    pub stt_texts: Arc<Mutex<Vec<String>>>,
    /// Chat replies to give, in order (then `בסדר.`).
    pub chat_replies: Arc<Mutex<Vec<String>>>,
    pub stt_calls: Arc<AtomicUsize>,
    pub chat_calls: Arc<AtomicUsize>,
}

async fn hang_or_fail(mode: Mode) -> Option<Response> {
    match mode {
        Mode::Ok => None,
        Mode::Fail => Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(serde_json::json!({
                    "error": {"message": "boom", "type": "server_error", "param": null, "code": null}
                })),
            )
                .into_response(),
        ),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Some(StatusCode::OK.into_response())
        }
    }
}

async fn transcriptions(State(fake): State<FakeOpenAi>, request: Request) -> Response {
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v == "Bearer sk-test");
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let body = request.into_body().collect().await.unwrap().to_bytes();
    fake.stt_calls.fetch_add(1, Ordering::SeqCst);
    if !authorized || !multipart || body.len() < 1000 {
        return (StatusCode::BAD_REQUEST, "bad request").into_response();
    }
    let mode = *fake.stt_mode.lock().unwrap();
    if let Some(response) = hang_or_fail(mode).await {
        return response;
    }
    let text = {
        let mut texts = fake.stt_texts.lock().unwrap();
        if texts.is_empty() {
            "שלום".to_owned()
        } else {
            texts.remove(0)
        }
    };
    axum::Json(serde_json::json!({ "text": text })).into_response()
}

async fn completions(State(fake): State<FakeOpenAi>, request: Request) -> Response {
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v == "Bearer sk-test");
    let body = request.into_body().collect().await.unwrap().to_bytes();
    fake.chat_calls.fetch_add(1, Ordering::SeqCst);
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if !authorized {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mode = *fake.chat_mode.lock().unwrap();
    if let Some(response) = hang_or_fail(mode).await {
        return response;
    }
    let reply = {
        let mut replies = fake.chat_replies.lock().unwrap();
        if replies.is_empty() {
            "בסדר.".to_owned()
        } else {
            replies.remove(0)
        }
    };
    axum::Json(serde_json::json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_763_790_000,
        "model": json["model"],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}
    }))
    .into_response()
}

/// Starts a fake OpenAI server; returns its base URL (`…/v1`) and its controls.
pub async fn fake_openai(stt_texts: &[&str]) -> (String, FakeOpenAi) {
    let fake = FakeOpenAi {
        stt_mode: Arc::new(Mutex::new(Mode::Ok)),
        chat_mode: Arc::new(Mutex::new(Mode::Ok)),
        stt_texts: Arc::new(Mutex::new(
            stt_texts.iter().map(|t| (*t).to_owned()).collect(),
        )),
        chat_replies: Arc::new(Mutex::new(Vec::new())),
        stt_calls: Arc::new(AtomicUsize::new(0)),
        chat_calls: Arc::new(AtomicUsize::new(0)),
    };
    let router = Router::new()
        .route("/v1/audio/transcriptions", post(transcriptions))
        .route("/v1/chat/completions", post(completions))
        .with_state(fake.clone());
    (format!("{}/v1", serve(router).await), fake)
}

/// Hebrew speech from espeak-ng, as an 8 kHz PCM16 WAV like Twilio's recordings.
pub async fn speech_wav(text: &str) -> Vec<u8> {
    use kav_tts::{EspeakTts, SpeechRequest, TextToSpeech};
    let audio = EspeakTts::new()
        .synthesize(&SpeechRequest::new(text).unwrap())
        .await
        .unwrap();
    let pcm: Vec<i16> = audio.mulaw().iter().map(|&u| ulaw_to_pcm(u)).collect();
    pcm16_wav(&pcm)
}

/// `seconds` of silence as an 8 kHz PCM16 WAV.
pub fn silence_wav(seconds: usize) -> Vec<u8> {
    pcm16_wav(&vec![0; seconds * 8000])
}

fn pcm16_wav(pcm: &[i16]) -> Vec<u8> {
    let mut wav = Vec::new();
    let data_len = u32::try_from(pcm.len() * 2).unwrap();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for s in pcm {
        wav.extend_from_slice(&s.to_le_bytes());
    }
    wav
}

/// G.711 μ-law decoding.
fn ulaw_to_pcm(code: u8) -> i16 {
    let u = !code;
    let t = ((i32::from(u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4);
    let v = if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 };
    i16::try_from(v).unwrap()
}

/// A Twilio recordings host serving one recording (any SID) behind Basic auth
/// (`ACCOUNT:TOKEN`); counts downloads.
#[derive(Clone)]
pub struct RecordingsHost {
    /// `http://127.0.0.1:port`.
    pub origin: String,
    pub hits: Arc<AtomicUsize>,
    pub wav: Arc<Mutex<Vec<u8>>>,
}

impl RecordingsHost {
    /// The `RecordingUrl` Twilio would post for `recording_sid`.
    pub fn url(&self, recording_sid: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recording_sid}",
            self.origin
        )
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

pub async fn recordings_host(wav: Vec<u8>) -> RecordingsHost {
    let host = RecordingsHost {
        origin: String::new(),
        hits: Arc::new(AtomicUsize::new(0)),
        wav: Arc::new(Mutex::new(wav)),
    };
    let expected = format!(
        "Basic {}",
        base64_encode(format!("{ACCOUNT}:{TOKEN}").as_bytes())
    );
    let serving = host.clone();
    let router = Router::new().route(
        "/2010-04-01/Accounts/{account}/Recordings/{file}",
        get(move |request: Request| {
            let host = serving.clone();
            let expected = expected.clone();
            async move {
                host.hits.fetch_add(1, Ordering::SeqCst);
                if request
                    .headers()
                    .get(header::AUTHORIZATION)
                    .is_none_or(|v| v != expected.as_str())
                {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let wav = host.wav.lock().unwrap().clone();
                ([(header::CONTENT_TYPE, "audio/x-wav")], wav).into_response()
            }
        }),
    );
    RecordingsHost {
        origin: serve(router).await,
        ..host
    }
}

pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A text-to-speech provider that fails or never answers.
#[derive(Debug)]
pub struct BrokenTts {
    pub hang: bool,
    pub calls: Arc<AtomicUsize>,
}

impl kav_tts::TextToSpeech for BrokenTts {
    fn provider(&self) -> &str {
        "broken"
    }

    fn synthesize<'a>(
        &'a self,
        _request: &'a kav_tts::SpeechRequest,
    ) -> kav_tts::BoxFuture<'a, Result<kav_tts::SpeechAudio, kav_tts::Error>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let hang = self.hang;
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            Err(kav_tts::Error::Timeout {
                provider: "broken",
                after: Duration::from_millis(1),
            })
        })
    }
}

/// Files under `dir` (recursively) whose name ends with `.tmp` or that sit in a `tmp` folder:
/// what a turn or a job must never leave behind.
pub fn leftover_temp_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "tmp")
                || path
                    .parent()
                    .and_then(|p| p.file_name())
                    .is_some_and(|n| n == "tmp")
            {
                found.push(path);
            }
        }
    }
    found
}
