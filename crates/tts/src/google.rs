//! Google Cloud Text-to-Speech (`POST {base}/v1/text:synthesize`).

use std::time::Duration;

use base64::Engine as _;
use kav_google_auth::GoogleAuth;
use serde::Deserialize;
use serde_json::json;

use crate::support::convert;
use crate::support::http::{self, ProviderError};
use crate::{BoxFuture, Error, PHONE_SAMPLE_RATE, SpeechAudio, SpeechRequest, TextToSpeech};

const PROVIDER: &str = "google";

/// The audio encoding asked of Google. Both come back at 8 kHz inside a WAV header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GoogleEncoding {
    /// `MULAW`: G.711 μ-law at 8 kHz, used as is (the default).
    #[default]
    Mulaw,
    /// `LINEAR16`: 16-bit PCM at 8 kHz, μ-law encoded here.
    Linear16,
}

impl GoogleEncoding {
    fn as_api(self) -> &'static str {
        match self {
            Self::Mulaw => "MULAW",
            Self::Linear16 => "LINEAR16",
        }
    }
}

/// Google Cloud Text-to-Speech, authenticated with a service account or an API key.
///
/// Voices: `he-IL-Standard-A`…`D`, `he-IL-Wavenet-A`…`D` and others; without a voice, Google
/// picks one for the language.
#[derive(Debug, Clone)]
pub struct GoogleTts {
    auth: GoogleAuth,
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
    encoding: GoogleEncoding,
    default_voice: Option<String>,
}

impl GoogleTts {
    /// Google's endpoint.
    pub const DEFAULT_BASE_URL: &'static str = "https://texttospeech.googleapis.com";
    /// Default timeout of one synthesis (token fetch included).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

    /// A client using `auth` (see [`GoogleAuth::from_service_account_json`] and
    /// [`GoogleAuth::api_key`]) and a new `reqwest::Client`.
    pub fn new(auth: GoogleAuth) -> Self {
        Self {
            auth,
            http: reqwest::Client::new(),
            base_url: Self::DEFAULT_BASE_URL.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
            encoding: GoogleEncoding::default(),
            default_voice: None,
        }
    }

    /// Uses this HTTP client.
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Sends requests to `url` instead of Google (`{url}/v1/text:synthesize`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `url` is not an absolute http(s) URL.
    pub fn with_base_url(mut self, url: &str) -> Result<Self, Error> {
        self.base_url = http::base_url(PROVIDER, url)?;
        Ok(self)
    }

    /// Limits each synthesis to `timeout` (default 15 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Asks for this encoding (default [`GoogleEncoding::Mulaw`]).
    #[must_use]
    pub fn with_encoding(mut self, encoding: GoogleEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The voice used when a request names none (e.g. `he-IL-Wavenet-A`).
    #[must_use]
    pub fn with_default_voice(mut self, voice: impl Into<String>) -> Self {
        self.default_voice = Some(voice.into());
        self
    }

    fn voice<'a>(&'a self, request: &'a SpeechRequest) -> Option<&'a str> {
        request.voice().or(self.default_voice.as_deref())
    }

    async fn run(&self, request: &SpeechRequest) -> Result<SpeechAudio, Error> {
        let mut voice = json!({ "languageCode": request.language().as_str() });
        if let Some(name) = self.voice(request) {
            voice["name"] = name.into();
        }
        let mut audio_config = json!({
            "audioEncoding": self.encoding.as_api(),
            "sampleRateHertz": PHONE_SAMPLE_RATE,
        });
        if let Some(rate) = request.speaking_rate() {
            audio_config["speakingRate"] = rate.into();
        }
        let body = json!({
            "input": { "text": request.text() },
            "voice": voice,
            "audioConfig": audio_config,
        });
        let builder = self
            .http
            .post(format!("{}/v1/text:synthesize", self.base_url))
            .json(&body);
        let builder = self
            .auth
            .authorize(builder)
            .await
            .map_err(|source| Error::Auth {
                provider: PROVIDER,
                source,
            })?;
        let response = match http::send(PROVIDER, self.timeout, builder, parse_error).await {
            Err(e @ Error::Provider { status: 401, .. }) => {
                // A revoked or expired token: fetch a new one next time.
                if let GoogleAuth::ServiceAccount(sa) = &self.auth {
                    sa.invalidate().await;
                }
                return Err(e);
            }
            other => other?,
        };
        let body = http::read_body(PROVIDER, self.timeout, response).await?;
        let answer: SynthesizeResponse =
            serde_json::from_slice(&body).map_err(|e| Error::MalformedResponse {
                provider: PROVIDER,
                detail: format!("not a synthesize response: {e}"),
            })?;
        let audio = base64::engine::general_purpose::STANDARD
            .decode(answer.audio_content.trim())
            .map_err(|e| Error::MalformedResponse {
                provider: PROVIDER,
                detail: format!("audioContent is not base64: {e}"),
            })?;
        if audio.starts_with(b"RIFF") {
            return convert::wav_to_phone(PROVIDER, &audio);
        }
        // Documented to come with a WAV header; accept headerless audio too.
        match self.encoding {
            GoogleEncoding::Mulaw => convert::non_empty(PROVIDER, SpeechAudio::from_mulaw(audio)),
            GoogleEncoding::Linear16 => {
                convert::pcm16le_to_phone(PROVIDER, &audio, PHONE_SAMPLE_RATE)
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SynthesizeResponse {
    audio_content: String,
}

/// `{"error": {"code": 400, "message": "…", "status": "INVALID_ARGUMENT"}}`.
fn parse_error(body: &[u8]) -> Option<ProviderError> {
    #[derive(Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        message: Option<String>,
        status: Option<String>,
    }
    let e: Envelope = serde_json::from_slice(body).ok()?;
    Some(ProviderError {
        code: e.error.status,
        message: e.error.message.unwrap_or_default(),
    })
}

impl TextToSpeech for GoogleTts {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn voice_for(&self, request: &SpeechRequest) -> String {
        self.voice(request).unwrap_or("default").to_owned()
    }

    fn settings(&self) -> String {
        self.encoding.as_api().to_owned()
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

#[cfg(test)]
mod tests {
    #[test]
    fn error_bodies_never_panic() {
        crate::support::http::fuzz::error_parser_never_panics(super::parse_error);
    }
}
