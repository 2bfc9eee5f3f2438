//! A simulated Twilio for driving [`MediaStream`] with a fake clock (str0m `tests/common.rs`
//! style): it sends what Twilio sends, and plays what it receives exactly as Twilio's player does
//! (20 ms per frame, in order, marks returned once the audio before them has been played, `clear`
//! returning every pending mark at once).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use base64::Engine as _;
use kav_media_stream::{
    AccountSid, CallSid, Connected, Event, InboundMessage, Media, MediaStream, OutboundMessage,
    Start, Stop, StreamSid, Track,
};

pub(crate) const STREAM_SID: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";
pub(crate) const CALL_SID: &str = "CA5fc3f4e5b1bf8f1a9e1c2ffe4f42a7b6";
pub(crate) const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const FRAME: Duration = Duration::from_millis(20);

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

enum Buffered {
    Frame(Vec<u8>),
    Mark(String),
}

/// Twilio's side of one stream.
pub(crate) struct FakeTwilio {
    pub(crate) stream_sid: StreamSid,
    sequence: u64,
    chunk: u64,
    t0: Instant,
    /// What the player holds, in order.
    buffer: VecDeque<Buffered>,
    /// When the frame at the head of `buffer` started playing.
    head_start: Option<Instant>,
    /// Messages for the server, in order, with the time they were sent when it is not "now".
    outbox: VecDeque<(Option<Instant>, String)>,
    /// Every μ-law byte played, in order.
    pub(crate) played: Vec<u8>,
    /// When each frame finished playing.
    pub(crate) frame_ends: Vec<Instant>,
    /// Marks returned, with the time.
    pub(crate) marks_returned: Vec<(Instant, String)>,
    /// Audio held in the player just after each message received.
    pub(crate) max_buffered: Duration,
    /// Messages received from the server, as JSON.
    pub(crate) received: Vec<String>,
    /// `clear` messages received.
    pub(crate) clears: usize,
}

impl FakeTwilio {
    pub(crate) fn new(t0: Instant) -> Self {
        FakeTwilio {
            stream_sid: STREAM_SID.parse().unwrap(),
            sequence: 0,
            chunk: 0,
            t0,
            buffer: VecDeque::new(),
            head_start: None,
            outbox: VecDeque::new(),
            played: Vec::new(),
            frame_ends: Vec::new(),
            marks_returned: Vec::new(),
            max_buffered: Duration::ZERO,
            received: Vec::new(),
            clears: 0,
        }
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    fn send(&mut self, message: &InboundMessage<'_>) {
        self.outbox.push_back((None, message.to_json()));
    }

    /// Queues `connected` and `start`.
    pub(crate) fn connect(&mut self) {
        self.send(&InboundMessage::Connected(Connected {
            protocol: "Call".into(),
            version: "1.0.0".into(),
        }));
        let sequence_number = self.next_sequence();
        self.send(&InboundMessage::Start(Start {
            sequence_number,
            stream_sid: self.stream_sid,
            account_sid: AccountSid::parse(ACCOUNT_SID).unwrap(),
            call_sid: CallSid::parse(CALL_SID).unwrap(),
            tracks: vec![Track::Inbound],
            media_format: Default::default(),
            custom_parameters: [("business_id".to_owned(), "1".to_owned())].into(),
        }));
    }

    /// Queues one `media` message of the caller's audio (μ-law).
    pub(crate) fn caller_media(&mut self, now: Instant, ulaw: &[u8]) {
        let sequence_number = self.next_sequence();
        self.chunk += 1;
        let payload = base64::engine::general_purpose::STANDARD.encode(ulaw);
        self.send(&InboundMessage::Media(Media {
            sequence_number,
            stream_sid: self.stream_sid,
            track: Track::Inbound,
            chunk: self.chunk,
            timestamp: now.duration_since(self.t0).as_millis() as u64,
            payload: payload.into(),
        }));
    }

    /// Queues `stop`.
    pub(crate) fn stop(&mut self) {
        let sequence_number = self.next_sequence();
        self.send(&InboundMessage::Stop(Stop {
            sequence_number,
            stream_sid: self.stream_sid,
            account_sid: AccountSid::parse(ACCOUNT_SID).unwrap(),
            call_sid: CallSid::parse(CALL_SID).unwrap(),
        }));
    }

    fn return_mark(&mut self, now: Instant, name: String) {
        let sequence_number = self.next_sequence();
        self.outbox.push_back((
            Some(now),
            InboundMessage::Mark(kav_media_stream::Mark {
                sequence_number,
                stream_sid: self.stream_sid,
                name: name.clone().into(),
            })
            .to_json(),
        ));
        self.marks_returned.push((now, name));
    }

    /// Plays the buffer up to `now`.
    pub(crate) fn advance(&mut self, now: Instant) {
        // When the audio before the head of the buffer finished playing.
        let mut at = now;
        loop {
            match self.buffer.front() {
                Some(Buffered::Mark(_)) => {
                    let Some(Buffered::Mark(name)) = self.buffer.pop_front() else {
                        unreachable!()
                    };
                    self.return_mark(at, name);
                }
                Some(Buffered::Frame(_)) => {
                    let start = self.head_start.expect("a frame at the head is playing");
                    if start + FRAME > now {
                        return;
                    }
                    let Some(Buffered::Frame(frame)) = self.buffer.pop_front() else {
                        unreachable!()
                    };
                    self.played.extend_from_slice(&frame);
                    at = start + FRAME;
                    self.frame_ends.push(at);
                    self.head_start = Some(at);
                }
                None => {
                    self.head_start = None;
                    return;
                }
            }
        }
    }

    /// Audio the player holds and has not played yet.
    pub(crate) fn buffered(&self, now: Instant) -> Duration {
        let frames = self
            .buffer
            .iter()
            .filter(|b| matches!(b, Buffered::Frame(_)))
            .count() as u32;
        let elapsed = self
            .head_start
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        (FRAME * frames).saturating_sub(elapsed)
    }

    /// When the player next has something to do.
    pub(crate) fn next_wakeup(&self) -> Option<Instant> {
        self.head_start.map(|s| s + FRAME)
    }

    /// Receives one message from the server.
    pub(crate) fn receive(&mut self, now: Instant, json: &str) {
        self.advance(now);
        self.received.push(json.to_owned());
        let message = OutboundMessage::parse(json).expect("the server sends valid messages");
        assert_eq!(message.stream_sid(), self.stream_sid);
        match message {
            OutboundMessage::Media { payload, .. } => {
                assert_eq!(payload.len(), 160, "Twilio receives whole 20 ms frames");
                let idle = !self.buffer.iter().any(|b| matches!(b, Buffered::Frame(_)));
                self.buffer.push_back(Buffered::Frame(payload.into_owned()));
                if idle {
                    self.head_start = Some(now);
                }
            }
            OutboundMessage::Mark { name, .. } => {
                self.buffer.push_back(Buffered::Mark(name.into_owned()));
                self.advance(now);
            }
            OutboundMessage::Clear { .. } => {
                self.clears += 1;
                for item in std::mem::take(&mut self.buffer) {
                    if let Buffered::Mark(name) = item {
                        self.return_mark(now, name);
                    }
                }
                self.head_start = None;
            }
            _ => panic!("unexpected message {json}"),
        }
        self.max_buffered = self.max_buffered.max(self.buffered(now));
    }

    /// The next message for the server (and when it was sent, if not now).
    pub(crate) fn take_outbox(&mut self) -> Option<String> {
        self.outbox.pop_front().map(|(_, text)| text)
    }

    fn take_outbox_timed(&mut self) -> Option<(Option<Instant>, String)> {
        self.outbox.pop_front()
    }
}

/// The server's state machine and the simulated Twilio, on one fake clock.
pub(crate) struct Harness {
    pub(crate) t0: Instant,
    pub(crate) now: Instant,
    pub(crate) stream: MediaStream,
    pub(crate) twilio: FakeTwilio,
    pub(crate) events: Vec<(Instant, Event)>,
    /// One-way network delay, both directions.
    pub(crate) latency: Duration,
    to_server: VecDeque<(Instant, String)>,
    to_twilio: VecDeque<(Instant, String)>,
    json: String,
}

impl Harness {
    pub(crate) fn new(stream: MediaStream) -> Self {
        // Any instant will do: nothing reads the clock.
        let t0 = Instant::now();
        Harness {
            t0,
            now: t0,
            stream,
            twilio: FakeTwilio::new(t0),
            events: Vec::new(),
            latency: Duration::ZERO,
            to_server: VecDeque::new(),
            to_twilio: VecDeque::new(),
            json: String::new(),
        }
    }

    /// A harness whose stream has received `connected` and `start`.
    pub(crate) fn started(stream: MediaStream) -> Self {
        let mut h = Harness::new(stream);
        h.twilio.connect();
        h.exchange();
        assert!(h.stream.is_started());
        h
    }

    /// Delivers everything both sides have for each other at `now` (after the latency).
    pub(crate) fn exchange(&mut self) {
        loop {
            let mut progress = false;
            while let Some((sent, text)) = self.twilio.take_outbox_timed() {
                let sent = sent.unwrap_or(self.now);
                self.to_server.push_back((sent + self.latency, text));
            }
            while self
                .to_server
                .front()
                .is_some_and(|(due, _)| *due <= self.now)
            {
                let (_, text) = self.to_server.pop_front().unwrap();
                self.stream.handle_text(self.now, &text).unwrap();
                progress = true;
            }
            while let Some(message) = self.stream.poll_transmit(self.now) {
                message.write_json(&mut self.json);
                self.to_twilio
                    .push_back((self.now + self.latency, self.json.clone()));
                progress = true;
            }
            while self
                .to_twilio
                .front()
                .is_some_and(|(due, _)| *due <= self.now)
            {
                let (_, text) = self.to_twilio.pop_front().unwrap();
                self.twilio.receive(self.now, &text);
                progress = true;
            }
            while let Some(event) = self.stream.poll_event() {
                self.events.push((self.now, event));
            }
            if !progress {
                return;
            }
        }
    }

    /// Runs both sides until `t0 + at`, waking at every timeout.
    pub(crate) fn run_until(&mut self, at: Duration) {
        let end = self.t0 + at;
        loop {
            self.twilio.advance(self.now);
            self.exchange();
            let next = [
                self.stream.poll_timeout(),
                self.twilio.next_wakeup(),
                self.to_server.front().map(|(due, _)| *due),
                self.to_twilio.front().map(|(due, _)| *due),
            ]
            .into_iter()
            .flatten()
            .filter(|&t| t > self.now)
            .min();
            match next {
                Some(t) if t <= end => self.now = t,
                _ => break,
            }
        }
        self.now = end;
        self.twilio.advance(self.now);
        self.exchange();
    }

    /// Events seen so far, without their times.
    pub(crate) fn events(&self) -> Vec<Event> {
        self.events.iter().map(|(_, e)| e.clone()).collect()
    }

    pub(crate) fn elapsed(&self, at: Instant) -> Duration {
        at.duration_since(self.t0)
    }
}
