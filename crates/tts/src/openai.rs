//! OpenAI text-to-speech (`POST {base}/audio/speech`, where the base URL includes `/v1` as
//! `OPENAI_BASE_URL` does in OpenAI's SDKs).

use std::fmt;
use std::time::Duration;

use futures_util::StreamExt as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::support::convert::{self, PcmStreamConverter};
use crate::support::http::{self, ProviderError};
use crate::{
    AudioStream, BoxFuture, Error, SpeechAudio, SpeechRequest, StreamingTextToSpeech, TextToSpeech,
};

const PROVIDER: &str = "openai";
/// OpenAI's `pcm` format: 24 kHz, 16-bit little-endian, mono.
const PCM_RATE: u32 = 24_000;

/// The `response_format` asked of OpenAI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OpenAiFormat {
    /// `pcm`: raw 24 kHz 16-bit LE mono, resampled to 8 kHz here; streams (the default).
    #[default]
    Pcm,
    /// `wav`: a WAV file (24 kHz PCM inside), decoded and resampled here.
    Wav,
}

impl OpenAiFormat {
    fn as_api(self) -> &'static str {
        match self {
            Self::Pcm => "pcm",
            Self::Wav => "wav",
        }
    }
}

/// OpenAI text-to-speech. The language follows the text; `instructions` (for the
/// `gpt-4o-mini-tts` models) can ask for an accent or tone.
#[derive(Clone)]
pub struct OpenAiTts {
    api_key: SecretString,
    http: reqwest::Client,
    base_url: String,
    model: String,
    default_voice: String,
    format: OpenAiFormat,
    instructions: Option<String>,
    timeout: Duration,
    idle_timeout: Duration,
}

impl OpenAiTts {
    /// OpenAI's endpoint, `/v1` included as in `OPENAI_BASE_URL` (requests go to
    /// `{base}/audio/speech`).
    pub const DEFAULT_BASE_URL: &'static str = "https://api.openai.com/v1";
    /// The default model.
    pub const DEFAULT_MODEL: &'static str = "gpt-4o-mini-tts";
    /// The default voice.
    pub const DEFAULT_VOICE: &'static str = "alloy";
    /// Default timeout of a whole synthesis, and of the start of a stream.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default longest wait for the next chunk of a stream.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

    /// A client with this API key and a new `reqwest::Client`.
    pub fn new(api_key: SecretString) -> Self {
        Self {
            api_key,
            http: reqwest::Client::new(),
            base_url: Self::DEFAULT_BASE_URL.to_owned(),
            model: Self::DEFAULT_MODEL.to_owned(),
            default_voice: Self::DEFAULT_VOICE.to_owned(),
            format: OpenAiFormat::default(),
            instructions: None,
            timeout: Self::DEFAULT_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
        }
    }

    /// Uses this HTTP client.
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Sends requests to `{url}/audio/speech` (any OpenAI-compatible server). Like
    /// `OPENAI_BASE_URL`, the URL includes the API version: `https://api.openai.com/v1`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `url` is not an absolute http(s) URL.
    pub fn with_base_url(mut self, url: &str) -> Result<Self, Error> {
        self.base_url = http::base_url(PROVIDER, url)?;
        Ok(self)
    }

    /// Uses this model (`gpt-4o-mini-tts`, `tts-1`, `tts-1-hd`…).
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// The voice used when a request names none (default `alloy`).
    #[must_use]
    pub fn with_default_voice(mut self, voice: impl Into<String>) -> Self {
        self.default_voice = voice.into();
        self
    }

    /// Asks for this format (default [`OpenAiFormat::Pcm`]).
    #[must_use]
    pub fn with_format(mut self, format: OpenAiFormat) -> Self {
        self.format = format;
        self
    }

    /// Sends these `instructions` (not supported by `tts-1`/`tts-1-hd`, so never sent to them).
    #[must_use]
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// Limits a whole synthesis, and the start of a stream, to `timeout` (default 30 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limits the wait for each chunk of a stream (default 10 s).
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    fn voice<'a>(&'a self, request: &'a SpeechRequest) -> &'a str {
        request.voice().unwrap_or(&self.default_voice)
    }

    fn body(&self, request: &SpeechRequest, format: OpenAiFormat) -> serde_json::Value {
        let mut body = json!({
            "model": self.model,
            "input": request.text(),
            "voice": self.voice(request),
            "response_format": format.as_api(),
        });
        if let Some(rate) = request.speaking_rate() {
            body["speed"] = rate.into();
        }
        if let Some(instructions) = &self.instructions
            && !self.model.starts_with("tts-1")
        {
            body["instructions"] = instructions.as_str().into();
        }
        body
    }

    async fn start(
        &self,
        request: &SpeechRequest,
        format: OpenAiFormat,
    ) -> Result<reqwest::Response, Error> {
        let builder = self
            .http
            .post(format!("{}/audio/speech", self.base_url))
            .header(
                reqwest::header::AUTHORIZATION,
                http::secret_header(
                    PROVIDER,
                    &format!("Bearer {}", self.api_key.expose_secret()),
                )?,
            )
            .json(&self.body(request, format));
        http::send(PROVIDER, self.timeout, builder, parse_error).await
    }

    async fn run(&self, request: &SpeechRequest) -> Result<SpeechAudio, Error> {
        let response = self.start(request, self.format).await?;
        let body = http::read_body(PROVIDER, self.timeout, response).await?;
        match self.format {
            OpenAiFormat::Pcm => convert::pcm16le_to_phone(PROVIDER, &body, PCM_RATE),
            OpenAiFormat::Wav => convert::wav_to_phone(PROVIDER, &body),
        }
    }
}

/// `{"error": {"message": "…", "type": "…", "param": …, "code": …}}`.
fn parse_error(body: &[u8]) -> Option<ProviderError> {
    #[derive(Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        message: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
        code: Option<serde_json::Value>,
    }
    let e: Envelope = serde_json::from_slice(body).ok()?;
    let code = match e.error.code {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => e.error.kind,
    };
    Some(ProviderError {
        code,
        message: e.error.message.unwrap_or_default(),
    })
}

impl TextToSpeech for OpenAiTts {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn voice_for(&self, request: &SpeechRequest) -> String {
        self.voice(request).to_owned()
    }

    fn settings(&self) -> String {
        format!(
            "{}\n{}",
            self.model,
            self.instructions.as_deref().unwrap_or_default()
        )
    }

    fn synthesize<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechAudio, Error>> {
        Box::pin(http::with_timeout(
            PROVIDER,
            self.timeout,
            self.run(request),
        ))
    }
}

impl StreamingTextToSpeech for OpenAiTts {
    /// Streams `pcm` (whatever [`with_format`](Self::with_format) says), converting each chunk
    /// to 8 kHz μ-law as it arrives.
    fn synthesize_stream<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<AudioStream, Error>> {
        Box::pin(async move {
            let response = http::with_timeout(
                PROVIDER,
                self.timeout,
                self.start(request, OpenAiFormat::Pcm),
            )
            .await?;
            let mut converter = PcmStreamConverter::new(PROVIDER, PCM_RATE)?;
            let body = http::body_stream(PROVIDER, self.idle_timeout, response);
            let mut finished = false;
            let converted = body
                .map(Some)
                .chain(futures_util::stream::iter([None]))
                .filter_map(move |item| {
                    let out = match item {
                        Some(Ok(chunk)) => Some(Ok(converter.push(&chunk))),
                        Some(Err(e)) => {
                            finished = true;
                            Some(Err(e))
                        }
                        // The body ended cleanly: drain the resampler.
                        None if !finished => Some(Ok(converter.finish())),
                        None => None,
                    };
                    std::future::ready(out)
                });
            Ok(http::boxed(converted))
        })
    }
}

impl fmt::Debug for OpenAiTts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiTts")
            .field("api_key", &"[REDACTED]")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("default_voice", &self.default_voice)
            .field("format", &self.format)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_bodies_never_panic() {
        crate::support::http::fuzz::error_parser_never_panics(super::parse_error);
    }
}
