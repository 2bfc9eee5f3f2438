//! The per-stream state machine.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use kav_audio_codec::{ULAW_SILENCE, ulaw_decode_into, ulaw_encode_into};

use crate::message::{DtmfDigit, InboundMessage, Start, Track};
use crate::{CallSid, Error, OutboundMessage, StreamSid};

/// Samples per second of every Twilio media stream.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples (and μ-law bytes) in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;
/// The duration of one frame.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);

/// Prefix of the names of the marks the state machine places itself; user marks may not use it.
pub(crate) const AUTO_MARK_PREFIX: &str = "kav:";

/// Settings of a [`MediaStream`].
///
/// ```
/// use std::time::Duration;
/// use kav_media_stream::Config;
///
/// let config = Config::default()
///     .with_lead(Duration::from_millis(60))
///     .with_mark_interval(10)
///     .with_inbound_capacity(8000);
/// assert_eq!(config.lead(), Duration::from_millis(60));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    lead: Duration,
    mark_interval: u32,
    inbound_capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lead: Duration::from_millis(100),
            mark_interval: 5,
            inbound_capacity: SAMPLE_RATE as usize * 2,
        }
    }
}

impl Config {
    /// How far ahead of real time outbound audio may be sent: Twilio's buffer never holds more
    /// than this (default 100 ms). A smaller lead makes `clear` cut sooner but needs a steadier
    /// network. Values below one frame (20 ms) are raised to one frame.
    pub fn with_lead(mut self, lead: Duration) -> Self {
        self.lead = lead.max(FRAME_DURATION);
        self
    }

    /// Place a mark after this many frames at most (default 5, i.e. every 100 ms), so that what
    /// the caller has heard is confirmed at that granularity. A mark is also placed at the end of
    /// every utterance, and when the queue has stayed dry for a frame after Twilio has (by the
    /// model) played everything sent. `0` is treated as 1.
    pub fn with_mark_interval(mut self, frames: u32) -> Self {
        self.mark_interval = frames.max(1);
        self
    }

    /// How many decoded inbound samples are kept for [`MediaStream::read_audio`] before the oldest
    /// are dropped (default 16 000, two seconds).
    pub fn with_inbound_capacity(mut self, samples: usize) -> Self {
        self.inbound_capacity = samples;
        self
    }

    /// See [`Config::with_lead`].
    pub fn lead(&self) -> Duration {
        self.lead
    }

    /// See [`Config::with_mark_interval`].
    pub fn mark_interval(&self) -> u32 {
        self.mark_interval
    }

    /// See [`Config::with_inbound_capacity`].
    pub fn inbound_capacity(&self) -> usize {
        self.inbound_capacity
    }
}

/// Identifies one utterance: a run of outbound audio queued between two
/// [`MediaStream::finish_utterance`] calls (or a `clear`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtteranceId(u64);

impl UtteranceId {
    /// The utterance's number: 0 for the first of the stream, then +1.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for UtteranceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "utterance {}", self.0)
    }
}

/// How much of an utterance has been played to the caller: its first `samples` samples.
///
/// Positions order by utterance, then by sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlaybackPosition {
    /// The utterance.
    pub utterance: UtteranceId,
    /// Samples of it played (8000 per second; silence padding not counted).
    pub samples: u64,
}

impl PlaybackPosition {
    /// The played part of the utterance in milliseconds (rounded down).
    pub fn millis(&self) -> u64 {
        self.samples / (u64::from(SAMPLE_RATE) / 1000)
    }

    /// The played part of the utterance as a duration.
    pub fn duration(&self) -> Duration {
        // 125 µs per sample at 8 kHz.
        Duration::from_micros(
            self.samples
                .saturating_mul(1_000_000 / u64::from(SAMPLE_RATE)),
        )
    }
}

/// Something that happened on the stream, returned by [`MediaStream::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `connected` arrived.
    Connected {
        /// `protocol`.
        protocol: String,
        /// `version`.
        version: String,
    },
    /// `start` arrived; the metadata is in [`MediaStream::metadata`].
    Started {
        /// The stream.
        stream_sid: StreamSid,
        /// The call.
        call_sid: CallSid,
    },
    /// The caller pressed a key.
    Dtmf(DtmfDigit),
    /// Twilio confirmed that the audio queued before this mark (see [`MediaStream::push_mark`])
    /// has been played.
    MarkPlayed {
        /// The mark's name.
        name: String,
    },
    /// The audio before this mark was dropped by [`MediaStream::clear`] before being played.
    MarkCleared {
        /// The mark's name.
        name: String,
    },
    /// Twilio confirmed that the whole utterance has been played.
    UtterancePlayed {
        /// The utterance.
        utterance: UtteranceId,
        /// Its length in samples.
        samples: u64,
    },
    /// Twilio returned a mark this state machine did not send.
    UnknownMark {
        /// The mark's name.
        name: String,
    },
    /// A `sequenceNumber` was not the one expected (messages lost, repeated or reordered). The
    /// message itself was processed.
    SequenceGap {
        /// The number expected (one more than the highest seen).
        expected: u64,
        /// The number received.
        received: u64,
    },
    /// Inbound audio was not read in time and the oldest samples were dropped.
    InboundOverflow {
        /// How many samples were dropped.
        dropped_samples: usize,
    },
    /// `stop` arrived: the stream is over. Queued audio is dropped (user marks still queued are
    /// reported as [`Event::MarkCleared`] just before); marks already sent and not yet returned
    /// are not reported.
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingStart,
    Started,
    Stopped,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::AwaitingStart => "awaiting start",
            Phase::Started => "started",
            Phase::Stopped => "stopped",
        }
    }
}

/// One 20 ms frame waiting to be sent.
#[derive(Debug)]
struct Frame {
    data: [u8; FRAME_SAMPLES],
    utterance: UtteranceId,
    /// Position of the frame's first sample in its utterance.
    start_sample: u64,
    /// Samples of audio in the frame (the rest is silence padding).
    samples: u16,
}

impl Frame {
    fn end(&self) -> PlaybackPosition {
        PlaybackPosition {
            utterance: self.utterance,
            samples: self.start_sample + u64::from(self.samples),
        }
    }
}

#[derive(Debug)]
enum Item {
    Frame(Frame),
    UserMark(String),
    UtteranceEnd(PlaybackPosition),
}

#[derive(Debug, PartialEq, Eq)]
enum MarkName {
    Auto(u64),
    User(String),
}

impl MarkName {
    fn matches(&self, name: &str) -> bool {
        match self {
            MarkName::User(n) => n == name,
            MarkName::Auto(k) => {
                name.strip_prefix(AUTO_MARK_PREFIX)
                    .and_then(|rest| rest.parse::<u64>().ok())
                    == Some(*k)
            }
        }
    }
}

/// A mark sent to Twilio and not yet returned.
#[derive(Debug)]
struct PendingMark {
    name: MarkName,
    /// What has been played once Twilio returns this mark.
    position: Option<PlaybackPosition>,
    /// Set when the mark ends an utterance.
    utterance_end: bool,
    /// When our model says the audio before the mark finishes playing.
    play_end: Instant,
    /// Set when a `clear` dropped the audio before the mark.
    cleared: bool,
}

/// A frame handed out and, according to our model of Twilio's player, not yet fully played.
#[derive(Debug)]
struct InFlight {
    start: Instant,
    utterance: UtteranceId,
    start_sample: u64,
    samples: u16,
}

/// The utterance audio is currently appended to.
#[derive(Debug)]
struct Current {
    id: UtteranceId,
    /// Samples queued so far (including those in `partial`).
    samples: u64,
    partial: [u8; FRAME_SAMPLES],
    partial_len: usize,
    /// User marks pushed while `partial` held audio: they follow the frame `partial` becomes.
    deferred_marks: Vec<String>,
}

/// The protocol state of one Twilio media stream, with no I/O and no clock.
///
/// Feed it what Twilio sends ([`handle_text`](Self::handle_text) /
/// [`handle_message`](Self::handle_message)) and the audio to play
/// ([`push_ulaw`](Self::push_ulaw) / [`push_pcm`](Self::push_pcm)); send what
/// [`poll_transmit`](Self::poll_transmit) returns; read what happened with
/// [`poll_event`](Self::poll_event) and the caller's audio with [`read_audio`](Self::read_audio);
/// come back at [`poll_timeout`](Self::poll_timeout). Every method that depends on time takes the
/// current `Instant` as an argument.
///
/// **Pacing.** The state machine models Twilio's player: each frame sent starts playing when the
/// previous one ends, or when it is sent if the player is idle. It hands out a frame only while
/// the model's backlog stays within [`Config::lead`], so Twilio never buffers more than that.
///
/// **Marks.** It places a mark every [`Config::mark_interval`] frames, when its queue has stayed
/// dry for a frame after Twilio played what it had, and at the end of each utterance; when Twilio returns a mark, the audio before it has been heard.
/// [`played`](Self::played) gives that confirmed position, [`played_estimate`](Self::played_estimate)
/// the position the model says is playing now.
///
/// **Clear.** [`clear`](Self::clear) drops everything queued, sends `clear`, and returns what the
/// caller has heard (for truncating the conversation after a barge-in). Twilio then returns every
/// pending mark; those whose audio had not been played are reported as
/// [`Event::MarkCleared`], not as played.
#[derive(Debug)]
pub struct MediaStream {
    config: Config,
    phase: Phase,
    start: Option<Start>,
    last_now: Option<Instant>,
    /// The `sequenceNumber` expected next.
    next_sequence: Option<u64>,

    // Inbound.
    payload_buf: Vec<u8>,
    inbound: VecDeque<i16>,

    // Outbound.
    queue: VecDeque<Item>,
    current: Option<Current>,
    next_utterance: u64,
    clear_due: bool,
    auto_mark_due: bool,
    /// When the queue ran dry: a mark goes out when the model says Twilio has played everything,
    /// unless more audio comes first.
    dry_mark_at: Option<Instant>,
    next_auto_mark: u64,
    frames_since_mark: u32,
    last_sent: Option<PlaybackPosition>,
    pending_marks: VecDeque<PendingMark>,
    playout_end: Option<Instant>,
    in_flight: VecDeque<InFlight>,
    heard_model: Option<PlaybackPosition>,
    confirmed: Option<PlaybackPosition>,
    tx_frame: [u8; FRAME_SAMPLES],
    tx_mark: String,

    events: VecDeque<Event>,
}

impl Default for MediaStream {
    fn default() -> Self {
        MediaStream::new(Config::default())
    }
}

impl MediaStream {
    /// A stream waiting for Twilio's `connected` and `start` messages.
    pub fn new(config: Config) -> Self {
        MediaStream {
            phase: Phase::AwaitingStart,
            start: None,
            last_now: None,
            next_sequence: None,
            payload_buf: Vec::with_capacity(4 * FRAME_SAMPLES),
            inbound: VecDeque::with_capacity(config.inbound_capacity.min(1 << 20)),
            queue: VecDeque::new(),
            current: None,
            next_utterance: 0,
            clear_due: false,
            auto_mark_due: false,
            dry_mark_at: None,
            next_auto_mark: 0,
            frames_since_mark: 0,
            last_sent: None,
            pending_marks: VecDeque::new(),
            playout_end: None,
            in_flight: VecDeque::new(),
            heard_model: None,
            confirmed: None,
            tx_frame: [ULAW_SILENCE; FRAME_SAMPLES],
            tx_mark: String::with_capacity(32),
            events: VecDeque::new(),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `start` message, once received.
    pub fn metadata(&self) -> Option<&Start> {
        self.start.as_ref()
    }

    /// The stream's SID, once `start` has been received.
    pub fn stream_sid(&self) -> Option<StreamSid> {
        self.start.as_ref().map(|s| s.stream_sid)
    }

    /// True between `start` and `stop`.
    pub fn is_started(&self) -> bool {
        self.phase == Phase::Started
    }

    /// True once `stop` has been received.
    pub fn is_stopped(&self) -> bool {
        self.phase == Phase::Stopped
    }

    // ---- inbound -----------------------------------------------------------------------------

    /// Parses and handles one WebSocket text message from Twilio.
    ///
    /// Errors leave the state unchanged, except that a `media` message whose payload is not
    /// base64 still counts for sequence numbering.
    pub fn handle_text(&mut self, now: Instant, text: &str) -> Result<(), Error> {
        let message = InboundMessage::parse(text)?;
        self.handle_message(now, &message)
    }

    /// Handles one message from Twilio.
    ///
    /// Fails with [`Error::WrongStream`] for a message naming another stream and with
    /// [`Error::UnexpectedMessage`] for a message out of place (anything but `connected` and
    /// `start` before `start`, a second `start`, anything after `stop`); such messages are ignored.
    pub fn handle_message(
        &mut self,
        now: Instant,
        message: &InboundMessage<'_>,
    ) -> Result<(), Error> {
        self.advance(now);
        let unexpected = |phase: Phase| Error::UnexpectedMessage {
            event: message.event(),
            state: phase.name(),
        };
        match (self.phase, message) {
            (Phase::AwaitingStart, InboundMessage::Connected(c)) => {
                self.events.push_back(Event::Connected {
                    protocol: c.protocol.clone(),
                    version: c.version.clone(),
                });
                return Ok(());
            }
            (Phase::AwaitingStart, InboundMessage::Start(start)) => {
                self.phase = Phase::Started;
                self.next_sequence = Some(start.sequence_number.saturating_add(1));
                self.events.push_back(Event::Started {
                    stream_sid: start.stream_sid,
                    call_sid: start.call_sid,
                });
                self.start = Some(start.clone());
                return Ok(());
            }
            (Phase::Started, InboundMessage::Connected(_) | InboundMessage::Start(_)) => {
                return Err(unexpected(self.phase));
            }
            (Phase::Started, _) => {}
            (phase, _) => return Err(unexpected(phase)),
        }
        let expected = self.stream_sid();
        if let (Some(expected), Some(received)) = (expected, message.stream_sid())
            && expected != received
        {
            return Err(Error::WrongStream { expected, received });
        }
        if let Some(received) = message.sequence_number() {
            self.check_sequence(received);
        }
        match message {
            InboundMessage::Media(media) => {
                if media.track != Track::Inbound {
                    return Ok(());
                }
                media.decode_payload_into(&mut self.payload_buf)?;
                self.store_inbound();
            }
            InboundMessage::Dtmf(dtmf) => self.events.push_back(Event::Dtmf(dtmf.digit)),
            InboundMessage::Mark(mark) => self.on_mark(&mark.name),
            InboundMessage::Stop(_) => {
                self.phase = Phase::Stopped;
                self.drop_outbound();
                self.pending_marks.clear();
                self.clear_due = false;
                self.events.push_back(Event::Stopped);
            }
            InboundMessage::Connected(_) | InboundMessage::Start(_) => {}
        }
        Ok(())
    }

    fn check_sequence(&mut self, received: u64) {
        let expected = self.next_sequence.unwrap_or(received);
        if received != expected {
            self.events
                .push_back(Event::SequenceGap { expected, received });
        }
        self.next_sequence = Some(expected.max(received.saturating_add(1)));
    }

    fn store_inbound(&mut self) {
        let capacity = self.config.inbound_capacity;
        let mut decoded = [0i16; FRAME_SAMPLES];
        let mut dropped = 0;
        for codes in self.payload_buf.chunks(FRAME_SAMPLES) {
            let n = ulaw_decode_into(codes, &mut decoded);
            // Keep the newest `capacity` samples.
            let keep = n.min(capacity);
            let overflow = (self.inbound.len() + keep).saturating_sub(capacity);
            self.inbound.drain(..overflow);
            self.inbound.extend(&decoded[n - keep..n]);
            dropped += overflow + (n - keep);
        }
        if dropped > 0 {
            self.events.push_back(Event::InboundOverflow {
                dropped_samples: dropped,
            });
        }
    }

    /// Moves up to `out.len()` decoded samples of the caller's audio (8 kHz, oldest first) into
    /// `out` and returns how many. Allocation-free. Only the `inbound` track is kept (with
    /// `<Start><Stream track="both_tracks">`, `outbound` media is ignored).
    pub fn read_audio(&mut self, out: &mut [i16]) -> usize {
        let n = out.len().min(self.inbound.len());
        let (front, back) = self.inbound.as_slices();
        let from_front = n.min(front.len());
        out[..from_front].copy_from_slice(&front[..from_front]);
        out[from_front..n].copy_from_slice(&back[..n - from_front]);
        self.inbound.drain(..n);
        n
    }

    /// Decoded inbound samples waiting to be read.
    pub fn audio_available(&self) -> usize {
        self.inbound.len()
    }

    fn on_mark(&mut self, name: &str) {
        let Some(index) = self.pending_marks.iter().position(|m| m.name.matches(name)) else {
            self.events.push_back(Event::UnknownMark {
                name: name.to_owned(),
            });
            return;
        };
        // Twilio returns marks in order: any pending before this one is settled with it.
        for mark in self.pending_marks.drain(..=index) {
            if mark.cleared {
                if let MarkName::User(name) = mark.name {
                    self.events.push_back(Event::MarkCleared { name });
                }
                continue;
            }
            if let Some(position) = mark.position {
                self.confirmed = self.confirmed.max(Some(position));
                if mark.utterance_end {
                    self.events.push_back(Event::UtterancePlayed {
                        utterance: position.utterance,
                        samples: position.samples,
                    });
                }
            }
            if let MarkName::User(name) = mark.name {
                self.events.push_back(Event::MarkPlayed { name });
            }
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---- outbound ----------------------------------------------------------------------------

    fn current(&mut self) -> &mut Current {
        let next = &mut self.next_utterance;
        self.current.get_or_insert_with(|| {
            let id = UtteranceId(*next);
            *next += 1;
            Current {
                id,
                samples: 0,
                partial: [ULAW_SILENCE; FRAME_SAMPLES],
                partial_len: 0,
                deferred_marks: Vec::new(),
            }
        })
    }

    /// Queues μ-law audio for the caller, appending it to the current utterance (starting one if
    /// needed), and returns that utterance. Audio is cut into 20 ms frames; a last partial frame
    /// waits for more audio or for [`finish_utterance`](Self::finish_utterance).
    ///
    /// Allocation-free once the queue has grown to its working size.
    pub fn push_ulaw(&mut self, mut ulaw: &[u8]) -> UtteranceId {
        let id = self.current().id;
        while !ulaw.is_empty() {
            let current = self.current();
            let take = (FRAME_SAMPLES - current.partial_len).min(ulaw.len());
            current.partial[current.partial_len..current.partial_len + take]
                .copy_from_slice(&ulaw[..take]);
            current.partial_len += take;
            current.samples += take as u64;
            ulaw = &ulaw[take..];
            if current.partial_len == FRAME_SAMPLES {
                self.flush_partial();
            }
        }
        id
    }

    /// Queues 16-bit linear audio at 8 kHz (encoded to μ-law); see [`push_ulaw`](Self::push_ulaw).
    pub fn push_pcm(&mut self, pcm: &[i16]) -> UtteranceId {
        let mut id = self.current().id;
        let mut codes = [0u8; FRAME_SAMPLES];
        for chunk in pcm.chunks(FRAME_SAMPLES) {
            let n = ulaw_encode_into(chunk, &mut codes);
            id = self.push_ulaw(&codes[..n]);
        }
        id
    }

    /// Moves the partial frame (padded with silence) into the queue, then the marks deferred
    /// behind it.
    fn flush_partial(&mut self) {
        let Some(current) = self.current.as_mut() else {
            return;
        };
        if current.partial_len > 0 {
            let len = current.partial_len;
            current.partial[len..].fill(ULAW_SILENCE);
            self.queue.push_back(Item::Frame(Frame {
                data: current.partial,
                utterance: current.id,
                start_sample: current.samples - len as u64,
                samples: len as u16,
            }));
            current.partial_len = 0;
        }
        for name in current.deferred_marks.drain(..) {
            self.queue.push_back(Item::UserMark(name));
        }
    }

    /// Ends the current utterance: its last partial frame is padded with silence and queued,
    /// followed by a mark that produces [`Event::UtterancePlayed`] once Twilio has played it all.
    /// Returns the utterance, or `None` if no audio was queued since the last one ended.
    pub fn finish_utterance(&mut self) -> Option<UtteranceId> {
        self.flush_partial();
        let current = self.current.take()?;
        self.queue.push_back(Item::UtteranceEnd(PlaybackPosition {
            utterance: current.id,
            samples: current.samples,
        }));
        Some(current.id)
    }

    /// Queues a named mark after the audio queued so far: [`Event::MarkPlayed`] reports when
    /// Twilio has played that audio, or [`Event::MarkCleared`] if a clear dropped it.
    ///
    /// If the audio ends in a partial frame, the mark follows the frame it completes, so it may
    /// come up to 20 ms after the exact point. Names may not be empty nor start with `kav:`.
    pub fn push_mark(&mut self, name: impl Into<String>) -> Result<(), Error> {
        let name = name.into();
        if name.is_empty() || name.starts_with(AUTO_MARK_PREFIX) {
            return Err(Error::InvalidMarkName);
        }
        match self.current.as_mut() {
            Some(current) if current.partial_len > 0 => current.deferred_marks.push(name),
            _ => self.queue.push_back(Item::UserMark(name)),
        }
        Ok(())
    }

    /// Drops all queued audio and, if the stream has started, sends `clear` so Twilio drops what
    /// it has buffered. Returns what the caller has heard: the later of the position confirmed
    /// by marks and the one the playback model gives for `now`. The utterance being played is
    /// ended; audio pushed afterwards starts a new one.
    pub fn clear(&mut self, now: Instant) -> Option<PlaybackPosition> {
        self.advance(now);
        let heard = self.played_estimate(now);
        for mark in &mut self.pending_marks {
            if mark.play_end > now {
                mark.cleared = true;
            }
        }
        self.drop_outbound();
        if self.phase == Phase::Started {
            self.clear_due = true;
        }
        heard
    }

    /// Empties the queue and the player model; user marks never sent are reported as cleared.
    fn drop_outbound(&mut self) {
        // Queued marks were pushed before the deferred ones.
        for item in self.queue.drain(..) {
            if let Item::UserMark(name) = item {
                self.events.push_back(Event::MarkCleared { name });
            }
        }
        if let Some(current) = self.current.take() {
            for name in current.deferred_marks {
                self.events.push_back(Event::MarkCleared { name });
            }
        }
        self.in_flight.clear();
        self.playout_end = None;
        self.auto_mark_due = false;
        self.dry_mark_at = None;
        self.frames_since_mark = 0;
        self.last_sent = None;
    }

    /// Updates the player model to `now`.
    fn advance(&mut self, now: Instant) {
        if self.last_now.is_none_or(|last| now > last) {
            self.last_now = Some(now);
        }
        while let Some(frame) = self.in_flight.front() {
            if frame.start + FRAME_DURATION > now {
                break;
            }
            self.heard_model = Some(PlaybackPosition {
                utterance: frame.utterance,
                samples: frame.start_sample + u64::from(frame.samples),
            });
            self.in_flight.pop_front();
        }
    }

    /// The next message to send to Twilio, if one is due at `now`.
    ///
    /// Call it until it returns `None` after every input and at [`poll_timeout`](Self::poll_timeout).
    /// Media is paced (see [`Config::with_lead`]); marks and `clear` are due at once. The returned
    /// message borrows the state machine; serialize it with [`OutboundMessage::write_json`].
    pub fn poll_transmit(&mut self, now: Instant) -> Option<OutboundMessage<'_>> {
        self.advance(now);
        if self.phase != Phase::Started {
            return None;
        }
        let stream_sid = self.stream_sid()?;
        if self.clear_due {
            self.clear_due = false;
            return Some(OutboundMessage::Clear { stream_sid });
        }
        if self.auto_mark_due {
            self.auto_mark_due = false;
            return Some(self.send_mark(now, None, false, stream_sid));
        }
        if self.dry_mark_at.is_some_and(|at| at <= now) && self.queue.is_empty() {
            return Some(self.send_mark(now, None, false, stream_sid));
        }
        match self.queue.front()? {
            Item::Frame(_) if !self.may_send_frame(now) => None,
            Item::Frame(_) => {
                let Some(Item::Frame(frame)) = self.queue.pop_front() else {
                    return None;
                };
                let start = self.playout_end.map_or(now, |end| end.max(now));
                self.playout_end = Some(start + FRAME_DURATION);
                self.in_flight.push_back(InFlight {
                    start,
                    utterance: frame.utterance,
                    start_sample: frame.start_sample,
                    samples: frame.samples,
                });
                self.last_sent = Some(frame.end());
                self.frames_since_mark += 1;
                // A mark that comes next anyway records the position; otherwise place one every
                // `mark_interval` frames, and one if the queue stays dry for a frame after Twilio
                // has played everything (audio arriving just in time then costs no marks).
                let interval_due = self.frames_since_mark >= self.config.mark_interval;
                self.dry_mark_at = None;
                self.auto_mark_due = match self.queue.front() {
                    Some(Item::Frame(_)) => interval_due,
                    Some(Item::UserMark(_) | Item::UtteranceEnd(_)) => false,
                    None => {
                        if !interval_due {
                            self.dry_mark_at = self.playout_end.map(|end| end + FRAME_DURATION);
                        }
                        interval_due
                    }
                };
                self.tx_frame = frame.data;
                Some(OutboundMessage::Media {
                    stream_sid,
                    payload: Cow::Borrowed(&self.tx_frame),
                })
            }
            Item::UserMark(_) => {
                let Some(Item::UserMark(name)) = self.queue.pop_front() else {
                    return None;
                };
                Some(self.send_mark(now, Some(name), false, stream_sid))
            }
            Item::UtteranceEnd(_) => {
                let Some(Item::UtteranceEnd(position)) = self.queue.pop_front() else {
                    return None;
                };
                // Report the full length even when the last frame was sent before `finish`.
                self.last_sent = Some(position);
                Some(self.send_mark(now, None, true, stream_sid))
            }
        }
    }

    fn may_send_frame(&self, now: Instant) -> bool {
        let backlog = self
            .playout_end
            .map_or(Duration::ZERO, |end| end.saturating_duration_since(now));
        backlog + FRAME_DURATION <= self.config.lead
    }

    fn send_mark(
        &mut self,
        now: Instant,
        user: Option<String>,
        utterance_end: bool,
        stream_sid: StreamSid,
    ) -> OutboundMessage<'_> {
        self.frames_since_mark = 0;
        self.dry_mark_at = None;
        self.tx_mark.clear();
        let name = match user {
            Some(name) => {
                self.tx_mark.push_str(&name);
                MarkName::User(name)
            }
            None => {
                let k = self.next_auto_mark;
                self.next_auto_mark += 1;
                // Writing into a String cannot fail.
                let _ = write!(self.tx_mark, "{AUTO_MARK_PREFIX}{k}");
                MarkName::Auto(k)
            }
        };
        self.pending_marks.push_back(PendingMark {
            name,
            position: self.last_sent,
            utterance_end,
            play_end: self.playout_end.map_or(now, |end| end.max(now)),
            cleared: false,
        });
        OutboundMessage::Mark {
            stream_sid,
            name: Cow::Borrowed(&self.tx_mark),
        }
    }

    /// When [`poll_transmit`](Self::poll_transmit) should be called again, or `None` if nothing
    /// is waiting (more audio, a mark or a clear will make something due).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase != Phase::Started {
            return None;
        }
        let now = self.last_now?;
        if self.clear_due || self.auto_mark_due {
            return Some(now);
        }
        let at = match self.queue.front() {
            None => self.dry_mark_at?,
            Some(Item::Frame(_)) => match self.playout_end {
                // The frame may go once the backlog has shrunk to `lead - 20 ms`.
                Some(end) => {
                    let slack = self.config.lead.saturating_sub(FRAME_DURATION);
                    end.checked_sub(slack).unwrap_or(end)
                }
                None => now,
            },
            Some(Item::UserMark(_) | Item::UtteranceEnd(_)) => now,
        };
        Some(at.max(now))
    }

    /// The position Twilio has confirmed as played (through marks).
    pub fn played(&self) -> Option<PlaybackPosition> {
        self.confirmed
    }

    /// The position being played at `now` according to the player model, or the confirmed one
    /// if that is later.
    ///
    /// The model assumes each frame reaches Twilio the moment it is handed out, so with a one-way
    /// network delay *d* it runs up to *d* ahead of the real player; [`played`](Self::played)
    /// never runs ahead.
    pub fn played_estimate(&self, now: Instant) -> Option<PlaybackPosition> {
        let mut position = self.heard_model;
        for frame in &self.in_flight {
            if frame.start >= now {
                break;
            }
            let elapsed = now.saturating_duration_since(frame.start);
            let samples = (elapsed.as_micros() * u128::from(SAMPLE_RATE) / 1_000_000)
                .min(u128::from(frame.samples)) as u64;
            position = Some(PlaybackPosition {
                utterance: frame.utterance,
                samples: frame.start_sample + samples,
            });
        }
        position.max(self.confirmed)
    }

    /// How long Twilio's buffer is ahead of `now` according to the model (at most the lead).
    pub fn buffered_ahead(&self, now: Instant) -> Duration {
        self.playout_end
            .map_or(Duration::ZERO, |end| end.saturating_duration_since(now))
    }

    /// Audio queued here and not yet handed out (complete frames plus the partial one).
    pub fn queued_duration(&self) -> Duration {
        let frames = self
            .queue
            .iter()
            .filter(|item| matches!(item, Item::Frame(_)))
            .count() as u64;
        let partial = self.current.as_ref().map_or(0, |c| c.partial_len as u64);
        Duration::from_micros((frames * FRAME_SAMPLES as u64 + partial) * 125)
    }

    /// Marks sent to Twilio and not yet returned (including those a `clear` will make Twilio
    /// return).
    pub fn pending_marks(&self) -> usize {
        self.pending_marks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_can_move_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<MediaStream>();
        send_sync::<Event>();
        send_sync::<OutboundMessage<'static>>();
    }

    #[test]
    fn positions_convert_to_time() {
        let p = PlaybackPosition {
            utterance: UtteranceId(3),
            samples: 8004,
        };
        assert_eq!(p.millis(), 1000);
        assert_eq!(p.duration(), Duration::from_micros(1_000_500));
        let huge = PlaybackPosition {
            samples: u64::MAX,
            ..p
        };
        assert_eq!(huge.duration(), Duration::from_micros(u64::MAX));
        assert_eq!(UtteranceId(3).to_string(), "utterance 3");
    }

    #[test]
    fn config_clamps() {
        let config = Config::default()
            .with_lead(Duration::ZERO)
            .with_mark_interval(0);
        assert_eq!(config.lead(), FRAME_DURATION);
        assert_eq!(config.mark_interval(), 1);
        assert_eq!(Config::default().inbound_capacity(), 16_000);
    }
}
