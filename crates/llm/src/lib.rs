#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod chat;
mod conversation;
mod error;
mod message;
mod scripted;
pub mod sse;

#[cfg(feature = "http-client")]
mod http;
#[cfg(feature = "http-client")]
pub use http::Timeouts;

#[cfg(feature = "gemini")]
#[cfg_attr(docsrs, doc(cfg(feature = "gemini")))]
pub mod gemini;
#[cfg(feature = "openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
pub mod openai;

pub use chat::{ChatModel, TokenStream};
pub use conversation::{Conversation, ConversationConfig, SizeBudget, approx_tokens};
pub use error::{BoxError, Error, Provider, TimeoutPhase};
pub use message::{FinishReason, Message, Reply, Role};
pub use scripted::{DEFAULT_RULES, ScriptedResponder};

/// Re-exported so callers can build API keys without depending on `secrecy` themselves.
pub use secrecy::SecretString;

#[cfg(all(test, feature = "http-client"))]
mod test_support {
    use proptest::prelude::*;
    use serde_json::Value;

    /// Arbitrary JSON, biased towards the keys the providers read.
    pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("choices".to_owned()),
            Just("message".to_owned()),
            Just("delta".to_owned()),
            Just("content".to_owned()),
            Just("refusal".to_owned()),
            Just("finish_reason".to_owned()),
            Just("index".to_owned()),
            Just("error".to_owned()),
            Just("candidates".to_owned()),
            Just("parts".to_owned()),
            Just("text".to_owned()),
            Just("thought".to_owned()),
            Just("finishReason".to_owned()),
            Just("promptFeedback".to_owned()),
            Just("blockReason".to_owned()),
            "[a-z]{1,6}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop_oneof![
                Just("stop".to_owned()),
                Just("STOP".to_owned()),
                Just("SAFETY".to_owned()),
                ".{0,8}"
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
