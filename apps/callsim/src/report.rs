//! What happened during a simulated call: [`CallReport`], its transcript and its JSON form.

use std::fmt::Write as _;

use serde::Serialize;

use crate::codes::TwilioCode;

/// The version of the JSON structure written by `--json`; bumped on any incompatible change.
pub const REPORT_VERSION: u32 = 1;

/// Everything a simulated call did, in order. Serializes to the documented `--json` structure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CallReport {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// The call's `CallSid`.
    pub call_sid: String,
    /// The `AccountSid` the webhooks carried.
    pub account_sid: String,
    /// The caller.
    pub from: String,
    /// The number called.
    pub to: String,
    /// The final `CallStatus` (`completed`, `busy`, `no-answer`, `failed`).
    pub status: String,
    /// Why the call ended.
    pub ended_by: EndReason,
    /// Simulated call length in seconds (speech, audio, pauses and caller turns), as Twilio's
    /// `CallDuration` would give it.
    pub duration_seconds: u64,
    /// What was said and played, in order.
    pub events: Vec<Event>,
    /// Every HTTP request the simulator made, in order.
    pub requests: Vec<RequestLog>,
    /// Errors and warnings, with Twilio's codes where Twilio has one.
    pub notifications: Vec<Notification>,
    /// The media fetched for `<Play>`, in order (not in the JSON output).
    #[serde(skip)]
    pub media: Vec<Media>,
    /// The recordings made by `<Record>` and `<Start><Recording>`, in order (not in the JSON
    /// output).
    #[serde(skip)]
    pub recordings: Vec<Recording>,
    /// When each event happened, parallel to [`events`](Self::events).
    pub event_times: Vec<EventTime>,
    /// The `<Start><Recording>` recordings of the call, with the status they ended in.
    pub call_recordings: Vec<CallRecording>,
    /// Requests of the fallback URL, each after a failed document.
    pub fallbacks: Vec<Fallback>,
    /// Retries made under the connection overrides (`#rc=…&rp=…`), all requests together.
    pub retries: u32,
    /// Whether the call ran in real time (`--real-time`).
    pub real_time: bool,
    /// Wall-clock length of the simulation, in milliseconds.
    pub wall_ms: u64,
}

/// When an event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EventTime {
    /// Simulated call time at its start, in milliseconds (the clock of `duration_seconds`).
    pub at_ms: u64,
    /// Wall-clock time since the call started, in milliseconds.
    pub wall_ms: u64,
}

/// A `<Start><Recording>`: what Twilio made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CallRecording {
    /// Its `RecordingSid`.
    pub sid: String,
    /// `completed` (served at `url`) or `absent` (shorter than a second: nothing to serve).
    pub status: String,
    /// `RecordingUrl` (without extension, as Twilio sends it), when completed.
    pub url: Option<String>,
    /// `RecordingDuration` in seconds.
    pub duration_seconds: u64,
    /// `RecordingChannels` (2 for `channels="dual"`, the default; 1 for mono).
    pub channels: u16,
    /// The `RecordingStatus` of each status callback posted, in order.
    pub callbacks: Vec<String>,
    /// `ErrorCode` (0, or 16101 when absent because too short).
    pub error_code: u16,
}

/// A request of the fallback URL after a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Fallback {
    /// `ErrorCode`: the Twilio code of the failure.
    pub error_code: u16,
    /// `ErrorUrl`: the URL that failed.
    pub error_url: String,
    /// The fallback URL requested.
    pub fallback_url: String,
    /// Whether the fallback answered with usable TwiML.
    pub recovered: bool,
}

/// A recording served by the recordings host: a caller turn as `<Record>` recorded it, or a
/// whole call as `<Start><Recording>` recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recording {
    /// Its `RecordingSid`.
    pub sid: String,
    /// The WAV served at its `RecordingUrl` (8 kHz PCM16; mono, or two channels for a dual
    /// `<Start><Recording>`).
    pub wav: Vec<u8>,
}

/// Audio fetched for `<Play>`, kept as Twilio would have played it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Media {
    /// The URL as Twilio requested it.
    pub url: String,
    /// The response's `Content-Type`.
    pub content_type: Option<String>,
    /// The body.
    pub bytes: Vec<u8>,
}

impl CallReport {
    /// Writes the played media (`play-1.wav`, …, extension from the content type) and the
    /// recordings (`recording-1-RE….wav`, …) into `dir`, which is created if needed; returns
    /// the files written.
    ///
    /// # Errors
    /// The first I/O error.
    pub fn save_audio(&self, dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut written = Vec::new();
        for (i, media) in self.media.iter().enumerate() {
            let ext = match media.content_type.as_deref().map(str::to_ascii_lowercase) {
                Some(t) if t.contains("mpeg") || t.contains("mp3") => "mp3",
                Some(t) if t.contains("wav") => "wav",
                _ => "bin",
            };
            let path = dir.join(format!("play-{}.{ext}", i + 1));
            std::fs::write(&path, &media.bytes)?;
            written.push(path);
        }
        for (i, recording) in self.recordings.iter().enumerate() {
            let path = dir.join(format!("recording-{}-{}.wav", i + 1, recording.sid));
            std::fs::write(&path, &recording.wav)?;
            written.push(path);
        }
        Ok(written)
    }

    /// The error codes reported (errors and warnings), in order.
    #[must_use]
    pub fn codes(&self) -> Vec<u16> {
        self.notifications
            .iter()
            .filter_map(|n| n.code.map(TwilioCode::code))
            .collect()
    }

    /// Whether any error (not a warning) was reported.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.notifications.iter().any(|n| n.level == Level::Error)
    }

    /// The report as pretty JSON (the `--json` output).
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// A readable transcript: who said what, each request with its timing, and the errors.
    #[must_use]
    pub fn transcript(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "call {} from {} to {}",
            self.call_sid, self.from, self.to
        );
        let mut next_request = 0;
        for (index, event) in self.events.iter().enumerate() {
            while next_request < self.requests.len()
                && self.requests[next_request].before_event <= index
            {
                write_request(&mut out, &self.requests[next_request]);
                next_request += 1;
            }
            if self.real_time
                && let Some(t) = self.event_times.get(index)
            {
                let _ = write!(out, "[{:>7.1} s] ", t.wall_ms as f64 / 1000.0);
            }
            write_event(&mut out, event);
        }
        for request in &self.requests[next_request..] {
            write_request(&mut out, request);
        }
        for rec in &self.call_recordings {
            let _ = writeln!(
                out,
                "call recording {} {} ({} s, {} channel{}{}){}",
                rec.sid,
                rec.status,
                rec.duration_seconds,
                rec.channels,
                if rec.channels == 1 { "" } else { "s" },
                rec.url
                    .as_deref()
                    .map_or_else(String::new, |u| format!(", {u}")),
                if rec.callbacks.is_empty() {
                    String::new()
                } else {
                    format!("; callbacks: {}", rec.callbacks.join(", "))
                }
            );
        }
        for f in &self.fallbacks {
            let _ = writeln!(
                out,
                "fallback {} after {} on {} ({})",
                f.fallback_url,
                f.error_code,
                f.error_url,
                if f.recovered {
                    "recovered"
                } else {
                    "failed too"
                }
            );
        }
        if self.retries > 0 {
            let _ = writeln!(out, "retries: {}", self.retries);
        }
        for n in &self.notifications {
            let level = match n.level {
                Level::Error => "ERROR",
                Level::Warning => "WARNING",
            };
            match n.code {
                Some(code) => {
                    let _ = writeln!(out, "{level} {code}: {}", n.message);
                }
                None => {
                    let _ = writeln!(out, "{level}: {}", n.message);
                }
            }
        }
        let _ = writeln!(
            out,
            "call {} ({}), {} s{}",
            self.status,
            self.ended_by.as_str(),
            self.duration_seconds,
            if self.real_time {
                format!(" (real time: {} ms wall clock)", self.wall_ms)
            } else {
                String::new()
            }
        );
        out
    }
}

fn write_request(out: &mut String, r: &RequestLog) {
    let status = r
        .status
        .map_or_else(|| "no response".to_owned(), |s| s.to_string());
    let _ = writeln!(
        out,
        "  -> {} {} {} ({}) {status} in {} ms{}",
        r.purpose.as_str(),
        r.method,
        r.url,
        r.content_type.as_deref().unwrap_or("-"),
        r.elapsed_ms,
        match r.retries {
            0 => String::new(),
            1 => " after 1 retry".to_owned(),
            n => format!(" after {n} retries"),
        }
    );
}

fn write_event(out: &mut String, event: &Event) {
    let _ = match event {
        Event::Say {
            text,
            voice,
            language,
            loops,
        } => writeln!(
            out,
            "agent says [{} {}{}]: {text}",
            voice.as_deref().unwrap_or("man"),
            language.as_deref().unwrap_or("en-US"),
            if *loops == 1 {
                String::new()
            } else {
                format!(" x{loops}")
            }
        ),
        Event::Play {
            url,
            content_type,
            bytes,
            duration_ms,
        } => writeln!(
            out,
            "agent plays {url} ({}, {bytes} bytes{})",
            content_type.as_deref().unwrap_or("?"),
            duration_ms.map_or_else(String::new, |d| format!(", {d} ms"))
        ),
        Event::Pause { seconds } => writeln!(out, "pause {seconds} s"),
        Event::Record { recording_sid } => writeln!(out, "recording {recording_sid}"),
        Event::Gather { input } => writeln!(out, "gather ({input})"),
        Event::Caller {
            text,
            digits,
            audio_ms,
        } => writeln!(
            out,
            "caller says: {}{}{}",
            text.as_deref().unwrap_or("(audio)"),
            digits
                .as_deref()
                .map_or_else(String::new, |d| format!(" [digits {d}]")),
            audio_ms.map_or_else(String::new, |d| format!(" ({d} ms)"))
        ),
        Event::CallerHangup => writeln!(out, "caller hangs up"),
        Event::StartRecording {
            recording_sid,
            channels,
            track,
        } => writeln!(
            out,
            "call recording {recording_sid} starts ({channels} channel{}, track {track})",
            if *channels == 1 { "" } else { "s" }
        ),
        Event::Dial {
            target,
            outcome,
            dial_call_sid,
            duration_seconds,
        } => writeln!(
            out,
            "dial {target}: {outcome} ({dial_call_sid}, {duration_seconds} s)"
        ),
        Event::Hangup => writeln!(out, "agent hangs up"),
        Event::Reject { reason } => writeln!(out, "agent rejects the call ({reason})"),
        Event::Unsupported { verb } => writeln!(out, "not executed: <{verb}>"),
        Event::Stream { url, stream_sid } => writeln!(out, "stream {stream_sid} to {url}"),
        Event::AgentAudio { audio_ms } => writeln!(out, "agent streams {audio_ms} ms of audio"),
        Event::StreamEnd {
            marks,
            clears,
            closed_by,
        } => writeln!(
            out,
            "stream closed by the {closed_by} ({marks} marks, {clears} clears)"
        ),
    };
}

/// Why the call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EndReason {
    /// `<Hangup>`.
    AgentHangup,
    /// `<Reject>`.
    Rejected,
    /// The TwiML ran out of verbs (Twilio hangs up).
    EndOfTwiml,
    /// The caller hung up (the script ran out of turns).
    CallerHangup,
    /// An error Twilio cannot go on after (unreachable webhook, bad TwiML).
    Error,
    /// The simulator's step limit was reached (a TwiML loop without caller input).
    StepLimit,
}

impl EndReason {
    /// The kebab-case name used in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentHangup => "agent-hangup",
            Self::Rejected => "rejected",
            Self::EndOfTwiml => "end-of-twiml",
            Self::CallerHangup => "caller-hangup",
            Self::Error => "error",
            Self::StepLimit => "step-limit",
        }
    }
}

/// Something heard or done on the call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// `<Say>`.
    Say {
        /// The text (SSML children flattened to their text).
        text: String,
        /// `voice`, if set.
        voice: Option<String>,
        /// `language`, if set.
        language: Option<String>,
        /// `loop` (1 when absent; 0 means Twilio's "until the call ends", played once here).
        loops: u32,
    },
    /// `<Play>` (or an audio document).
    Play {
        /// The absolute URL fetched (as Twilio sees it).
        url: String,
        /// The response's `Content-Type`.
        content_type: Option<String>,
        /// Size of the body.
        bytes: usize,
        /// Length of the audio, when it could be decoded (WAV).
        duration_ms: Option<u64>,
    },
    /// `<Pause>`.
    Pause {
        /// Seconds.
        seconds: u32,
    },
    /// `<Record>` made a recording of the caller's turn.
    Record {
        /// Its `RecordingSid`.
        recording_sid: String,
    },
    /// `<Gather>` listened for the caller.
    Gather {
        /// `speech`, `dtmf` or `dtmf speech`.
        input: String,
    },
    /// The caller's turn.
    Caller {
        /// What the caller said, when known (text turns, or a transcript given with the audio).
        text: Option<String>,
        /// Keys pressed.
        digits: Option<String>,
        /// Length of the caller's audio, for recordings.
        audio_ms: Option<u64>,
    },
    /// The caller hung up.
    CallerHangup,
    /// `<Start><Recording>` started a recording of the call.
    StartRecording {
        /// Its `RecordingSid`.
        recording_sid: String,
        /// 2 (dual, the default) or 1 (mono).
        channels: u16,
        /// `inbound`, `outbound` or `both`.
        track: String,
    },
    /// `<Dial>`: the simulated party's outcome.
    Dial {
        /// What was dialled (the number, or the nouns: `Number +1…`, `Client alice`, …).
        target: String,
        /// `DialCallStatus`: `completed`, `busy`, `no-answer` or `failed`.
        outcome: String,
        /// `DialCallSid` of the simulated leg.
        dial_call_sid: String,
        /// How long the dial took (ringing, or the conversation when completed).
        duration_seconds: u64,
    },
    /// `<Hangup>`.
    Hangup,
    /// `<Reject>`.
    Reject {
        /// `busy` or `rejected`.
        reason: String,
    },
    /// `<Connect><Stream>` opened the Media Streams WebSocket.
    Stream {
        /// The `wss://` URL as Twilio sees it.
        url: String,
        /// The `streamSid`.
        stream_sid: String,
    },
    /// The agent's audio on the stream after a caller turn.
    AgentAudio {
        /// Length of the audio, in milliseconds.
        audio_ms: u64,
    },
    /// The stream ended.
    StreamEnd {
        /// Marks the agent placed (each echoed back as played).
        marks: usize,
        /// `clear` messages from the agent.
        clears: usize,
        /// `agent` (it closed the socket) or `caller` (it hung up: `stop`).
        closed_by: String,
    },
    /// A verb the simulator does not execute (`<Enqueue>`, `<Pay>`, …); the call goes on.
    Unsupported {
        /// The verb's name.
        verb: String,
    },
}

/// What a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Purpose {
    /// The incoming-call webhook (the voice URL).
    IncomingCall,
    /// A `<Record>` or `<Gather>` action.
    Action,
    /// A `<Redirect>`.
    Redirect,
    /// A `<Play>` media fetch.
    Media,
    /// A call status callback.
    StatusCallback,
    /// A `<Record recordingStatusCallback>` or `<Start><Recording recordingStatusCallback>`.
    RecordingStatusCallback,
    /// The fallback URL, after a failed document.
    Fallback,
}

impl Purpose {
    /// The snake_case name used in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IncomingCall => "incoming_call",
            Self::Action => "action",
            Self::Redirect => "redirect",
            Self::Media => "media",
            Self::StatusCallback => "status_callback",
            Self::RecordingStatusCallback => "recording_status_callback",
            Self::Fallback => "fallback",
        }
    }
}

/// One HTTP request the simulator made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RequestLog {
    /// What it was for.
    pub purpose: Purpose,
    /// `POST` or `GET`.
    pub method: String,
    /// The URL as Twilio would request it (the public URL; the signature covers it).
    pub url: String,
    /// The HTTP status, when a response came.
    pub status: Option<u16>,
    /// The response's `Content-Type`.
    pub content_type: Option<String>,
    /// Wall-clock time until the whole response was read, in milliseconds.
    pub elapsed_ms: u64,
    /// The error code, when the request failed.
    pub error: Option<TwilioCode>,
    /// Index in [`CallReport::events`] of the first event after this request.
    pub before_event: usize,
    /// Retries made before this outcome (Twilio's connection overrides, `#rc=…&rp=…`).
    pub retries: u32,
}

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The step failed.
    Error,
    /// The call went on.
    Warning,
}

/// An error or warning, as Twilio's debugger would log it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Notification {
    /// Error or warning.
    pub level: Level,
    /// Twilio's code, when Twilio has one for it.
    pub code: Option<TwilioCode>,
    /// What happened, with the URL or value concerned.
    pub message: String,
}
