//! Google Cloud Speech-to-Text v1: `POST {base}/v1/speech:recognize` (feature `google`).

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use kav_google_auth::GoogleAuth;
use serde::{Deserialize, Serialize};

use crate::http::{self, Answer};
use crate::{
    AudioClip, BoxFuture, Error, Language, LanguageSource, Provider, Samples, SpeechToText,
    Transcript,
};

/// Google Speech-to-Text's base URL.
pub const GOOGLE_DEFAULT_BASE_URL: &str = "https://speech.googleapis.com";

/// The longest clip `speech:recognize` takes (longer audio needs `longrunningrecognize`).
pub const GOOGLE_MAX_SYNC_AUDIO: Duration = Duration::from_secs(60);

/// The largest `audio.content` `speech:recognize` takes, before base64 (10 MB).
pub const GOOGLE_MAX_CONTENT_BYTES: usize = 10 * 1024 * 1024;

const PROVIDER: Provider = Provider::Google;
const DEFAULT_ENDPOINT: &str = "https://speech.googleapis.com/v1/speech:recognize";

/// Speech-to-text with Google Cloud Speech-to-Text v1 `speech:recognize`.
///
/// μ-law clips are sent as `MULAW`, PCM clips as `LINEAR16`, at their own sample rate, with
/// `languageCode` (default `he-IL`), `enableAutomaticPunctuation` (default on) and an optional
/// `model`. Requests are authenticated by [`GoogleAuth`] (service account or API key). Each
/// request, answer body included, is limited by a timeout (default 30 s; the token request has
/// its own timeout in [`GoogleAuth`]).
///
/// ```no_run
/// use kav_google_auth::GoogleAuth;
/// use kav_stt::{AudioClip, GoogleStt, SpeechToText};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let http = reqwest::Client::new();
/// let json = std::env::var("GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON")?;
/// let auth = GoogleAuth::from_service_account_json(&json, http.clone())?;
/// let stt = GoogleStt::new(auth, http).with_model(Some("phone_call"));
/// let transcript = stt.transcribe(&AudioClip::mulaw_8k(vec![0xFF; 8_000])).await?;
/// println!("{} ({:?})", transcript.text, transcript.confidence);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct GoogleStt {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    auth: GoogleAuth,
    language_code: String,
    model: Option<String>,
    punctuation: bool,
    timeout: Duration,
}

impl fmt::Debug for GoogleStt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleStt")
            .field("endpoint", &self.endpoint.as_str())
            .field("auth", &self.auth)
            .field("language_code", &self.language_code)
            .field("model", &self.model)
            .field("punctuation", &self.punctuation)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl GoogleStt {
    /// A client for `https://speech.googleapis.com` authenticated by `auth`, sending requests
    /// with `http`.
    pub fn new(auth: GoogleAuth, http: reqwest::Client) -> Self {
        Self {
            http,
            endpoint: reqwest::Url::parse(DEFAULT_ENDPOINT).expect("a constant, valid URL"),
            auth,
            language_code: "he-IL".to_owned(),
            model: None,
            punctuation: true,
            timeout: Duration::from_secs(30),
        }
    }

    /// Sends requests to `{base}/v1/speech:recognize` instead of Google's.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `base` is not an absolute `http`/`https` URL without query.
    pub fn with_base_url(mut self, base: &str) -> Result<Self, Error> {
        self.endpoint = http::endpoint_below(PROVIDER, base, "v1/speech:recognize")?;
        Ok(self)
    }

    /// The BCP-47 language of the audio (default `he-IL`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the tag is empty or has characters other than ASCII letters,
    /// digits and `-`.
    pub fn with_language_code(mut self, code: &str) -> Result<Self, Error> {
        let code = code.trim();
        if code.is_empty()
            || code.len() > 35
            || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(Error::Config {
                provider: PROVIDER,
                message: format!("language code {code:?} is not a BCP-47 tag such as \"he-IL\""),
            });
        }
        self.language_code = code.to_owned();
        Ok(self)
    }

    /// The recognition model (`default`, `phone_call`, `latest_short`, …); `None` lets Google
    /// choose (default).
    #[must_use]
    pub fn with_model(mut self, model: Option<&str>) -> Self {
        self.model = model
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned);
        self
    }

    /// Whether to ask for automatic punctuation (default on).
    #[must_use]
    pub fn with_automatic_punctuation(mut self, on: bool) -> Self {
        self.punctuation = on;
        self
    }

    /// Limits each request, from sending to the end of the answer (default 30 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL requests are posted to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    fn body(&self, clip: &AudioClip) -> RecognizeRequest<'_> {
        let (encoding, bytes) = match clip.samples() {
            Samples::Mulaw(codes) => ("MULAW", std::borrow::Cow::Borrowed(codes.as_slice())),
            _ => ("LINEAR16", std::borrow::Cow::Owned(clip.to_pcm16le_bytes())),
        };
        RecognizeRequest {
            config: RecognitionConfig {
                encoding,
                sample_rate_hertz: clip.sample_rate(),
                language_code: &self.language_code,
                model: self.model.as_deref(),
                enable_automatic_punctuation: self.punctuation,
            },
            audio: RecognitionAudio {
                content: base64::engine::general_purpose::STANDARD.encode(bytes),
            },
        }
    }

    async fn run(&self, clip: &AudioClip) -> Result<Transcript, Error> {
        if clip.is_empty() {
            return Err(Error::InvalidClip("the clip has no samples".into()));
        }
        if clip.duration() > GOOGLE_MAX_SYNC_AUDIO {
            return Err(Error::InvalidClip(format!(
                "{:.1} s is longer than the {} s speech:recognize takes",
                clip.duration().as_secs_f64(),
                GOOGLE_MAX_SYNC_AUDIO.as_secs()
            )));
        }
        let bytes_per_sample = if matches!(clip.samples(), Samples::Mulaw(_)) {
            1
        } else {
            2
        };
        if clip.len().saturating_mul(bytes_per_sample) > GOOGLE_MAX_CONTENT_BYTES {
            return Err(Error::InvalidClip(format!(
                "the audio is over the {GOOGLE_MAX_CONTENT_BYTES}-byte limit of speech:recognize"
            )));
        }
        let req = self.http.post(self.endpoint.clone()).json(&self.body(clip));
        let req = self.auth.authorize(req).await.map_err(|e| Error::Auth {
            provider: PROVIDER,
            source: Box::new(e),
        })?;
        tracing::debug!(
            provider = %PROVIDER,
            samples = clip.len(),
            rate = clip.sample_rate(),
            "recognize request"
        );
        let answer = http::exchange(PROVIDER, self.timeout, req, api_error).await?;
        parse_success(&answer, &self.language_code, clip.duration())
    }
}

impl SpeechToText for GoogleStt {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    fn transcribe<'a>(&'a self, clip: &'a AudioClip) -> BoxFuture<'a, Result<Transcript, Error>> {
        Box::pin(self.run(clip))
    }
}

#[derive(Serialize)]
struct RecognizeRequest<'a> {
    config: RecognitionConfig<'a>,
    audio: RecognitionAudio,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecognitionConfig<'a> {
    encoding: &'static str,
    sample_rate_hertz: u32,
    language_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    enable_automatic_punctuation: bool,
}

#[derive(Serialize)]
struct RecognitionAudio {
    content: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    status: Option<String>,
}

fn api_error(answer: &Answer) -> Error {
    match serde_json::from_slice::<ErrorBody>(&answer.body) {
        Ok(ErrorBody { error }) => answer.api_error(PROVIDER, error.status, error.message),
        Err(_) => answer.api_error(PROVIDER, None, None),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecognizeResponse {
    #[serde(default)]
    results: Vec<RecognitionResult>,
    total_billed_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecognitionResult {
    #[serde(default)]
    alternatives: Vec<Alternative>,
    language_code: Option<String>,
}

#[derive(Deserialize)]
struct Alternative {
    #[serde(default)]
    transcript: String,
    #[serde(default)]
    confidence: f64,
}

/// Parses a protobuf JSON `Duration` such as `"3s"` or `"1.500s"`.
fn proto_duration(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

fn parse_success(
    answer: &Answer,
    declared: &str,
    clip_duration: Duration,
) -> Result<Transcript, Error> {
    let malformed = |detail: String| Error::MalformedResponse {
        provider: PROVIDER,
        status: answer.status,
        detail,
    };
    let body: RecognizeResponse = serde_json::from_slice(&answer.body)
        .map_err(|e| malformed(format!("not a RecognizeResponse: {e}")))?;
    let mut texts = Vec::new();
    let mut confidences = Vec::new();
    let mut language = None;
    for result in &body.results {
        // The first alternative is the most likely one.
        if let Some(best) = result.alternatives.first() {
            let text = best.transcript.trim();
            if !text.is_empty() {
                texts.push(text);
            }
            // 0.0 means "not set" in Google's API.
            if best.confidence > 0.0 {
                confidences.push(best.confidence);
            }
        }
        if language.is_none() {
            language = result
                .language_code
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty());
        }
    }
    let mut t = Transcript::new(PROVIDER, texts.join(" ")).with_duration(clip_duration);
    if !confidences.is_empty() {
        t = t.with_confidence(confidences.iter().sum::<f64>() / confidences.len() as f64);
    }
    // Google echoes the language it transcribed in (the declared one, in lower case).
    let code = language.unwrap_or(declared);
    t = t.with_language(Language::new(code, LanguageSource::Declared));
    if let Some(billed) = body.total_billed_time.as_deref() {
        let d = proto_duration(billed)
            .ok_or_else(|| malformed(format!("totalBilledTime {billed:?} is not a duration")))?;
        t = t.with_billed_duration(d);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_durations() {
        assert_eq!(proto_duration("3s"), Some(Duration::from_secs(3)));
        assert_eq!(proto_duration("1.500s"), Some(Duration::from_millis(1_500)));
        assert_eq!(proto_duration("3"), None);
        assert_eq!(proto_duration("-1s"), None);
        assert_eq!(proto_duration("s"), None);
    }

    proptest::proptest! {
        /// Whatever the provider sends, parsing gives a transcript or a typed error.
        #[test]
        fn any_answer_parses_or_errs(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
                                     status in 100u16..600) {
            let answer = Answer { status, retry_after: None, body };
            let _ = parse_success(&answer, "he-IL", Duration::from_secs(1));
            let e = api_error(&answer);
            proptest::prop_assert_eq!(e.status(), Some(status));
        }

        #[test]
        fn any_billed_time(s in ".{0,20}") {
            let _ = proto_duration(&s);
        }
    }

    #[test]
    fn debug_hides_the_api_key() {
        let auth = GoogleAuth::api_key("AIza-secret-key".to_owned().into());
        let stt = GoogleStt::new(auth, reqwest::Client::new());
        let dbg = format!("{stt:?}");
        assert!(!dbg.contains("AIza-secret-key"), "{dbg}");
        assert_eq!(
            stt.endpoint(),
            "https://speech.googleapis.com/v1/speech:recognize"
        );
    }

    #[test]
    fn language_codes_are_validated() {
        let stt = GoogleStt::new(
            GoogleAuth::api_key("k".to_owned().into()),
            reqwest::Client::new(),
        );
        assert!(stt.clone().with_language_code("he IL").is_err());
        assert!(stt.clone().with_language_code("").is_err());
        assert!(stt.with_language_code("en-US").is_ok());
    }
}
