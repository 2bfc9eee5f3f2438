//! The crate's error type.

use std::fmt;
use std::time::Duration;

/// A boxed error from a lower layer (HTTP client, JSON, TOML, regex).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which model provider an error (or a [`ChatModel`](crate::ChatModel)) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// OpenAI Chat Completions or an OpenAI-compatible server.
    OpenAi,
    /// Google Gemini (`generateContent`).
    Gemini,
    /// The offline [`ScriptedResponder`](crate::ScriptedResponder).
    Scripted,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpenAi => "OpenAI",
            Self::Gemini => "Gemini",
            Self::Scripted => "scripted responder",
        })
    }
}

/// Which of the request timeouts fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Opening the TCP/TLS connection.
    Connect,
    /// Waiting for the response headers after the request was sent.
    FirstByte,
    /// The whole exchange, request to last byte of the body.
    Whole,
    /// A stream stayed silent between two chunks for too long.
    Idle,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::FirstByte => "first-byte",
            Self::Whole => "whole-request",
            Self::Idle => "idle-stream",
        })
    }
}

/// Everything that can go wrong in this crate.
///
/// Every variant that comes from a provider names it; API errors carry the HTTP status and the
/// provider's own error message. No variant ever contains an API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The provider answered with an HTTP error status.
    #[error("{provider} API error (HTTP {status}): {message}")]
    Api {
        /// The provider.
        provider: Provider,
        /// The HTTP status code.
        status: u16,
        /// The provider's error code or status name (`invalid_api_key`, `RESOURCE_EXHAUSTED`…), if any.
        code: Option<String>,
        /// The provider's error message (API keys it may echo are redacted).
        message: String,
    },
    /// The provider sent an error event in the middle of a stream.
    #[error("{provider} stream error: {message}")]
    StreamEvent {
        /// The provider.
        provider: Provider,
        /// The provider's error code, if any.
        code: Option<String>,
        /// The provider's error message.
        message: String,
    },
    /// A timeout fired.
    #[error("{provider}: {phase} timeout ({after:?})")]
    Timeout {
        /// The provider.
        provider: Provider,
        /// Which timeout.
        phase: TimeoutPhase,
        /// The configured limit that was exceeded.
        after: Duration,
    },
    /// The request could not be sent or the connection failed.
    #[error("{provider}: request failed")]
    Transport {
        /// The provider.
        provider: Provider,
        /// The underlying HTTP client error.
        #[source]
        source: BoxError,
    },
    /// The provider answered with something that is not the documented shape.
    #[error("{provider}: invalid response: {reason}")]
    InvalidResponse {
        /// The provider.
        provider: Provider,
        /// What was wrong.
        reason: String,
        /// The parse error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// A stream ended before the provider signalled the end of the reply.
    #[error("{provider}: the stream ended before the reply was complete")]
    Truncated {
        /// The provider.
        provider: Provider,
    },
    /// The model refused to answer, or the provider blocked the prompt or the reply.
    #[error("{provider}: the model declined to answer ({reason})")]
    Refused {
        /// The provider.
        provider: Provider,
        /// The refusal text or the block/finish reason the provider gave.
        reason: String,
    },
    /// The conversation has nothing a model could answer (no user or assistant message).
    #[error("the conversation has no message to answer")]
    EmptyConversation,
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A scripted-responder rules file is invalid.
    #[error("invalid rules: {message}")]
    Rules {
        /// What is wrong, with the rule it concerns.
        message: String,
        /// The TOML or regex error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// The provider this error comes from, if it comes from one.
    #[must_use]
    pub fn provider(&self) -> Option<Provider> {
        match self {
            Self::Api { provider, .. }
            | Self::StreamEvent { provider, .. }
            | Self::Timeout { provider, .. }
            | Self::Transport { provider, .. }
            | Self::InvalidResponse { provider, .. }
            | Self::Truncated { provider }
            | Self::Refused { provider, .. } => Some(*provider),
            Self::EmptyConversation | Self::Config(_) | Self::Rules { .. } => None,
        }
    }

    /// The HTTP status of an [`Error::Api`].
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying the same request again later may succeed (rate limits, server errors,
    /// timeouts, connection failures, cut streams).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            Self::Timeout { .. } | Self::Transport { .. } | Self::Truncated { .. } => true,
            Self::StreamEvent { .. } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_names_provider_status_and_message() {
        let e = Error::Api {
            provider: Provider::Gemini,
            status: 429,
            code: Some("RESOURCE_EXHAUSTED".into()),
            message: "Quota exceeded".into(),
        };
        assert_eq!(e.to_string(), "Gemini API error (HTTP 429): Quota exceeded");
        assert!(e.is_retryable());
        assert_eq!(e.status(), Some(429));
        assert_eq!(e.provider(), Some(Provider::Gemini));
    }

    #[test]
    fn source_is_not_printed_twice() {
        let inner = std::io::Error::other("socket closed");
        let e = Error::Transport {
            provider: Provider::OpenAi,
            source: Box::new(inner),
        };
        assert_eq!(e.to_string(), "OpenAI: request failed");
        assert_eq!(
            e.source().map(ToString::to_string).as_deref(),
            Some("socket closed")
        );
    }
}
