//! ElevenLabs text-to-speech
//! (`POST {base}/v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000`).

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use serde_json::json;

use crate::support::convert;
use crate::support::http::{self, ProviderError};
use crate::{
    AudioStream, BoxFuture, Error, SpeechAudio, SpeechRequest, StreamingTextToSpeech, TextToSpeech,
    collect_stream,
};

const PROVIDER: &str = "elevenlabs";

/// ElevenLabs `voice_settings` (each field is sent only when set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct VoiceSettings {
    /// `stability`, 0.0–1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stability: Option<f32>,
    /// `similarity_boost`, 0.0–1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity_boost: Option<f32>,
    /// `style`, 0.0–1.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<f32>,
    /// `use_speaker_boost`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_speaker_boost: Option<bool>,
    /// `speed` (1.0 is normal; the request's speaking rate overrides it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f32>,
}

impl VoiceSettings {
    /// Sets `stability`.
    #[must_use]
    pub fn stability(mut self, v: f32) -> Self {
        self.stability = Some(v);
        self
    }
    /// Sets `similarity_boost`.
    #[must_use]
    pub fn similarity_boost(mut self, v: f32) -> Self {
        self.similarity_boost = Some(v);
        self
    }
    /// Sets `style`.
    #[must_use]
    pub fn style(mut self, v: f32) -> Self {
        self.style = Some(v);
        self
    }
    /// Sets `use_speaker_boost`.
    #[must_use]
    pub fn use_speaker_boost(mut self, v: bool) -> Self {
        self.use_speaker_boost = Some(v);
        self
    }
    /// Sets `speed`.
    #[must_use]
    pub fn speed(mut self, v: f32) -> Self {
        self.speed = Some(v);
        self
    }
}

/// ElevenLabs text-to-speech, in its native telephone format (`ulaw_8000`), streamed.
///
/// **Hebrew**: ElevenLabs documents Hebrew only for `eleven_v3`
/// ([`HEBREW_MODEL`](Self::HEBREW_MODEL)); the default low-latency `eleven_flash_v2_5` covers
/// 32 other languages. For Hebrew use
/// `.with_model(ElevenLabsTts::HEBREW_MODEL).with_language_code(true)`.
#[derive(Clone)]
pub struct ElevenLabsTts {
    api_key: SecretString,
    http: reqwest::Client,
    base_url: String,
    model_id: String,
    default_voice_id: String,
    voice_settings: Option<VoiceSettings>,
    send_language_code: bool,
    timeout: Duration,
    idle_timeout: Duration,
}

impl ElevenLabsTts {
    /// ElevenLabs' endpoint.
    pub const DEFAULT_BASE_URL: &'static str = "https://api.elevenlabs.io";
    /// The default model (low latency). `eleven_multilingual_v2` and `eleven_v3` are others.
    pub const DEFAULT_MODEL: &'static str = "eleven_flash_v2_5";
    /// The model ElevenLabs documents for Hebrew.
    pub const HEBREW_MODEL: &'static str = "eleven_v3";
    /// The default voice id (a premade voice).
    pub const DEFAULT_VOICE_ID: &'static str = "JBFqnCBsd6RMkjVDRZzb";
    /// Default timeout of a whole synthesis, and of the start of a stream.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default longest wait for the next chunk of a stream.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

    /// A client with this API key (sent as `xi-api-key`) and a new `reqwest::Client`.
    pub fn new(api_key: SecretString) -> Self {
        Self {
            api_key,
            http: reqwest::Client::new(),
            base_url: Self::DEFAULT_BASE_URL.to_owned(),
            model_id: Self::DEFAULT_MODEL.to_owned(),
            default_voice_id: Self::DEFAULT_VOICE_ID.to_owned(),
            voice_settings: None,
            send_language_code: false,
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

    /// Sends requests to `url` instead of ElevenLabs.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `url` is not an absolute http(s) URL.
    pub fn with_base_url(mut self, url: &str) -> Result<Self, Error> {
        self.base_url = http::base_url(PROVIDER, url)?;
        Ok(self)
    }

    /// Uses this `model_id`.
    #[must_use]
    pub fn with_model(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = model_id.into();
        self
    }

    /// The voice id used when a request names none.
    #[must_use]
    pub fn with_default_voice(mut self, voice_id: impl Into<String>) -> Self {
        self.default_voice_id = voice_id.into();
        self
    }

    /// Sends these `voice_settings`.
    #[must_use]
    pub fn with_voice_settings(mut self, settings: VoiceSettings) -> Self {
        self.voice_settings = Some(settings);
        self
    }

    /// Sends the request's primary language as `language_code` (ISO 639-1, e.g. `he`); only
    /// some models accept it, so it is off by default.
    #[must_use]
    pub fn with_language_code(mut self, send: bool) -> Self {
        self.send_language_code = send;
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
        request.voice().unwrap_or(&self.default_voice_id)
    }

    async fn start(&self, request: &SpeechRequest) -> Result<AudioStream, Error> {
        let mut url = reqwest::Url::parse(&self.base_url).map_err(|e| Error::Config {
            provider: PROVIDER,
            detail: e.to_string(),
        })?;
        // Path segments are percent-encoded, so a voice id cannot change the path.
        url.path_segments_mut()
            .map_err(|()| Error::Config {
                provider: PROVIDER,
                detail: "the base URL cannot have a path".into(),
            })?
            .pop_if_empty()
            .extend(["v1", "text-to-speech", self.voice(request), "stream"]);
        url.query_pairs_mut()
            .append_pair("output_format", "ulaw_8000");
        let mut body = json!({
            "text": request.text(),
            "model_id": self.model_id,
        });
        let mut settings = self.voice_settings.unwrap_or_default();
        if let Some(rate) = request.speaking_rate() {
            settings.speed = Some(rate);
        }
        if settings != VoiceSettings::default() {
            body["voice_settings"] = serde_json::to_value(settings).unwrap_or_default();
        }
        if self.send_language_code {
            body["language_code"] = request.language().primary().into();
        }
        let builder = self
            .http
            .post(url)
            .header(
                "xi-api-key",
                http::secret_header(PROVIDER, self.api_key.expose_secret())?,
            )
            .header(reqwest::header::ACCEPT, "audio/basic")
            .json(&body);
        let response = http::send(PROVIDER, self.timeout, builder, parse_error).await?;
        Ok(http::boxed(http::body_stream(
            PROVIDER,
            self.idle_timeout,
            response,
        )))
    }
}

/// `{"detail": {"status": "…", "message": "…"}}`, `{"detail": "…"}` or a validation error
/// `{"detail": [{"loc": […], "msg": "…", "type": "…"}]}`.
fn parse_error(body: &[u8]) -> Option<ProviderError> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let detail = value.get("detail")?;
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_owned);
    match detail {
        serde_json::Value::String(s) => Some(ProviderError {
            code: None,
            message: s.clone(),
        }),
        serde_json::Value::Object(_) => Some(ProviderError {
            code: text(detail, "status").or_else(|| text(detail, "code")),
            message: text(detail, "message").unwrap_or_else(|| detail.to_string()),
        }),
        serde_json::Value::Array(items) => Some(ProviderError {
            code: items.first().and_then(|i| text(i, "type")),
            message: items
                .iter()
                .map(|i| {
                    let loc = i
                        .get("loc")
                        .and_then(|l| l.as_array())
                        .map(|l| {
                            l.iter()
                                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    let msg = text(i, "msg").unwrap_or_default();
                    if loc.is_empty() {
                        msg
                    } else {
                        format!("{loc}: {msg}")
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
        }),
        _ => None,
    }
}

impl TextToSpeech for ElevenLabsTts {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn voice_for(&self, request: &SpeechRequest) -> String {
        self.voice(request).to_owned()
    }

    fn settings(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.model_id,
            serde_json::to_string(&self.voice_settings).unwrap_or_default(),
            self.send_language_code
        )
    }

    fn synthesize<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechAudio, Error>> {
        Box::pin(http::with_timeout(PROVIDER, self.timeout, async move {
            let audio = collect_stream(self.start(request).await?).await?;
            convert::non_empty(PROVIDER, audio)
        }))
    }
}

impl StreamingTextToSpeech for ElevenLabsTts {
    fn synthesize_stream<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<AudioStream, Error>> {
        Box::pin(http::with_timeout(
            PROVIDER,
            self.timeout,
            self.start(request),
        ))
    }
}

impl fmt::Debug for ElevenLabsTts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElevenLabsTts")
            .field("api_key", &"[REDACTED]")
            .field("base_url", &self.base_url)
            .field("model_id", &self.model_id)
            .field("default_voice_id", &self.default_voice_id)
            .field("voice_settings", &self.voice_settings)
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
