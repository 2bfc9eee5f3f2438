//! Google Gemini: `generateContent` and `streamGenerateContent?alt=sse`.
//!
//! `POST {base}/v1beta/models/{model}:generateContent` with the key in the `x-goog-api-key`
//! header; system messages become `systemInstruction`, user and assistant messages become
//! `contents[]` with roles `user` and `model`.

use std::fmt;

use futures_util::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{self, Step, StreamHandler, Timeouts};
use crate::sse::SseEvent;
use crate::{ChatModel, Error, FinishReason, Message, Provider, Reply, Role, TokenStream};

/// The default base URL.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
/// The default model.
pub const DEFAULT_MODEL: &str = "gemini-2.5-flash";

const P: Provider = Provider::Gemini;

/// Finish reasons that mean the reply was withheld (safety, recitation, blocklists…).
const BLOCKING_FINISH_REASONS: [&str; 7] = [
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "LANGUAGE",
];

/// Configuration of [`GeminiChat`]. Setters take and return `self`; values are checked by
/// [`GeminiChat::new`].
#[derive(Clone)]
pub struct GeminiConfig {
    base_url: String,
    api_key: SecretString,
    model: String,
    temperature: Option<f32>,
    max_output_tokens: Option<u32>,
    timeouts: Timeouts,
}

impl fmt::Debug for GeminiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"[REDACTED]")
            .field("model", &self.model)
            .field("temperature", &self.temperature)
            .field("max_output_tokens", &self.max_output_tokens)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl GeminiConfig {
    /// The default configuration (`gemini-2.5-flash`, the public endpoint) with a key.
    #[must_use]
    pub fn new(api_key: impl Into<SecretString>) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: api_key.into(),
            model: DEFAULT_MODEL.to_owned(),
            temperature: None,
            max_output_tokens: None,
            timeouts: Timeouts::default(),
        }
    }

    /// From the environment: `GEMINI_API_KEY` (or `GOOGLE_API_KEY`), and `GEMINI_BASE_URL` if set.
    ///
    /// # Errors
    /// [`Error::Config`] if no key is set.
    pub fn from_env() -> Result<Self, Error> {
        let key = ["GEMINI_API_KEY", "GOOGLE_API_KEY"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|k| !k.is_empty()))
            .ok_or_else(|| Error::Config("GEMINI_API_KEY is not set".into()))?;
        let mut config = Self::new(key);
        if let Some(base) = std::env::var("GEMINI_BASE_URL")
            .ok()
            .filter(|b| !b.is_empty())
        {
            config = config.with_base_url(base);
        }
        Ok(config)
    }

    /// Sets the base URL (the part before `/v1beta`).
    #[must_use]
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the model (`gemini-2.5-flash`, or `models/gemini-2.5-flash`).
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// Sets the temperature (0 to 2).
    #[must_use]
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets `maxOutputTokens`.
    #[must_use]
    pub fn with_max_output_tokens(mut self, max: u32) -> Self {
        self.max_output_tokens = Some(max);
        self
    }

    /// Sets the timeouts.
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The model.
    #[must_use]
    pub fn model(&self) -> &str {
        &self.model
    }
}

/// The Gemini provider. Cloning is cheap (the HTTP client is shared).
#[derive(Clone)]
pub struct GeminiChat {
    client: reqwest::Client,
    url: url::Url,
    stream_url: url::Url,
    config: GeminiConfig,
}

impl fmt::Debug for GeminiChat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeminiChat")
            .field("url", &self.url.as_str())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl GeminiChat {
    /// A provider with its own HTTP client (using the configured connect timeout).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid base URL, model, key, temperature, limit or timeout.
    pub fn new(config: GeminiConfig) -> Result<Self, Error> {
        let client = http::default_client(&config.timeouts)?;
        Self::with_client(config, client)
    }

    /// A provider using the given HTTP client.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_client(config: GeminiConfig, client: reqwest::Client) -> Result<Self, Error> {
        let base = http::parse_base_url("Gemini base URL", &config.base_url)?;
        let model = config.model.trim();
        let model = model.strip_prefix("models/").unwrap_or(model);
        if model.is_empty() || model.contains('/') {
            return Err(Error::Config(format!(
                "Gemini model `{}` is not a model name",
                config.model
            )));
        }
        let endpoint = |method: &str| {
            let mut url = base.clone();
            url.path_segments_mut()
                .map_err(|()| Error::Config("Gemini base URL cannot be a base".into()))?
                .pop_if_empty()
                .extend(["v1beta", "models", &format!("{model}:{method}")]);
            Ok::<_, Error>(url)
        };
        let url = endpoint("generateContent")?;
        let mut stream_url = endpoint("streamGenerateContent")?;
        stream_url.query_pairs_mut().append_pair("alt", "sse");
        http::check_settings(
            P,
            config.temperature,
            "maxOutputTokens",
            config.max_output_tokens,
            &config.timeouts,
        )?;
        if config.api_key.expose_secret().is_empty()
            || HeaderValue::from_str(config.api_key.expose_secret()).is_err()
        {
            return Err(Error::Config(
                "the Gemini API key is empty or not a valid header value".into(),
            ));
        }
        Ok(Self {
            client,
            url,
            stream_url,
            config,
        })
    }

    /// The `generateContent` URL.
    #[must_use]
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The `streamGenerateContent?alt=sse` URL.
    #[must_use]
    pub fn stream_url(&self) -> &str {
        self.stream_url.as_str()
    }

    fn request(
        &self,
        messages: &[Message],
        stream: bool,
    ) -> Result<reqwest::RequestBuilder, Error> {
        let body = build_request(messages, &self.config)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-goog-api-key",
            http::secret_header(self.config.api_key.expose_secret())?,
        );
        let url = if stream {
            headers.insert("accept", HeaderValue::from_static("text/event-stream"));
            &self.stream_url
        } else {
            &self.url
        };
        Ok(self.client.post(url.clone()).headers(headers).json(&body))
    }
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct GenerateRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<SystemInstruction>,
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generation_config: Option<GenerationConfig>,
}

#[derive(Serialize, Debug)]
struct SystemInstruction {
    parts: Vec<OwnedPart>,
}

#[derive(Serialize, Debug)]
struct OwnedPart {
    text: String,
}

#[derive(Serialize, Debug)]
struct Content<'a> {
    role: &'static str,
    parts: Vec<Part<'a>>,
}

#[derive(Serialize, Debug)]
struct Part<'a> {
    text: &'a str,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
}

fn build_request<'a>(
    messages: &'a [Message],
    config: &GeminiConfig,
) -> Result<GenerateRequest<'a>, Error> {
    let system: Vec<&str> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let mut contents: Vec<Content<'a>> = Vec::new();
    for m in messages.iter().filter(|m| m.role != Role::System) {
        let role = if m.role == Role::User {
            "user"
        } else {
            "model"
        };
        match contents.last_mut() {
            // Consecutive messages of one role become parts of one content.
            Some(last) if last.role == role => last.parts.push(Part { text: &m.content }),
            _ => contents.push(Content {
                role,
                parts: vec![Part { text: &m.content }],
            }),
        }
    }
    if contents.is_empty() {
        return Err(Error::EmptyConversation);
    }
    let generation_config = (config.temperature.is_some() || config.max_output_tokens.is_some())
        .then_some(GenerationConfig {
            temperature: config.temperature,
            max_output_tokens: config.max_output_tokens,
        });
    Ok(GenerateRequest {
        system_instruction: (!system.is_empty()).then(|| SystemInstruction {
            parts: vec![OwnedPart {
                text: system.join("\n\n"),
            }],
        }),
        contents,
        generation_config,
    })
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<ResponseContent>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    finish_message: Option<String>,
}

#[derive(Deserialize, Debug)]
struct ResponseContent {
    #[serde(default)]
    parts: Vec<ResponsePart>,
}

#[derive(Deserialize, Debug)]
struct ResponsePart {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thought: Option<bool>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
    #[serde(default)]
    block_reason_message: Option<String>,
}

/// What one response (or one stream chunk) says.
struct Parsed {
    text: String,
    finish: Option<String>,
}

fn parse_response(value: GenerateResponse) -> Result<Parsed, Error> {
    if let Some(feedback) = value.prompt_feedback
        && let Some(reason) = feedback.block_reason
    {
        let reason = match feedback.block_reason_message {
            Some(m) => format!("prompt blocked: {reason}: {m}"),
            None => format!("prompt blocked: {reason}"),
        };
        return Err(Error::Refused {
            provider: P,
            reason,
        });
    }
    let Some(candidate) = value.candidates.into_iter().next() else {
        return Ok(Parsed {
            text: String::new(),
            finish: None,
        });
    };
    if let Some(reason) = &candidate.finish_reason
        && BLOCKING_FINISH_REASONS.contains(&reason.as_str())
    {
        let reason = match candidate.finish_message {
            Some(m) => format!("reply blocked: {reason}: {m}"),
            None => format!("reply blocked: {reason}"),
        };
        return Err(Error::Refused {
            provider: P,
            reason,
        });
    }
    let text = candidate
        .content
        .map(|c| {
            c.parts
                .into_iter()
                .filter(|p| p.thought != Some(true))
                .filter_map(|p| p.text)
                .collect::<String>()
        })
        .unwrap_or_default();
    Ok(Parsed {
        text,
        finish: candidate.finish_reason,
    })
}

fn finish_reason(reason: Option<String>) -> FinishReason {
    match reason.as_deref() {
        Some("STOP") => FinishReason::Stop,
        Some("MAX_TOKENS") => FinishReason::Length,
        _ => FinishReason::Other(reason.unwrap_or_default()),
    }
}

fn parse_reply(body: &[u8]) -> Result<Reply, Error> {
    let response: GenerateResponse = http::parse_json(P, "generateContent response", body)?;
    let has_candidates = !response.candidates.is_empty();
    let parsed = parse_response(response)?;
    if !has_candidates {
        return Err(Error::InvalidResponse {
            provider: P,
            reason: "no candidates in the response".into(),
            source: None,
        });
    }
    Ok(Reply::new(parsed.text, finish_reason(parsed.finish)))
}

#[derive(Default)]
struct GeminiStream {
    finished: bool,
}

impl StreamHandler for GeminiStream {
    fn on_event(&mut self, event: SseEvent) -> Result<Step, Error> {
        if event.data.trim().is_empty() {
            return Ok(Step::Text(String::new()));
        }
        let value: Value = http::parse_json(P, "stream chunk", event.data.as_bytes())?;
        if value.get("error").is_some() {
            let (code, message) = http::common_error_shape(&value).unwrap_or((None, event.data));
            return Err(Error::StreamEvent {
                provider: P,
                code,
                message,
            });
        }
        let response: GenerateResponse =
            serde_json::from_value(value).map_err(|e| Error::InvalidResponse {
                provider: P,
                reason: "stream chunk is not the documented JSON".into(),
                source: Some(Box::new(e)),
            })?;
        let parsed = parse_response(response)?;
        if parsed.finish.is_some() {
            self.finished = true;
        }
        Ok(Step::Text(parsed.text))
    }

    fn on_whole(&mut self, body: &[u8]) -> Result<String, Error> {
        parse_reply(body).map(|reply| reply.text)
    }

    fn on_end(&mut self) -> Result<(), Error> {
        if self.finished {
            Ok(())
        } else {
            Err(Error::Truncated { provider: P })
        }
    }
}

impl ChatModel for GeminiChat {
    fn provider(&self) -> Provider {
        P
    }

    fn reply<'a>(&'a self, messages: &'a [Message]) -> BoxFuture<'a, Result<Reply, Error>> {
        Box::pin(async move {
            let request = self.request(messages, false)?;
            let body = http::exchange(
                P,
                request,
                &self.config.timeouts,
                http::common_error_shape,
                Some(&self.config.api_key),
            )
            .await?;
            parse_reply(&body)
        })
    }

    fn reply_stream<'a>(&'a self, messages: &'a [Message]) -> TokenStream<'a> {
        http::sse_stream(
            P,
            self.request(messages, true),
            self.config.timeouts,
            http::common_error_shape,
            Some(&self.config.api_key),
            GeminiStream::default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls() {
        let chat =
            GeminiChat::new(GeminiConfig::new("k").with_model("models/gemini-2.0-flash")).unwrap();
        assert_eq!(
            chat.url(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"
        );
        assert_eq!(
            chat.stream_url(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
        );
        let proxied =
            GeminiChat::new(GeminiConfig::new("k").with_base_url("http://127.0.0.1:9/gemini"))
                .unwrap();
        assert_eq!(
            proxied.url(),
            "http://127.0.0.1:9/gemini/v1beta/models/gemini-2.5-flash:generateContent"
        );
    }

    #[test]
    fn invalid_configs() {
        for config in [
            GeminiConfig::new(""),
            GeminiConfig::new("k").with_model("a/b"),
            GeminiConfig::new("k").with_model(""),
            GeminiConfig::new("k").with_temperature(-1.0),
            GeminiConfig::new("k").with_max_output_tokens(0),
            GeminiConfig::new("k").with_base_url("generativelanguage.googleapis.com"),
        ] {
            assert!(matches!(GeminiChat::new(config), Err(Error::Config(_))));
        }
        let debug = format!(
            "{:?}",
            GeminiChat::new(GeminiConfig::new("AIza-secret")).unwrap()
        );
        assert!(!debug.contains("AIza-secret"));
    }

    #[test]
    fn request_shape() {
        let config = GeminiConfig::new("k").with_temperature(0.5);
        let messages = [
            Message::system("Be brief."),
            Message::assistant("שלום!"),
            Message::user("a"),
            Message::user("b"),
            Message::assistant("c"),
        ];
        let body = serde_json::to_value(build_request(&messages, &config).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "contents": [
                    {"role": "model", "parts": [{"text": "שלום!"}]},
                    {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
                    {"role": "model", "parts": [{"text": "c"}]}
                ],
                "generationConfig": {"temperature": 0.5}
            })
        );
        assert!(matches!(
            build_request(&[Message::system("x")], &config),
            Err(Error::EmptyConversation)
        ));
    }

    #[test]
    fn responses() {
        let ok = json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "thinking", "thought": true}, {"text": "שלום "}, {"text": "עולם"}]},
            "finishReason": "MAX_TOKENS", "index": 0}]});
        assert_eq!(
            parse_reply(ok.to_string().as_bytes()).unwrap(),
            Reply::new("שלום עולם", FinishReason::Length)
        );
        let blocked = json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}});
        let err = parse_reply(blocked.to_string().as_bytes()).unwrap_err();
        assert!(
            matches!(&err, Error::Refused { reason, .. } if reason == "prompt blocked: PROHIBITED_CONTENT")
        );
        assert!(matches!(
            parse_reply(br#"{"candidates": []}"#),
            Err(Error::InvalidResponse { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn untrusted_answers_never_panic(
            value in crate::test_support::arb_json(),
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128),
        ) {
            let text = value.to_string();
            let _ = parse_reply(text.as_bytes());
            let _ = parse_reply(&bytes);
            let mut handler = GeminiStream::default();
            let _ = handler.on_event(SseEvent { event: None, data: text, id: None });
            let _ = handler.on_end();
        }
    }
}
