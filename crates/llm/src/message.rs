//! Messages, roles and replies.

use serde::{Deserialize, Serialize};

/// Who wrote a message. Serialized as `"system"`, `"user"`, `"assistant"` (the OpenAI names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model (the system prompt).
    System,
    /// The caller.
    User,
    /// The agent (the model's earlier replies, or a greeting).
    Assistant,
}

impl Role {
    /// The wire name (`system`, `user`, `assistant`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub content: String,
}

impl Message {
    /// A message with the given role.
    #[must_use]
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }

    /// A system message.
    #[must_use]
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user (caller) message.
    #[must_use]
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant (agent) message.
    #[must_use]
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// Why the model stopped writing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FinishReason {
    /// A natural end (OpenAI `stop`, Gemini `STOP`).
    Stop,
    /// The token limit was reached: the reply is cut short (OpenAI `length`, Gemini `MAX_TOKENS`).
    Length,
    /// Another reason the provider gave, verbatim (empty when it gave none).
    Other(String),
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// The text of the reply.
    pub text: String,
    /// Why the model stopped.
    pub finish: FinishReason,
}

impl Reply {
    /// A reply with the given text and finish reason.
    #[must_use]
    pub fn new(text: impl Into<String>, finish: FinishReason) -> Self {
        Self {
            text: text.into(),
            finish,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_serialize_lowercase() {
        let m = Message::assistant("שלום");
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"role":"assistant","content":"שלום"}"#
        );
        let back: Message = serde_json::from_str(r#"{"role":"system","content":"x"}"#).unwrap();
        assert_eq!(back, Message::system("x"));
        assert!(serde_json::from_str::<Role>(r#""developer""#).is_err());
        assert_eq!(Role::User.as_str(), "user");
    }
}
