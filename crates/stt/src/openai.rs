//! OpenAI transcription: `POST {base}/audio/transcriptions` (feature `openai`).

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::multipart::{Form, Part};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::{self, Answer};
use crate::{
    AudioClip, BoxFuture, Error, Language, LanguageSource, Provider, Segment, SpeechToText,
    Transcript,
};

/// OpenAI's API base URL; like `OPENAI_BASE_URL` in OpenAI's SDKs, it includes `/v1`.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The largest file OpenAI's transcription endpoint takes (25 MB).
pub const OPENAI_MAX_FILE_BYTES: usize = 25 * 1024 * 1024;

const PROVIDER: Provider = Provider::OpenAi;
const DEFAULT_ENDPOINT: &str = "https://api.openai.com/v1/audio/transcriptions";

/// An OpenAI transcription model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenAiModel {
    /// `whisper-1` (Whisper V2): `verbose_json` with per-segment `no_speech_prob`,
    /// `avg_logprob`, `compression_ratio`.
    Whisper1,
    /// `gpt-4o-transcribe`: `json` only; token `logprobs` give the confidence.
    Gpt4oTranscribe,
    /// `gpt-4o-mini-transcribe`: `json` only; token `logprobs` give the confidence.
    Gpt4oMiniTranscribe,
    /// Any other model id, sent as it is with `response_format=json`.
    Other(String),
}

impl OpenAiModel {
    /// The model id sent in the `model` field.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Whisper1 => "whisper-1",
            Self::Gpt4oTranscribe => "gpt-4o-transcribe",
            Self::Gpt4oMiniTranscribe => "gpt-4o-mini-transcribe",
            Self::Other(id) => id,
        }
    }

    /// Whether the model answers `response_format=verbose_json` (only `whisper-1`).
    pub fn supports_verbose_json(&self) -> bool {
        matches!(self, Self::Whisper1)
    }

    /// Whether the model returns token `logprobs` with `include[]=logprobs`.
    pub fn supports_logprobs(&self) -> bool {
        matches!(self, Self::Gpt4oTranscribe | Self::Gpt4oMiniTranscribe)
    }
}

impl std::str::FromStr for OpenAiModel {
    type Err = Error;

    /// Parses a model id; known ids become their variant, others [`OpenAiModel::Other`].
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        Ok(match s {
            "whisper-1" => Self::Whisper1,
            "gpt-4o-transcribe" => Self::Gpt4oTranscribe,
            "gpt-4o-mini-transcribe" => Self::Gpt4oMiniTranscribe,
            "" => {
                return Err(Error::Config {
                    provider: PROVIDER,
                    message: "empty model id".into(),
                });
            }
            other => Self::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for OpenAiModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Speech-to-text with OpenAI's `/audio/transcriptions`.
///
/// The clip is uploaded as a 16-bit PCM mono WAV file (μ-law is decoded first), with `model`
/// (default `whisper-1`), `language` (default `he`), an optional `prompt`, and
/// `response_format=verbose_json` for `whisper-1` (`json` with `include[]=logprobs` for the
/// gpt-4o models). Each request, answer body included, is limited by a timeout (default 30 s).
///
/// Cloning is cheap (the `reqwest::Client` is shared).
///
/// ```no_run
/// use kav_stt::{AudioClip, OpenAiModel, OpenAiStt, SpeechToText};
///
/// # async fn run() -> Result<(), kav_stt::Error> {
/// let key = std::env::var("OPENAI_API_KEY").unwrap_or_default();
/// let stt = OpenAiStt::new(key.into(), reqwest::Client::new())
///     .with_model(OpenAiModel::Gpt4oMiniTranscribe)
///     .with_prompt("שיחה עם מוקד הזמנות");
/// let transcript = stt.transcribe(&AudioClip::mulaw_8k(vec![0xFF; 8_000])).await?;
/// println!("{} ({:?})", transcript.text, transcript.confidence);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct OpenAiStt {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    api_key: SecretString,
    model: OpenAiModel,
    language: Option<String>,
    prompt: Option<String>,
    temperature: Option<f32>,
    logprobs: bool,
    timeout: Duration,
}

impl fmt::Debug for OpenAiStt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiStt")
            .field("endpoint", &self.endpoint.as_str())
            .field("api_key", &"[REDACTED]")
            .field("model", &self.model)
            .field("language", &self.language)
            .field("prompt", &self.prompt)
            .field("temperature", &self.temperature)
            .field("logprobs", &self.logprobs)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenAiStt {
    /// A client for `https://api.openai.com/v1` with `api_key`, sending requests with `http`.
    pub fn new(api_key: SecretString, http: reqwest::Client) -> Self {
        Self {
            http,
            endpoint: reqwest::Url::parse(DEFAULT_ENDPOINT).expect("a constant, valid URL"),
            api_key,
            model: OpenAiModel::Whisper1,
            language: Some("he".to_owned()),
            prompt: None,
            temperature: None,
            logprobs: true,
            timeout: Duration::from_secs(30),
        }
    }

    /// Sends requests to `base` instead of `https://api.openai.com/v1`. As with
    /// `OPENAI_BASE_URL`, the base includes the API version: requests go to
    /// `{base}/audio/transcriptions`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `base` is not an absolute `http`/`https` URL without query.
    pub fn with_base_url(mut self, base: &str) -> Result<Self, Error> {
        self.endpoint = http::endpoint_below(PROVIDER, base, "audio/transcriptions")?;
        Ok(self)
    }

    /// Uses `model` (default `whisper-1`).
    #[must_use]
    pub fn with_model(mut self, model: OpenAiModel) -> Self {
        self.model = model;
        self
    }

    /// Declares the spoken language as an ISO 639-1 code (default `he`); `None` lets the model
    /// detect it.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the code is not 2 or 3 ASCII letters.
    pub fn with_language(mut self, language: Option<&str>) -> Result<Self, Error> {
        self.language = match language.map(str::trim) {
            None => None,
            Some(code)
                if (2..=3).contains(&code.len())
                    && code.bytes().all(|b| b.is_ascii_alphabetic()) =>
            {
                Some(code.to_ascii_lowercase())
            }
            Some(code) => {
                return Err(Error::Config {
                    provider: PROVIDER,
                    message: format!("language {code:?} is not an ISO 639-1 code such as \"he\""),
                });
            }
        };
        Ok(self)
    }

    /// Sends `prompt` to guide style and vocabulary (in the clip's language).
    #[must_use]
    pub fn with_prompt(mut self, prompt: impl Into<String>) -> Self {
        let prompt: String = prompt.into();
        self.prompt = (!prompt.trim().is_empty()).then_some(prompt);
        self
    }

    /// Sets the sampling temperature (0..=1; clamped). Unset, the field is not sent.
    #[must_use]
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = (!temperature.is_nan()).then(|| temperature.clamp(0.0, 1.0));
        self
    }

    /// Whether to ask gpt-4o models for token `logprobs` (default `true`); they give
    /// [`Transcript::confidence`] and [`Transcript::avg_logprob`].
    #[must_use]
    pub fn with_logprobs(mut self, on: bool) -> Self {
        self.logprobs = on;
        self
    }

    /// Limits each request, from sending to the end of the answer (default 30 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The model in use.
    pub fn model(&self) -> &OpenAiModel {
        &self.model
    }

    /// The URL requests are posted to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    fn form(&self, clip: &AudioClip) -> Result<Form, Error> {
        let wav = clip.to_wav_pcm16();
        let file = Part::bytes(wav)
            .file_name("audio.wav")
            .mime_str("audio/wav")
            .map_err(|e| Error::Config {
                provider: PROVIDER,
                message: format!("cannot build the file part: {e}"),
            })?;
        let mut form = Form::new()
            .part("file", file)
            .text("model", self.model.as_str().to_owned());
        if let Some(language) = &self.language {
            form = form.text("language", language.clone());
        }
        if let Some(prompt) = &self.prompt {
            form = form.text("prompt", prompt.clone());
        }
        let format = if self.model.supports_verbose_json() {
            "verbose_json"
        } else {
            "json"
        };
        form = form.text("response_format", format);
        if let Some(t) = self.temperature {
            form = form.text("temperature", t.to_string());
        }
        if self.logprobs && self.model.supports_logprobs() {
            form = form.text("include[]", "logprobs");
        }
        Ok(form)
    }

    async fn run(&self, clip: &AudioClip) -> Result<Transcript, Error> {
        if clip.is_empty() {
            return Err(Error::InvalidClip("the clip has no samples".into()));
        }
        // WAV: 44-byte header + 2 bytes per sample.
        let file_bytes = 44 + clip.len().saturating_mul(2);
        if file_bytes > OPENAI_MAX_FILE_BYTES {
            return Err(Error::InvalidClip(format!(
                "a {file_bytes}-byte WAV is over OpenAI's {OPENAI_MAX_FILE_BYTES}-byte limit"
            )));
        }
        let mut auth = HeaderValue::try_from(format!("Bearer {}", self.api_key.expose_secret()))
            .map_err(|_| Error::Config {
                provider: PROVIDER,
                message: "the API key is not a valid HTTP header value".into(),
            })?;
        auth.set_sensitive(true);
        let req = self
            .http
            .post(self.endpoint.clone())
            .header(AUTHORIZATION, auth)
            .multipart(self.form(clip)?);
        tracing::debug!(
            provider = %PROVIDER,
            model = %self.model,
            samples = clip.len(),
            rate = clip.sample_rate(),
            "transcription request"
        );
        let answer = http::exchange(PROVIDER, self.timeout, req, api_error).await?;
        parse_success(
            &answer,
            self.language.as_deref(),
            clip.duration(),
            self.model.supports_verbose_json(),
        )
    }
}

impl SpeechToText for OpenAiStt {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    fn transcribe<'a>(&'a self, clip: &'a AudioClip) -> BoxFuture<'a, Result<Transcript, Error>> {
        Box::pin(self.run(clip))
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<serde_json::Value>,
}

fn api_error(answer: &Answer) -> Error {
    match serde_json::from_slice::<ErrorBody>(&answer.body) {
        Ok(ErrorBody { error }) => {
            let code = match error.code {
                Some(serde_json::Value::String(s)) => Some(s),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            }
            .or(error.kind);
            answer.api_error(PROVIDER, code, error.message)
        }
        Err(_) => answer.api_error(PROVIDER, None, None),
    }
}

/// `CreateTranscriptionResponseVerboseJson` and `CreateTranscriptionResponseJson` in one: only
/// `text` is required, so either shape parses.
#[derive(Deserialize)]
struct SuccessBody {
    text: String,
    language: Option<String>,
    duration: Option<f64>,
    #[serde(default)]
    segments: Vec<SegmentBody>,
    #[serde(default)]
    logprobs: Option<Vec<LogprobBody>>,
    usage: Option<UsageBody>,
}

#[derive(Deserialize)]
struct SegmentBody {
    start: f64,
    end: f64,
    text: String,
    avg_logprob: f64,
    compression_ratio: f64,
    no_speech_prob: f64,
}

#[derive(Deserialize)]
struct LogprobBody {
    logprob: f64,
}

#[derive(Deserialize)]
struct UsageBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    seconds: Option<f64>,
}

fn secs(x: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(x).ok()
}

fn parse_success(
    answer: &Answer,
    declared: Option<&str>,
    clip_duration: Duration,
    verbose: bool,
) -> Result<Transcript, Error> {
    let body: SuccessBody =
        serde_json::from_slice(&answer.body).map_err(|e| Error::MalformedResponse {
            provider: PROVIDER,
            status: answer.status,
            detail: format!("not a transcription object: {e}"),
        })?;
    if verbose && (body.language.is_none() || body.duration.is_none()) {
        tracing::debug!(provider = %PROVIDER, "verbose_json answer without language or duration");
    }
    let mut t = Transcript::new(PROVIDER, body.text);
    let mut segments = Vec::with_capacity(body.segments.len());
    for s in body.segments {
        let (Some(start), Some(end)) = (secs(s.start), secs(s.end)) else {
            return Err(Error::MalformedResponse {
                provider: PROVIDER,
                status: answer.status,
                detail: format!("segment times {}..{} are not durations", s.start, s.end),
            });
        };
        segments.push(Segment::new(
            start,
            end,
            s.text.trim(),
            s.avg_logprob,
            s.no_speech_prob,
            s.compression_ratio,
        ));
    }
    t = t.with_segments(segments);
    if let Some(lp) = body.logprobs.filter(|l| !l.is_empty()) {
        let mean = lp.iter().map(|l| l.logprob).sum::<f64>() / lp.len() as f64;
        t = t.with_avg_logprob(mean).with_confidence(mean.exp());
    }
    let language = match (body.language, declared) {
        (Some(reported), Some(_)) => Some(Language::new(
            language_code(&reported),
            LanguageSource::Declared,
        )),
        (Some(reported), None) => Some(Language::new(
            language_code(&reported),
            LanguageSource::Detected,
        )),
        (None, Some(declared)) => Some(Language::new(declared, LanguageSource::Declared)),
        (None, None) => None,
    };
    if let Some(language) = language {
        t = t.with_language(language);
    }
    let duration = body
        .duration
        .and_then(secs)
        .or_else(|| {
            body.usage
                .filter(|u| u.kind.as_deref() == Some("duration"))
                .and_then(|u| u.seconds)
                .and_then(secs)
        })
        .unwrap_or(clip_duration);
    Ok(t.with_duration(duration))
}

/// Whisper's `verbose_json` names the language in English (`hebrew`); map the common ones to
/// ISO 639-1, pass anything else through in lower case.
fn language_code(reported: &str) -> String {
    let lower = reported.trim().to_ascii_lowercase();
    let code = match lower.as_str() {
        "hebrew" => "he",
        "english" => "en",
        "arabic" => "ar",
        "russian" => "ru",
        "french" => "fr",
        "spanish" => "es",
        "german" => "de",
        "amharic" => "am",
        "yiddish" => "yi",
        "ukrainian" => "uk",
        _ => return lower,
    };
    code.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_parse_and_print() {
        for m in ["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"] {
            let model: OpenAiModel = m.parse().unwrap();
            assert_eq!(model.to_string(), m);
            assert!(!matches!(model, OpenAiModel::Other(_)));
        }
        assert_eq!(
            "my-model".parse::<OpenAiModel>().unwrap(),
            OpenAiModel::Other("my-model".into())
        );
        assert!("".parse::<OpenAiModel>().is_err());
        assert!(OpenAiModel::Whisper1.supports_verbose_json());
        assert!(!OpenAiModel::Gpt4oTranscribe.supports_verbose_json());
    }

    #[test]
    fn language_names_map_to_codes() {
        assert_eq!(language_code("hebrew"), "he");
        assert_eq!(language_code("English"), "en");
        assert_eq!(language_code("he"), "he");
        assert_eq!(language_code("klingon"), "klingon");
    }

    #[test]
    fn debug_hides_the_key() {
        let stt = OpenAiStt::new("sk-secret-123".to_owned().into(), reqwest::Client::new());
        let dbg = format!("{stt:?}");
        assert!(!dbg.contains("sk-secret-123"), "{dbg}");
        assert!(dbg.contains("[REDACTED]"));
        assert_eq!(
            stt.endpoint(),
            "https://api.openai.com/v1/audio/transcriptions"
        );
    }

    proptest::proptest! {
        /// Whatever the provider sends, parsing gives a transcript or a typed error.
        #[test]
        fn any_answer_parses_or_errs(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
                                     status in 100u16..600) {
            let answer = Answer { status, retry_after: None, body };
            let _ = parse_success(&answer, Some("he"), Duration::from_secs(1), true);
            let e = api_error(&answer);
            proptest::prop_assert_eq!(e.status(), Some(status));
        }

        /// JSON-shaped answers with arbitrary numbers (negative, huge, fractional times).
        #[test]
        fn odd_numbers_in_segments(start in proptest::num::f64::ANY, end in proptest::num::f64::ANY,
                                   lp in -1e6f64..1e6, nsp in -1e6f64..1e6) {
            let body = serde_json::json!({"text": "x", "language": "hebrew", "duration": end,
                "segments": [{"start": start, "end": end, "text": "x", "avg_logprob": lp,
                              "compression_ratio": 1.0, "no_speech_prob": nsp}]});
            let answer = Answer { status: 200, retry_after: None, body: body.to_string().into_bytes() };
            if let Ok(t) = parse_success(&answer, None, Duration::from_secs(1), true) {
                let _ = crate::SpeechGuard::default().after(&t);
            }
        }
    }

    #[test]
    fn languages_are_validated() {
        let stt = OpenAiStt::new("k".to_owned().into(), reqwest::Client::new());
        assert!(stt.clone().with_language(Some("he-IL")).is_err());
        assert!(stt.clone().with_language(Some("")).is_err());
        assert!(stt.clone().with_language(Some("EN")).is_ok());
        assert!(stt.with_language(None).is_ok());
    }
}
