//! The batch speech-to-text trait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{AudioClip, Error, Provider, Transcript};

/// A boxed, `Send` future: what the object-safe traits of this crate return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Transcribes a whole clip (one caller turn, one recording) in one request.
///
/// Object-safe and `Send + Sync`: keep one as `Arc<dyn SpeechToText>` and share it between calls.
/// Implemented for `Arc<dyn SpeechToText>`, `Box<dyn SpeechToText>` and `&T`.
///
/// Implementations must be cancel-safe: dropping the returned future abandons the request
/// without leaving shared state behind, and the value stays usable.
///
/// ```
/// use std::sync::Arc;
/// use kav_stt::{AudioClip, BoxFuture, Error, Provider, SpeechToText, Transcript};
///
/// /// A provider that always hears the same words (e.g. for a scripted test call).
/// struct Fixed(&'static str);
///
/// impl SpeechToText for Fixed {
///     fn provider(&self) -> Provider {
///         Provider::Other("fixed")
///     }
///     fn transcribe<'a>(&'a self, clip: &'a AudioClip) -> BoxFuture<'a, Result<Transcript, Error>> {
///         Box::pin(async move {
///             Ok(Transcript::new(self.provider(), self.0).with_duration(clip.duration()))
///         })
///     }
/// }
///
/// # fn main() {
/// let stt: Arc<dyn SpeechToText> = Arc::new(Fixed("שלום"));
/// let clip = AudioClip::mulaw_8k(vec![0xFF; 800]);
/// let fut = stt.transcribe(&clip); // a `Send` future, ready for any executor
/// # drop(fut);
/// # }
/// ```
pub trait SpeechToText: Send + Sync {
    /// Which provider this is (for logs and errors).
    fn provider(&self) -> Provider;

    /// Transcribes `clip`.
    ///
    /// # Errors
    ///
    /// Any [`Error`]: an unusable clip, the provider's refusal, a timeout, a transport failure.
    fn transcribe<'a>(&'a self, clip: &'a AudioClip) -> BoxFuture<'a, Result<Transcript, Error>>;
}

impl<T: SpeechToText + ?Sized> SpeechToText for Arc<T> {
    fn provider(&self) -> Provider {
        (**self).provider()
    }
    fn transcribe<'a>(&'a self, clip: &'a AudioClip) -> BoxFuture<'a, Result<Transcript, Error>> {
        (**self).transcribe(clip)
    }
}

impl<T: SpeechToText + ?Sized> SpeechToText for Box<T> {
    fn provider(&self) -> Provider {
        (**self).provider()
    }
    fn transcribe<'a>(&'a self, clip: &'a AudioClip) -> BoxFuture<'a, Result<Transcript, Error>> {
        (**self).transcribe(clip)
    }
}

impl<T: SpeechToText + ?Sized> SpeechToText for &T {
    fn provider(&self) -> Provider {
        (**self).provider()
    }
    fn transcribe<'a>(&'a self, clip: &'a AudioClip) -> BoxFuture<'a, Result<Transcript, Error>> {
        (**self).transcribe(clip)
    }
}
