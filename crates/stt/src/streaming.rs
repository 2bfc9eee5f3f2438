//! The streaming speech-to-text traits: push audio as it arrives, receive partial and final
//! results while the caller is still speaking.
//!
//! No provider of this crate implements streaming yet; the traits fix the contract that the
//! turn engine (`stream` mode) and future providers (Google `StreamingRecognize`, OpenAI
//! Realtime transcription sessions, …) meet.
//!
//! A session has two halves that can live in different tasks:
//! [`StreamingSession::audio`] (an [`AudioSink`]) takes chunks, typically Twilio's 20 ms μ-law
//! frames, and [`StreamingSession::events`] (an [`EventSource`]) yields [`StreamingEvent`]s.
//!
//! The contract every implementation keeps:
//! - chunks have the [`StreamFormat`] the session was started with, or
//!   [`AudioSink::send`] fails with [`Error::Stream`];
//! - [`AudioSink::send`] waits when the provider cannot take more audio (back-pressure) and never
//!   buffers without bound; dropping its future before it completes may or may not have sent the
//!   chunk, and leaves the session usable;
//! - for each utterance, zero or more [`StreamingEvent::Partial`]s come before its one
//!   [`StreamingEvent::Final`]; finals never overlap and come in audio order;
//! - [`AudioSink::finish`] says no more audio will come: the provider finalizes what it heard, the
//!   remaining events are delivered, then [`EventSource::next_event`] returns `None`;
//! - dropping the [`AudioSink`] without `finish` aborts the session: the event source ends
//!   (possibly with an [`Error::Stream`]) without waiting for finals;
//! - dropping the [`EventSource`] discards further events; sending audio may then fail;
//! - [`EventSource::next_event`] is cancel-safe: dropping its future loses no event.

use std::sync::Arc;
use std::time::Duration;

use crate::clip::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
use crate::{AudioClip, BoxFuture, Encoding, Error, Provider, Transcript};

/// The audio format of a streaming session, fixed for its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamFormat {
    encoding: Encoding,
    sample_rate: u32,
}

impl StreamFormat {
    /// 8 kHz μ-law: what Twilio Media Streams carry.
    pub const MULAW_8K: Self = Self {
        encoding: Encoding::Mulaw,
        sample_rate: 8_000,
    };

    /// A format with `encoding` at `sample_rate` Hz.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidClip`] when the rate is outside 8 000..=48 000 Hz.
    pub fn new(encoding: Encoding, sample_rate: u32) -> Result<Self, Error> {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(Error::InvalidClip(format!(
                "sample rate {sample_rate} Hz is outside {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz"
            )));
        }
        Ok(Self {
            encoding,
            sample_rate,
        })
    }

    /// The encoding of every chunk.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The sample rate of every chunk, in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Whether `chunk` has this format.
    pub fn matches(&self, chunk: &AudioClip) -> bool {
        chunk.encoding() == self.encoding && chunk.sample_rate() == self.sample_rate
    }
}

/// How a streaming session is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    format: StreamFormat,
    interim_results: bool,
}

impl StreamConfig {
    /// A session taking audio in `format`, with interim results on.
    pub fn new(format: StreamFormat) -> Self {
        Self {
            format,
            interim_results: true,
        }
    }

    /// Whether to deliver [`StreamingEvent::Partial`]s (default `true`).
    #[must_use]
    pub fn with_interim_results(mut self, on: bool) -> Self {
        self.interim_results = on;
        self
    }

    /// The audio format.
    pub fn format(&self) -> StreamFormat {
        self.format
    }

    /// Whether partial results are wanted.
    pub fn interim_results(&self) -> bool {
        self.interim_results
    }
}

/// A not-yet-final hypothesis of what is being said.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PartialTranscript {
    /// The text heard so far in the current utterance; later partials replace earlier ones.
    pub text: String,
    /// How likely the text is to stay as it is (0..=1), when the provider says.
    pub stability: Option<f64>,
}

impl PartialTranscript {
    /// A partial result.
    pub fn new(text: impl Into<String>, stability: Option<f64>) -> Self {
        Self {
            text: text.into(),
            stability,
        }
    }
}

/// What a streaming session reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamingEvent {
    /// The provider heard speech begin, at this offset from the first chunk.
    SpeechStarted {
        /// Offset from the start of the session's audio.
        at: Duration,
    },
    /// The provider heard speech end, at this offset from the first chunk.
    SpeechEnded {
        /// Offset from the start of the session's audio.
        at: Duration,
    },
    /// A hypothesis for the current utterance; replaces the previous partial.
    Partial(PartialTranscript),
    /// The final transcript of one utterance.
    Final(Transcript),
}

/// The audio half of a streaming session.
pub trait AudioSink: Send {
    /// Sends one chunk (in the session's [`StreamFormat`]). Waits while the provider cannot take
    /// more audio.
    ///
    /// # Errors
    ///
    /// [`Error::Stream`] when the chunk has another format or the session has ended; transport
    /// errors of the provider.
    fn send(&mut self, chunk: AudioClip) -> BoxFuture<'_, Result<(), Error>>;

    /// Says that no more audio will come; the provider finalizes what it heard and the event
    /// source ends after the last final.
    ///
    /// # Errors
    ///
    /// Transport errors of the provider.
    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>>;
}

/// The result half of a streaming session.
pub trait EventSource: Send {
    /// The next event, or `None` once the session has ended. Cancel-safe.
    fn next_event(&mut self) -> BoxFuture<'_, Option<Result<StreamingEvent, Error>>>;
}

impl<T: AudioSink + ?Sized> AudioSink for Box<T> {
    fn send(&mut self, chunk: AudioClip) -> BoxFuture<'_, Result<(), Error>> {
        (**self).send(chunk)
    }
    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        (*self).finish()
    }
}

impl<T: EventSource + ?Sized> EventSource for Box<T> {
    fn next_event(&mut self) -> BoxFuture<'_, Option<Result<StreamingEvent, Error>>> {
        (**self).next_event()
    }
}

/// An open streaming session: its two halves.
#[non_exhaustive]
pub struct StreamingSession {
    /// Where audio goes.
    pub audio: Box<dyn AudioSink>,
    /// Where results come from.
    pub events: Box<dyn EventSource>,
}

impl StreamingSession {
    /// A session from its two halves.
    pub fn new(audio: Box<dyn AudioSink>, events: Box<dyn EventSource>) -> Self {
        Self { audio, events }
    }
}

impl std::fmt::Debug for StreamingSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingSession").finish_non_exhaustive()
    }
}

/// A speech-to-text service that transcribes audio while it is still arriving.
///
/// Object-safe and `Send + Sync`; implemented for `Arc<dyn StreamingSpeechToText>` and
/// `Box<dyn StreamingSpeechToText>`. See the [module documentation](self) for the contract.
pub trait StreamingSpeechToText: Send + Sync {
    /// Which provider this is (for logs and errors).
    fn provider(&self) -> Provider;

    /// Opens a session.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the provider cannot take this format; connection, authentication
    /// and provider errors.
    fn start(&self, config: StreamConfig) -> BoxFuture<'_, Result<StreamingSession, Error>>;
}

impl<T: StreamingSpeechToText + ?Sized> StreamingSpeechToText for Arc<T> {
    fn provider(&self) -> Provider {
        (**self).provider()
    }
    fn start(&self, config: StreamConfig) -> BoxFuture<'_, Result<StreamingSession, Error>> {
        (**self).start(config)
    }
}

impl<T: StreamingSpeechToText + ?Sized> StreamingSpeechToText for Box<T> {
    fn provider(&self) -> Provider {
        (**self).provider()
    }
    fn start(&self, config: StreamConfig) -> BoxFuture<'_, Result<StreamingSession, Error>> {
        (**self).start(config)
    }
}
