#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod audio;
mod cache;
mod error;
mod request;
mod support;
mod traits;

#[cfg(feature = "elevenlabs")]
mod elevenlabs;
#[cfg(feature = "espeak")]
mod espeak;
#[cfg(feature = "google")]
mod google;
#[cfg(feature = "openai")]
mod openai;

pub use audio::{PHONE_SAMPLE_RATE, SpeechAudio};
pub use cache::CachedTts;
pub use error::Error;
pub use request::{Language, MAX_SPEAKING_RATE, MAX_TEXT_CHARS, MIN_SPEAKING_RATE, SpeechRequest};
pub use traits::{AudioStream, BoxFuture, StreamingTextToSpeech, TextToSpeech, collect_stream};

#[cfg(feature = "elevenlabs")]
pub use elevenlabs::{ElevenLabsTts, VoiceSettings};
#[cfg(feature = "espeak")]
pub use espeak::EspeakTts;
#[cfg(feature = "google")]
pub use google::{GoogleEncoding, GoogleTts};
/// Re-exported so that users of [`GoogleTts`] need no direct dependency.
#[cfg(feature = "google")]
pub use kav_google_auth as google_auth;
#[cfg(feature = "openai")]
pub use openai::{OpenAiFormat, OpenAiTts};
/// Re-exported for API keys.
pub use secrecy::SecretString;
