//! OpenAI Chat Completions, and every server that speaks it (Ollama, vLLM, Azure OpenAI, Groq…).
//!
//! `POST {base}/chat/completions`, with `base` defaulting to `https://api.openai.com/v1` (what
//! `OPENAI_BASE_URL` means in OpenAI's SDKs). Streaming uses `stream: true` and reads the
//! `data: {chunk}` events up to `data: [DONE]`.

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
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

const P: Provider = Provider::OpenAi;

/// How the API key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthStyle {
    /// `Authorization: Bearer {key}` (OpenAI, Groq, vLLM, Ollama, Azure's v1 API with Entra tokens).
    #[default]
    Bearer,
    /// `api-key: {key}` (Azure OpenAI keys).
    ApiKeyHeader,
}

/// Which request field carries the token limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MaxTokensField {
    /// `max_completion_tokens` (current OpenAI API; required by reasoning models).
    #[default]
    MaxCompletionTokens,
    /// `max_tokens` (the deprecated field some older compatible servers still expect).
    MaxTokens,
}

/// Configuration of [`OpenAiChat`]. Setters take and return `self`; values are checked by
/// [`OpenAiChat::new`].
#[derive(Clone)]
pub struct OpenAiConfig {
    base_url: String,
    api_key: Option<SecretString>,
    auth: AuthStyle,
    api_version: Option<String>,
    model: String,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    max_tokens_field: MaxTokensField,
    timeouts: Timeouts,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("auth", &self.auth)
            .field("api_version", &self.api_version)
            .field("model", &self.model)
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .field("max_tokens_field", &self.max_tokens_field)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl Default for OpenAiConfig {
    /// `https://api.openai.com/v1`, `gpt-4o-mini`, no key, provider defaults for temperature
    /// and length, default [`Timeouts`].
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            auth: AuthStyle::Bearer,
            api_version: None,
            model: DEFAULT_MODEL.to_owned(),
            temperature: None,
            max_tokens: None,
            max_tokens_field: MaxTokensField::MaxCompletionTokens,
            timeouts: Timeouts::default(),
        }
    }
}

impl OpenAiConfig {
    /// The default configuration with an API key.
    #[must_use]
    pub fn new(api_key: impl Into<SecretString>) -> Self {
        Self::default().with_api_key(api_key)
    }

    /// From the environment: `OPENAI_API_KEY` (required unless `OPENAI_BASE_URL` points
    /// elsewhere than OpenAI, e.g. at a local Ollama) and `OPENAI_BASE_URL` (optional).
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing variable.
    pub fn from_env() -> Result<Self, Error> {
        let key = std::env::var("OPENAI_API_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        let base = std::env::var("OPENAI_BASE_URL")
            .ok()
            .filter(|b| !b.is_empty());
        let mut config = Self::default();
        if let Some(base) = base {
            config = config.with_base_url(base);
        } else if key.is_none() {
            return Err(Error::Config(
                "OPENAI_API_KEY is not set (set OPENAI_BASE_URL for a server without keys)".into(),
            ));
        }
        if let Some(key) = key {
            config = config.with_api_key(key);
        }
        Ok(config)
    }

    /// Azure OpenAI with a resource endpoint (`https://{resource}.openai.azure.com`), a deployment
    /// name, an API version (`?api-version=`) and a key sent in the `api-key` header. The
    /// deployment name is also sent as `model`.
    ///
    /// # Errors
    /// [`Error::Config`] if the endpoint is not an absolute http(s) URL or the deployment is empty.
    pub fn azure(
        endpoint: &str,
        deployment: &str,
        api_version: &str,
        api_key: impl Into<SecretString>,
    ) -> Result<Self, Error> {
        if deployment.trim().is_empty() {
            return Err(Error::Config("Azure deployment name is empty".into()));
        }
        let mut url = http::parse_base_url("Azure endpoint", endpoint)?;
        url.path_segments_mut()
            .map_err(|()| Error::Config("Azure endpoint cannot be a base URL".into()))?
            .pop_if_empty()
            .extend(["openai", "deployments", deployment]);
        Ok(Self::default()
            .with_base_url(url.as_str())
            .with_api_key(api_key)
            .with_auth(AuthStyle::ApiKeyHeader)
            .with_api_version(api_version)
            .with_model(deployment))
    }

    /// Sets the base URL (`…/v1` for OpenAI-compatible servers, e.g. `http://localhost:11434/v1`).
    #[must_use]
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the API key.
    #[must_use]
    pub fn with_api_key(mut self, key: impl Into<SecretString>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Sets how the key is sent.
    #[must_use]
    pub fn with_auth(mut self, auth: AuthStyle) -> Self {
        self.auth = auth;
        self
    }

    /// Adds `?api-version={version}` to every request (Azure OpenAI).
    #[must_use]
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Sets the model.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// Sets the sampling temperature (0 to 2).
    #[must_use]
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the token limit of a reply.
    #[must_use]
    pub fn with_max_tokens(mut self, max: u32) -> Self {
        self.max_tokens = Some(max);
        self
    }

    /// Sets which request field carries the token limit.
    #[must_use]
    pub fn with_max_tokens_field(mut self, field: MaxTokensField) -> Self {
        self.max_tokens_field = field;
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

    /// The timeouts.
    #[must_use]
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }
}

/// The OpenAI Chat Completions provider. Cloning is cheap (the HTTP client is shared).
#[derive(Clone)]
pub struct OpenAiChat {
    client: reqwest::Client,
    url: url::Url,
    config: OpenAiConfig,
}

impl fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiChat")
            .field("url", &self.url.as_str())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OpenAiChat {
    /// A provider with its own HTTP client (using the configured connect timeout).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid base URL, model, temperature, token limit or timeout.
    pub fn new(config: OpenAiConfig) -> Result<Self, Error> {
        let client = http::default_client(&config.timeouts)?;
        Self::with_client(config, client)
    }

    /// A provider using the given HTTP client (shared connection pool, proxies, TLS settings).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_client(config: OpenAiConfig, client: reqwest::Client) -> Result<Self, Error> {
        let base = http::parse_base_url("OpenAI base URL", &config.base_url)?;
        let mut url = base
            .join("chat/completions")
            .map_err(|e| Error::Config(format!("OpenAI base URL: {e}")))?;
        if let Some(version) = &config.api_version {
            if version.trim().is_empty() {
                return Err(Error::Config("api-version must not be empty".into()));
            }
            url.query_pairs_mut().append_pair("api-version", version);
        }
        if config.model.trim().is_empty() {
            return Err(Error::Config("OpenAI model must not be empty".into()));
        }
        http::check_settings(
            P,
            config.temperature,
            "max tokens",
            config.max_tokens,
            &config.timeouts,
        )?;
        if let Some(key) = &config.api_key
            && HeaderValue::from_str(key.expose_secret()).is_err()
        {
            return Err(Error::Config(
                "the OpenAI API key contains characters not allowed in a header".into(),
            ));
        }
        Ok(Self {
            client,
            url,
            config,
        })
    }

    /// The endpoint URL (`…/chat/completions[?api-version=…]`).
    #[must_use]
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    fn request(
        &self,
        messages: &[Message],
        stream: bool,
    ) -> Result<reqwest::RequestBuilder, Error> {
        if messages.is_empty() {
            return Err(Error::EmptyConversation);
        }
        let (max_completion_tokens, max_tokens) = match self.config.max_tokens_field {
            MaxTokensField::MaxCompletionTokens => (self.config.max_tokens, None),
            MaxTokensField::MaxTokens => (None, self.config.max_tokens),
        };
        let body = ChatRequest {
            model: &self.config.model,
            messages: messages
                .iter()
                .map(|m| WireMessage {
                    role: m.role,
                    content: &m.content,
                })
                .collect(),
            temperature: self.config.temperature,
            max_completion_tokens,
            max_tokens,
            stream,
        };
        let mut headers = HeaderMap::new();
        if let Some(key) = &self.config.api_key {
            let (name, value) = match self.config.auth {
                AuthStyle::Bearer => ("authorization", format!("Bearer {}", key.expose_secret())),
                AuthStyle::ApiKeyHeader => ("api-key", key.expose_secret().to_owned()),
            };
            headers.insert(name, http::secret_header(&value)?);
        }
        if stream {
            headers.insert("accept", HeaderValue::from_static("text/event-stream"));
        }
        Ok(self
            .client
            .post(self.url.clone())
            .headers(headers)
            .json(&body))
    }
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: Role,
    content: &'a str,
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ResponseMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

fn finish_reason(reason: Option<&str>) -> Result<FinishReason, Error> {
    match reason {
        Some("stop") => Ok(FinishReason::Stop),
        Some("length") => Ok(FinishReason::Length),
        Some("content_filter") => Err(Error::Refused {
            provider: P,
            reason: "content_filter".into(),
        }),
        Some(other) => Ok(FinishReason::Other(other.to_owned())),
        None => Ok(FinishReason::Other(String::new())),
    }
}

fn parse_reply(body: &[u8]) -> Result<Reply, Error> {
    let response: ChatResponse = http::parse_json(P, "chat completion", body)?;
    let Some(choice) = response.choices.into_iter().next() else {
        return Err(Error::InvalidResponse {
            provider: P,
            reason: "no choices in the response".into(),
            source: None,
        });
    };
    if let Some(refusal) = choice.message.refusal.filter(|r| !r.is_empty()) {
        return Err(Error::Refused {
            provider: P,
            reason: refusal,
        });
    }
    let finish = finish_reason(choice.finish_reason.as_deref())?;
    match choice.message.content {
        Some(text) => Ok(Reply::new(text, finish)),
        None => Err(Error::InvalidResponse {
            provider: P,
            reason: format!("the reply has no text (finish_reason {finish:?})"),
            source: None,
        }),
    }
}

fn stream_error(value: &Value) -> Option<Error> {
    value.get("error")?;
    let (code, message) = http::common_error_shape(value)?;
    Some(Error::StreamEvent {
        provider: P,
        code,
        message,
    })
}

#[derive(Default)]
struct OpenAiStream {
    finished: bool,
    refusal: String,
}

impl StreamHandler for OpenAiStream {
    fn on_event(&mut self, event: SseEvent) -> Result<Step, Error> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return self.end().map(|()| Step::Done);
        }
        if data.is_empty() {
            return Ok(Step::Text(String::new()));
        }
        if event.event.as_deref() == Some("error") {
            let value = serde_json::from_str::<Value>(data).unwrap_or(Value::Null);
            let (code, message) =
                http::common_error_shape(&value).unwrap_or_else(|| (None, data.to_owned()));
            return Err(Error::StreamEvent {
                provider: P,
                code,
                message,
            });
        }
        let value: Value = http::parse_json(P, "stream chunk", data.as_bytes())?;
        if let Some(e) = stream_error(&value) {
            return Err(e);
        }
        let chunk: Chunk = serde_json::from_value(value).map_err(|e| Error::InvalidResponse {
            provider: P,
            reason: "stream chunk is not the documented JSON".into(),
            source: Some(Box::new(e)),
        })?;
        let mut text = String::new();
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            let delta = choice.delta.unwrap_or_default();
            if let Some(r) = delta.refusal {
                self.refusal.push_str(&r);
            }
            if let Some(t) = delta.content {
                text.push_str(&t);
            }
            if let Some(reason) = choice.finish_reason {
                finish_reason(Some(&reason))?;
                self.finished = true;
            }
        }
        Ok(Step::Text(text))
    }

    fn on_whole(&mut self, body: &[u8]) -> Result<String, Error> {
        parse_reply(body).map(|reply| reply.text)
    }

    fn on_end(&mut self) -> Result<(), Error> {
        if !self.finished {
            return Err(Error::Truncated { provider: P });
        }
        self.end()
    }
}

impl OpenAiStream {
    fn end(&mut self) -> Result<(), Error> {
        if self.refusal.is_empty() {
            Ok(())
        } else {
            Err(Error::Refused {
                provider: P,
                reason: std::mem::take(&mut self.refusal),
            })
        }
    }
}

impl ChatModel for OpenAiChat {
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
                self.config.api_key.as_ref(),
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
            self.config.api_key.as_ref(),
            OpenAiStream::default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let chat = OpenAiChat::new(OpenAiConfig::new("k")).unwrap();
        assert_eq!(chat.url(), "https://api.openai.com/v1/chat/completions");
        let chat =
            OpenAiChat::new(OpenAiConfig::default().with_base_url("http://localhost:11434/v1/"))
                .unwrap();
        assert_eq!(chat.url(), "http://localhost:11434/v1/chat/completions");
        let azure =
            OpenAiConfig::azure("https://res.openai.azure.com/", "my dep", "2024-10-21", "k")
                .unwrap();
        let chat = OpenAiChat::new(azure).unwrap();
        assert_eq!(
            chat.url(),
            "https://res.openai.azure.com/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21"
        );
    }

    #[test]
    fn invalid_configs() {
        for config in [
            OpenAiConfig::default().with_base_url("api.openai.com"),
            OpenAiConfig::default().with_model(" "),
            OpenAiConfig::default().with_temperature(2.5),
            OpenAiConfig::default().with_max_tokens(0),
            OpenAiConfig::default().with_api_key("bad\nkey"),
            OpenAiConfig::default().with_api_version(""),
        ] {
            assert!(matches!(OpenAiChat::new(config), Err(Error::Config(_))));
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let chat = OpenAiChat::new(OpenAiConfig::new("sk-very-secret")).unwrap();
        let debug = format!("{chat:?}");
        assert!(!debug.contains("sk-very-secret"), "{debug}");
        assert!(debug.contains("REDACTED"));
    }

    #[test]
    fn request_body_fields() {
        let chat = OpenAiChat::new(
            OpenAiConfig::new("k")
                .with_max_tokens(50)
                .with_max_tokens_field(MaxTokensField::MaxTokens),
        )
        .unwrap();
        let req = chat
            .request(&[Message::user("hi")], true)
            .unwrap()
            .build()
            .unwrap();
        let body: Value = serde_json::from_slice(req.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(body["max_tokens"], 50);
        assert!(body.get("max_completion_tokens").is_none());
        assert_eq!(body["stream"], true);
        assert!(matches!(
            chat.request(&[], false),
            Err(Error::EmptyConversation)
        ));
    }

    #[test]
    fn reply_parsing() {
        let ok = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"hi","refusal":null},"finish_reason":"length","logprobs":null}]}"#;
        assert_eq!(
            parse_reply(ok).unwrap(),
            Reply::new("hi", FinishReason::Length)
        );
        assert!(matches!(
            parse_reply(br#"{"choices":[]}"#),
            Err(Error::InvalidResponse { .. })
        ));
        assert!(matches!(
            parse_reply(
                br#"{"choices":[{"message":{"content":null},"finish_reason":"tool_calls"}]}"#
            ),
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
            let mut handler = OpenAiStream::default();
            let _ = handler.on_event(SseEvent { event: None, data: text, id: None });
            let _ = handler.on_event(SseEvent {
                event: Some("error".into()),
                data: String::from_utf8_lossy(&bytes).into_owned(),
                id: None,
            });
            let _ = handler.on_end();
            let _ = http::common_error_shape(&value);
        }
    }

    #[test]
    fn error_events_and_empty_data() {
        let mut h = OpenAiStream::default();
        assert!(matches!(
            h.on_event(SseEvent { event: None, data: String::new(), id: None }),
            Ok(Step::Text(t)) if t.is_empty()
        ));
        let err = h
            .on_event(SseEvent {
                event: Some("error".into()),
                data: "upstream overloaded".into(),
                id: None,
            })
            .err()
            .unwrap();
        assert!(
            matches!(&err, Error::StreamEvent { code: None, message, .. } if message == "upstream overloaded")
        );
        let err = h
            .on_event(SseEvent {
                event: Some("error".into()),
                data: r#"{"error":{"message":"overloaded","type":"server_error"}}"#.into(),
                id: None,
            })
            .err()
            .unwrap();
        assert!(
            matches!(&err, Error::StreamEvent { code: Some(c), message, .. } if c == "server_error" && message == "overloaded")
        );
    }
}
