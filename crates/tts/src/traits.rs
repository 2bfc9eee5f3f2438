//! The provider traits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;

use crate::{Error, SpeechAudio, SpeechRequest};

/// A boxed, `Send` future (what the trait methods return, so the traits stay object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A stream of 8 kHz μ-law chunks, in order; an `Err` item ends it.
pub type AudioStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send + 'static>>;

/// Turns text into 8 kHz μ-law audio for the phone.
///
/// Object-safe and `Send + Sync`: hold providers as `Arc<dyn TextToSpeech>` and choose them by
/// configuration. Implementations must be cancel-safe: dropping the future abandons the work
/// (HTTP requests are dropped, child processes killed) without leaving shared state broken.
pub trait TextToSpeech: Send + Sync {
    /// A short name of the provider (`"google"`, `"openai"`, `"elevenlabs"`, `"espeak-ng"`).
    fn provider(&self) -> &str;

    /// The voice this provider uses for `request` (the request's, or the provider's default).
    /// Part of the [`CachedTts`](crate::CachedTts) key.
    fn voice_for(&self, request: &SpeechRequest) -> String {
        request.voice().unwrap_or("default").to_owned()
    }

    /// Settings other than the voice that change the audio (model, encoding…), as a string.
    /// Part of the [`CachedTts`](crate::CachedTts) key; empty by default.
    fn settings(&self) -> String {
        String::new()
    }

    /// Synthesizes the whole text.
    fn synthesize<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechAudio, Error>>;
}

/// A provider that can deliver audio while it is still being synthesized.
///
/// The future resolves once the provider has accepted the request (so HTTP errors surface
/// there); the stream then yields μ-law chunks of any size as they arrive. A stream that
/// breaks off yields an error item and ends.
pub trait StreamingTextToSpeech: TextToSpeech {
    /// Starts synthesizing and returns the audio as a stream.
    fn synthesize_stream<'a>(
        &'a self,
        request: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<AudioStream, Error>>;
}

/// Implements the traits for smart pointers and references by forwarding to the pointee.
macro_rules! forward {
    (TextToSpeech for $($ty:ty),+) => {$(
        impl<T: TextToSpeech + ?Sized> TextToSpeech for $ty {
            fn provider(&self) -> &str {
                (**self).provider()
            }
            fn voice_for(&self, request: &SpeechRequest) -> String {
                (**self).voice_for(request)
            }
            fn settings(&self) -> String {
                (**self).settings()
            }
            fn synthesize<'a>(
                &'a self,
                request: &'a SpeechRequest,
            ) -> BoxFuture<'a, Result<SpeechAudio, Error>> {
                (**self).synthesize(request)
            }
        }
    )+};
    (StreamingTextToSpeech for $($ty:ty),+) => {$(
        impl<T: StreamingTextToSpeech + ?Sized> StreamingTextToSpeech for $ty {
            fn synthesize_stream<'a>(
                &'a self,
                request: &'a SpeechRequest,
            ) -> BoxFuture<'a, Result<AudioStream, Error>> {
                (**self).synthesize_stream(request)
            }
        }
    )+};
}

forward!(TextToSpeech for &T, Arc<T>, Box<T>);
forward!(StreamingTextToSpeech for Arc<T>, Box<T>);

/// Collects a whole [`AudioStream`] into one [`SpeechAudio`].
///
/// # Errors
///
/// The first error item of the stream.
pub async fn collect_stream(mut stream: AudioStream) -> Result<SpeechAudio, Error> {
    use futures_util::StreamExt as _;
    let mut all = Vec::new();
    while let Some(chunk) = stream.next().await {
        all.extend_from_slice(&chunk?);
    }
    Ok(SpeechAudio::from_mulaw(all))
}
