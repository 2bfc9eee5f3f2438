#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clip;
mod error;
mod guard;
pub mod streaming;
mod traits;
mod transcript;

#[cfg(feature = "google")]
mod google;
#[cfg(any(feature = "openai", feature = "google"))]
mod http;
#[cfg(feature = "openai")]
mod openai;

/// The voice activity detector settings [`SpeechGuard::with_vad`] takes (from kav-audio-codec).
pub use kav_audio_codec::vad::VadConfig;

pub use clip::{AudioClip, Encoding, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, Samples};
pub use error::{BoxError, Error, Provider};
pub use guard::{
    DEFAULT_HALLUCINATIONS, Guarded, GuardedTranscript, Levels, NoSpeechReason, SILENCE_DBFS,
    SpeechGuard, Verdict, measure, normalize_text,
};
pub use streaming::StreamingSpeechToText;
pub use traits::{BoxFuture, SpeechToText};
pub use transcript::{Language, LanguageSource, Segment, Transcript};

#[cfg(feature = "google")]
pub use google::{
    GOOGLE_DEFAULT_BASE_URL, GOOGLE_MAX_CONTENT_BYTES, GOOGLE_MAX_SYNC_AUDIO, GoogleStt,
};
#[cfg(feature = "openai")]
pub use openai::{OPENAI_DEFAULT_BASE_URL, OPENAI_MAX_FILE_BYTES, OpenAiModel, OpenAiStt};
