//! The messages of the Media Streams WebSocket, in both directions, exactly as Twilio documents
//! them (<https://www.twilio.com/docs/voice/media-streams/websocket-messages>).
//!
//! Parsing is one pass over the text with serde: strings are borrowed from the input when they
//! need no unescaping, so parsing a `media` message allocates nothing. Counters that Twilio sends
//! as decimal strings (`sequenceNumber`, `media.chunk`, `media.timestamp`) become integers; SIDs
//! become validated newtypes; unknown fields are ignored; a missing required field is
//! [`Error::MissingField`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::error::excerpt;
use crate::{AccountSid, CallSid, Error, StreamSid};

/// A media track, as named in `start.tracks` and `media.track`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Track {
    /// Audio from the caller to Twilio (`inbound`).
    Inbound,
    /// Audio Twilio plays to the caller (`outbound`), streamed only with `<Start><Stream
    /// track="outbound_track|both_tracks">`.
    Outbound,
}

impl Track {
    /// The wire name (`inbound` / `outbound`).
    pub fn as_str(self) -> &'static str {
        match self {
            Track::Inbound => "inbound",
            Track::Outbound => "outbound",
        }
    }

    fn parse(field: &'static str, s: &str) -> Result<Self, Error> {
        match s {
            "inbound" => Ok(Track::Inbound),
            "outbound" => Ok(Track::Outbound),
            _ => Err(invalid_value(field, s)),
        }
    }
}

/// The track a DTMF tone was detected on (`dtmf.track`). Twilio documents it as always
/// `inbound_track`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DtmfTrack {
    /// `inbound_track`: the caller pressed the key.
    InboundTrack,
    /// `outbound_track`.
    OutboundTrack,
}

impl DtmfTrack {
    /// The wire name (`inbound_track` / `outbound_track`).
    pub fn as_str(self) -> &'static str {
        match self {
            DtmfTrack::InboundTrack => "inbound_track",
            DtmfTrack::OutboundTrack => "outbound_track",
        }
    }

    fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "inbound_track" => Ok(DtmfTrack::InboundTrack),
            "outbound_track" => Ok(DtmfTrack::OutboundTrack),
            _ => Err(invalid_value("dtmf.track", s)),
        }
    }
}

/// A DTMF key: `0`–`9`, `*`, `#` and the rarely used `A`–`D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfDigit(char);

impl DtmfDigit {
    /// Validates a key.
    pub fn new(c: char) -> Result<Self, Error> {
        match c {
            '0'..='9' | '*' | '#' | 'A'..='D' => Ok(DtmfDigit(c)),
            _ => Err(invalid_value("dtmf.digit", c.encode_utf8(&mut [0; 4]))),
        }
    }

    /// The key as a character.
    pub fn as_char(self) -> char {
        self.0
    }

    fn parse(s: &str) -> Result<Self, Error> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => DtmfDigit::new(c),
            _ => Err(invalid_value("dtmf.digit", s)),
        }
    }
}

impl fmt::Display for DtmfDigit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The audio encoding of `start.mediaFormat.encoding`. Twilio documents it as always
/// `audio/x-mulaw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// G.711 μ-law (`audio/x-mulaw`).
    MuLaw,
}

impl Encoding {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::MuLaw => "audio/x-mulaw",
        }
    }
}

/// `start.mediaFormat`: the format of every `media.payload` of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaFormat {
    /// The encoding (always μ-law).
    pub encoding: Encoding,
    /// Samples per second (always 8000).
    pub sample_rate: u32,
    /// Number of channels (always 1).
    pub channels: u16,
}

impl Default for MediaFormat {
    fn default() -> Self {
        MediaFormat {
            encoding: Encoding::MuLaw,
            sample_rate: 8000,
            channels: 1,
        }
    }
}

/// `connected`: the first message, naming the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// `protocol` (`Call`).
    pub protocol: String,
    /// `version` (`1.0.0`).
    pub version: String,
}

/// `start`: the stream's metadata, sent once after `connected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// `sequenceNumber`.
    pub sequence_number: u64,
    /// `start.streamSid`.
    pub stream_sid: StreamSid,
    /// `start.accountSid`.
    pub account_sid: AccountSid,
    /// `start.callSid`.
    pub call_sid: CallSid,
    /// `start.tracks`.
    pub tracks: Vec<Track>,
    /// `start.mediaFormat`.
    pub media_format: MediaFormat,
    /// `start.customParameters`: the `<Parameter>`s of the `<Stream>` (empty when absent).
    pub custom_parameters: BTreeMap<String, String>,
}

/// `media`: 20 ms (usually) of audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media<'a> {
    /// `sequenceNumber`.
    pub sequence_number: u64,
    /// `streamSid`.
    pub stream_sid: StreamSid,
    /// `media.track`.
    pub track: Track,
    /// `media.chunk`: 1 for the first chunk of the track, then +1 per message.
    pub chunk: u64,
    /// `media.timestamp`: milliseconds since the start of the stream.
    pub timestamp: u64,
    /// `media.payload`: the base64 text of the audio, borrowed from the message when possible.
    /// Decode it with [`Media::decode_payload_into`].
    pub payload: Cow<'a, str>,
}

impl Media<'_> {
    /// Decodes the base64 payload into `out` (cleared first). No allocation once `out` has the
    /// capacity of a frame (160 bytes for 20 ms of μ-law).
    pub fn decode_payload_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        out.clear();
        BASE64
            .decode_vec(self.payload.as_bytes(), out)
            .map_err(Error::Base64)
    }

    /// Decodes the base64 payload into a new vector.
    pub fn decode_payload(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.payload.len() / 4 * 3);
        self.decode_payload_into(&mut out)?;
        Ok(out)
    }

    /// Converts into a message that owns its payload.
    pub fn into_owned(self) -> Media<'static> {
        Media {
            payload: Cow::Owned(self.payload.into_owned()),
            ..self
        }
    }
}

/// `dtmf`: the caller pressed a key (bidirectional streams only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtmf {
    /// `sequenceNumber`.
    pub sequence_number: u64,
    /// `streamSid`.
    pub stream_sid: StreamSid,
    /// `dtmf.track`.
    pub track: DtmfTrack,
    /// `dtmf.digit`.
    pub digit: DtmfDigit,
}

/// `mark` from Twilio: the audio sent before the mark of that name has been played, or was
/// dropped by a `clear` (bidirectional streams only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark<'a> {
    /// `sequenceNumber`.
    pub sequence_number: u64,
    /// `streamSid`.
    pub stream_sid: StreamSid,
    /// `mark.name`.
    pub name: Cow<'a, str>,
}

/// `stop`: the stream has ended (the call hung up, or the stream was stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// `sequenceNumber`.
    pub sequence_number: u64,
    /// `streamSid`.
    pub stream_sid: StreamSid,
    /// `stop.accountSid`.
    pub account_sid: AccountSid,
    /// `stop.callSid`.
    pub call_sid: CallSid,
}

/// A message Twilio sends to the WebSocket server.
///
/// ```
/// use kav_media_stream::{InboundMessage, Track};
///
/// let text = r#"{"event":"media","sequenceNumber":"4","media":{"track":"inbound","chunk":"2",
///     "timestamp":"5","payload":"/w=="},"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}"#;
/// let InboundMessage::Media(media) = InboundMessage::parse(text)? else { unreachable!() };
/// assert_eq!((media.sequence_number, media.chunk, media.timestamp), (4, 2, 5));
/// assert_eq!(media.track, Track::Inbound);
/// assert_eq!(media.decode_payload()?, [0xFF]);
/// # Ok::<(), kav_media_stream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboundMessage<'a> {
    /// `connected`.
    Connected(Connected),
    /// `start`.
    Start(Start),
    /// `media`.
    Media(Media<'a>),
    /// `dtmf`.
    Dtmf(Dtmf),
    /// `mark`.
    Mark(Mark<'a>),
    /// `stop`.
    Stop(Stop),
}

impl<'a> InboundMessage<'a> {
    /// Parses one WebSocket text message. Any input gives a message or an error, never a panic.
    pub fn parse(text: &'a str) -> Result<Self, Error> {
        let wire: WireIn<'a> = serde_json::from_str(text).map_err(Error::Json)?;
        wire.into_typed()
    }

    /// Parses one WebSocket message given as bytes (it must be UTF-8 JSON).
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        let wire: WireIn<'a> = serde_json::from_slice(bytes).map_err(Error::Json)?;
        wire.into_typed()
    }

    /// The `event` name.
    pub fn event(&self) -> &'static str {
        match self {
            InboundMessage::Connected(_) => "connected",
            InboundMessage::Start(_) => "start",
            InboundMessage::Media(_) => "media",
            InboundMessage::Dtmf(_) => "dtmf",
            InboundMessage::Mark(_) => "mark",
            InboundMessage::Stop(_) => "stop",
        }
    }

    /// `sequenceNumber` (every message but `connected` has one).
    pub fn sequence_number(&self) -> Option<u64> {
        match self {
            InboundMessage::Connected(_) => None,
            InboundMessage::Start(m) => Some(m.sequence_number),
            InboundMessage::Media(m) => Some(m.sequence_number),
            InboundMessage::Dtmf(m) => Some(m.sequence_number),
            InboundMessage::Mark(m) => Some(m.sequence_number),
            InboundMessage::Stop(m) => Some(m.sequence_number),
        }
    }

    /// `streamSid` (every message but `connected` has one).
    pub fn stream_sid(&self) -> Option<StreamSid> {
        match self {
            InboundMessage::Connected(_) => None,
            InboundMessage::Start(m) => Some(m.stream_sid),
            InboundMessage::Media(m) => Some(m.stream_sid),
            InboundMessage::Dtmf(m) => Some(m.stream_sid),
            InboundMessage::Mark(m) => Some(m.stream_sid),
            InboundMessage::Stop(m) => Some(m.stream_sid),
        }
    }

    /// Writes the message as Twilio would send it (for simulators and tests), replacing the
    /// contents of `out`. Counters are written as decimal strings.
    pub fn write_json(&self, out: &mut String) {
        out.clear();
        let seq = self.sequence_number().map(|n| n.to_string());
        let sid = self.stream_sid();
        let mut wire = WireOut {
            event: self.event(),
            sequence_number: seq.as_deref(),
            stream_sid: sid.as_ref().map(StreamSid::as_str),
            ..WireOut::default()
        };
        let (chunk, timestamp, digit);
        match self {
            InboundMessage::Connected(c) => {
                wire.protocol = Some(&c.protocol);
                wire.version = Some(&c.version);
            }
            InboundMessage::Start(s) => {
                wire.start = Some(WireStartOut {
                    account_sid: s.account_sid.as_str(),
                    stream_sid: s.stream_sid.as_str(),
                    call_sid: s.call_sid.as_str(),
                    tracks: s.tracks.iter().map(|t| t.as_str()).collect(),
                    media_format: WireMediaFormatOut {
                        encoding: s.media_format.encoding.as_str(),
                        sample_rate: s.media_format.sample_rate,
                        channels: s.media_format.channels,
                    },
                    custom_parameters: &s.custom_parameters,
                });
            }
            InboundMessage::Media(m) => {
                chunk = m.chunk.to_string();
                timestamp = m.timestamp.to_string();
                wire.media = Some(WireMediaOut {
                    track: Some(m.track.as_str()),
                    chunk: Some(&chunk),
                    timestamp: Some(&timestamp),
                    payload: &m.payload,
                });
            }
            InboundMessage::Dtmf(d) => {
                digit = d.digit.to_string();
                wire.dtmf = Some(WireDtmfOut {
                    track: d.track.as_str(),
                    digit: &digit,
                });
            }
            InboundMessage::Mark(m) => wire.mark = Some(WireMarkOut { name: &m.name }),
            InboundMessage::Stop(s) => {
                wire.stop = Some(WireStopOut {
                    account_sid: s.account_sid.as_str(),
                    call_sid: s.call_sid.as_str(),
                });
            }
        }
        // Serializing plain strings, integers and maps of strings into a String cannot fail.
        if let Ok(json) = serde_json::to_string(&wire) {
            out.push_str(&json);
        }
    }

    /// The message as Twilio would send it (see [`InboundMessage::write_json`]).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    /// Converts into a message that owns all its data.
    pub fn into_owned(self) -> InboundMessage<'static> {
        match self {
            InboundMessage::Connected(c) => InboundMessage::Connected(c),
            InboundMessage::Start(s) => InboundMessage::Start(s),
            InboundMessage::Media(m) => InboundMessage::Media(m.into_owned()),
            InboundMessage::Dtmf(d) => InboundMessage::Dtmf(d),
            InboundMessage::Mark(m) => InboundMessage::Mark(Mark {
                sequence_number: m.sequence_number,
                stream_sid: m.stream_sid,
                name: Cow::Owned(m.name.into_owned()),
            }),
            InboundMessage::Stop(s) => InboundMessage::Stop(s),
        }
    }
}

/// A message the WebSocket server sends to Twilio (bidirectional streams only).
///
/// [`OutboundMessage::write_json`] serializes into a reusable buffer without allocating.
///
/// ```
/// use kav_media_stream::{OutboundMessage, StreamSid};
///
/// let stream_sid: StreamSid = "MZ18ad3ab5a668481ce02b83e7395059f0".parse()?;
/// let mut json = String::new();
/// OutboundMessage::Clear { stream_sid }.write_json(&mut json);
/// assert_eq!(json, r#"{"event":"clear","streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}"#);
/// # Ok::<(), kav_media_stream::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutboundMessage<'a> {
    /// `media`: audio to play to the caller.
    Media {
        /// `streamSid`.
        stream_sid: StreamSid,
        /// Raw μ-law 8 kHz audio (base64-encoded on the wire).
        payload: Cow<'a, [u8]>,
    },
    /// `mark`: ask Twilio to report when the audio sent so far has been played.
    Mark {
        /// `streamSid`.
        stream_sid: StreamSid,
        /// `mark.name`.
        name: Cow<'a, str>,
    },
    /// `clear`: drop the audio Twilio has buffered; Twilio then returns every pending mark.
    Clear {
        /// `streamSid`.
        stream_sid: StreamSid,
    },
}

impl<'a> OutboundMessage<'a> {
    /// The `event` name.
    pub fn event(&self) -> &'static str {
        match self {
            OutboundMessage::Media { .. } => "media",
            OutboundMessage::Mark { .. } => "mark",
            OutboundMessage::Clear { .. } => "clear",
        }
    }

    /// The `streamSid` the message is addressed to.
    pub fn stream_sid(&self) -> StreamSid {
        match self {
            OutboundMessage::Media { stream_sid, .. }
            | OutboundMessage::Mark { stream_sid, .. }
            | OutboundMessage::Clear { stream_sid } => *stream_sid,
        }
    }

    /// Writes the message's JSON into `out`, replacing its contents. Allocation-free once `out`
    /// has grown to the size of a message (about 300 bytes for a 20 ms frame).
    pub fn write_json(&self, out: &mut String) {
        out.clear();
        out.push_str(r#"{"event":""#);
        out.push_str(self.event());
        out.push_str(r#"","streamSid":""#);
        out.push_str(self.stream_sid().as_str());
        out.push('"');
        match self {
            OutboundMessage::Media { payload, .. } => {
                out.push_str(r#","media":{"payload":""#);
                BASE64.encode_string(payload, out);
                out.push_str("\"}");
            }
            OutboundMessage::Mark { name, .. } => {
                out.push_str(r#","mark":{"name":"#);
                push_json_string(out, name);
                out.push('}');
            }
            OutboundMessage::Clear { .. } => {}
        }
        out.push('}');
    }

    /// The message's JSON (see [`OutboundMessage::write_json`]).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    /// Parses a message as Twilio receives it (for simulators and tests). The payload is decoded
    /// from base64.
    pub fn parse(text: &'a str) -> Result<Self, Error> {
        let wire: WireIn<'a> = serde_json::from_str(text).map_err(Error::Json)?;
        let event: &'static str = match &*wire.event {
            "media" => "media",
            "mark" => "mark",
            "clear" => "clear",
            other => return Err(Error::UnknownEvent(excerpt(other))),
        };
        let stream_sid = StreamSid::parse(&required(event, "streamSid", wire.stream_sid)?)?;
        Ok(match event {
            "media" => {
                let media = required(event, "media", wire.media)?;
                let payload = required(event, "media.payload", media.payload)?;
                let mut bytes = Vec::with_capacity(payload.len() / 4 * 3);
                BASE64
                    .decode_vec(payload.as_bytes(), &mut bytes)
                    .map_err(Error::Base64)?;
                OutboundMessage::Media {
                    stream_sid,
                    payload: Cow::Owned(bytes),
                }
            }
            "mark" => {
                let mark = required(event, "mark", wire.mark)?;
                OutboundMessage::Mark {
                    stream_sid,
                    name: required(event, "mark.name", mark.name)?.0,
                }
            }
            _ => OutboundMessage::Clear { stream_sid },
        })
    }

    /// Converts into a message that owns all its data.
    pub fn into_owned(self) -> OutboundMessage<'static> {
        match self {
            OutboundMessage::Media {
                stream_sid,
                payload,
            } => OutboundMessage::Media {
                stream_sid,
                payload: Cow::Owned(payload.into_owned()),
            },
            OutboundMessage::Mark { stream_sid, name } => OutboundMessage::Mark {
                stream_sid,
                name: Cow::Owned(name.into_owned()),
            },
            OutboundMessage::Clear { stream_sid } => OutboundMessage::Clear { stream_sid },
        }
    }
}

/// Appends `s` as a JSON string literal (quotes included).
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let n = c as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[n >> 4]));
                out.push(char::from(HEX[n & 0xF]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn invalid_value(field: &'static str, value: &str) -> Error {
    Error::InvalidValue {
        field,
        value: excerpt(value),
    }
}

fn required<T>(event: &'static str, field: &'static str, value: Option<T>) -> Result<T, Error> {
    value.ok_or(Error::MissingField { event, field })
}

/// Parses a counter sent as a decimal string: digits only, no sign, no spaces, fits in `u64`.
fn parse_counter(field: &'static str, s: &str) -> Result<u64, Error> {
    let bad = || Error::InvalidNumber {
        field,
        value: excerpt(s),
    };
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    s.parse().map_err(|_| bad())
}

// ---- wire shapes (private) -------------------------------------------------------------------

/// A string borrowed from the input when it has no escapes, copied otherwise.
///
/// serde borrows a `Cow<str>` field only when its type is exactly `Cow<str>`, not inside an
/// `Option`; this wrapper borrows wherever it is.
pub(crate) struct Str<'a>(pub(crate) Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

/// Every field any message may carry, all optional: one pass, whatever the field order, and a
/// precise [`Error::MissingField`] afterwards.
#[derive(Deserialize)]
struct WireIn<'a> {
    #[serde(borrow)]
    event: Str<'a>,
    #[serde(rename = "sequenceNumber", borrow, default)]
    sequence_number: Option<Str<'a>>,
    #[serde(rename = "streamSid", borrow, default)]
    stream_sid: Option<Str<'a>>,
    #[serde(borrow, default)]
    protocol: Option<Str<'a>>,
    #[serde(borrow, default)]
    version: Option<Str<'a>>,
    #[serde(borrow, default)]
    start: Option<WireStart<'a>>,
    #[serde(borrow, default)]
    media: Option<WireMedia<'a>>,
    #[serde(borrow, default)]
    dtmf: Option<WireDtmf<'a>>,
    #[serde(borrow, default)]
    mark: Option<WireMark<'a>>,
    #[serde(borrow, default)]
    stop: Option<WireStop<'a>>,
}

#[derive(Deserialize)]
struct WireStart<'a> {
    #[serde(rename = "accountSid", borrow, default)]
    account_sid: Option<Str<'a>>,
    #[serde(rename = "streamSid", borrow, default)]
    stream_sid: Option<Str<'a>>,
    #[serde(rename = "callSid", borrow, default)]
    call_sid: Option<Str<'a>>,
    #[serde(borrow, default)]
    tracks: Option<Vec<Str<'a>>>,
    #[serde(rename = "mediaFormat", borrow, default)]
    media_format: Option<WireMediaFormat<'a>>,
    #[serde(rename = "customParameters", default)]
    custom_parameters: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct WireMediaFormat<'a> {
    #[serde(borrow, default)]
    encoding: Option<Str<'a>>,
    #[serde(rename = "sampleRate", default)]
    sample_rate: Option<u32>,
    #[serde(default)]
    channels: Option<u16>,
}

#[derive(Deserialize)]
struct WireMedia<'a> {
    #[serde(borrow, default)]
    track: Option<Str<'a>>,
    #[serde(borrow, default)]
    chunk: Option<Str<'a>>,
    #[serde(borrow, default)]
    timestamp: Option<Str<'a>>,
    #[serde(borrow, default)]
    payload: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct WireDtmf<'a> {
    #[serde(borrow, default)]
    track: Option<Str<'a>>,
    #[serde(borrow, default)]
    digit: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct WireMark<'a> {
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct WireStop<'a> {
    #[serde(rename = "accountSid", borrow, default)]
    account_sid: Option<Str<'a>>,
    #[serde(rename = "callSid", borrow, default)]
    call_sid: Option<Str<'a>>,
}

impl<'a> WireIn<'a> {
    fn into_typed(self) -> Result<InboundMessage<'a>, Error> {
        let event: &'static str = match &*self.event {
            "connected" => "connected",
            "start" => "start",
            "media" => "media",
            "dtmf" => "dtmf",
            "mark" => "mark",
            "stop" => "stop",
            other => return Err(Error::UnknownEvent(excerpt(other))),
        };
        if event == "connected" {
            return Ok(InboundMessage::Connected(Connected {
                protocol: required(event, "protocol", self.protocol)?.0.into_owned(),
                version: required(event, "version", self.version)?.0.into_owned(),
            }));
        }
        let sequence_number = parse_counter(
            "sequenceNumber",
            &required(event, "sequenceNumber", self.sequence_number)?,
        )?;
        if event == "start" {
            let start = required(event, "start", self.start)?;
            let stream_sid =
                StreamSid::parse(&required(event, "start.streamSid", start.stream_sid)?)?;
            if let Some(top) = self.stream_sid {
                let top_level = StreamSid::parse(&top)?;
                if top_level != stream_sid {
                    return Err(Error::InconsistentStart {
                        top_level,
                        in_start: stream_sid,
                    });
                }
            }
            let format = required(event, "start.mediaFormat", start.media_format)?;
            let encoding = required(event, "start.mediaFormat.encoding", format.encoding)?;
            let encoding = match &*encoding {
                "audio/x-mulaw" => Encoding::MuLaw,
                other => return Err(invalid_value("start.mediaFormat.encoding", other)),
            };
            let tracks = required(event, "start.tracks", start.tracks)?
                .iter()
                .map(|t| Track::parse("start.tracks", t))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(InboundMessage::Start(Start {
                sequence_number,
                stream_sid,
                account_sid: AccountSid::parse(&required(
                    event,
                    "start.accountSid",
                    start.account_sid,
                )?)?,
                call_sid: CallSid::parse(&required(event, "start.callSid", start.call_sid)?)?,
                tracks,
                media_format: MediaFormat {
                    encoding,
                    sample_rate: required(
                        event,
                        "start.mediaFormat.sampleRate",
                        format.sample_rate,
                    )?,
                    channels: required(event, "start.mediaFormat.channels", format.channels)?,
                },
                custom_parameters: start.custom_parameters.unwrap_or_default(),
            }));
        }
        let stream_sid = StreamSid::parse(&required(event, "streamSid", self.stream_sid)?)?;
        Ok(match event {
            "media" => {
                let media = required(event, "media", self.media)?;
                InboundMessage::Media(Media {
                    sequence_number,
                    stream_sid,
                    track: Track::parse(
                        "media.track",
                        &required(event, "media.track", media.track)?,
                    )?,
                    chunk: parse_counter(
                        "media.chunk",
                        &required(event, "media.chunk", media.chunk)?,
                    )?,
                    timestamp: parse_counter(
                        "media.timestamp",
                        &required(event, "media.timestamp", media.timestamp)?,
                    )?,
                    payload: required(event, "media.payload", media.payload)?.0,
                })
            }
            "dtmf" => {
                let dtmf = required(event, "dtmf", self.dtmf)?;
                InboundMessage::Dtmf(Dtmf {
                    sequence_number,
                    stream_sid,
                    track: DtmfTrack::parse(&required(event, "dtmf.track", dtmf.track)?)?,
                    digit: DtmfDigit::parse(&required(event, "dtmf.digit", dtmf.digit)?)?,
                })
            }
            "mark" => {
                let mark = required(event, "mark", self.mark)?;
                InboundMessage::Mark(Mark {
                    sequence_number,
                    stream_sid,
                    name: required(event, "mark.name", mark.name)?.0,
                })
            }
            _ => {
                let stop = required(event, "stop", self.stop)?;
                InboundMessage::Stop(Stop {
                    sequence_number,
                    stream_sid,
                    account_sid: AccountSid::parse(&required(
                        event,
                        "stop.accountSid",
                        stop.account_sid,
                    )?)?,
                    call_sid: CallSid::parse(&required(event, "stop.callSid", stop.call_sid)?)?,
                })
            }
        })
    }
}

#[derive(Serialize, Default)]
struct WireOut<'a> {
    event: &'a str,
    #[serde(rename = "sequenceNumber", skip_serializing_if = "Option::is_none")]
    sequence_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<WireStartOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<WireMediaOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dtmf: Option<WireDtmfOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mark: Option<WireMarkOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<WireStopOut<'a>>,
    #[serde(rename = "streamSid", skip_serializing_if = "Option::is_none")]
    stream_sid: Option<&'a str>,
}

#[derive(Serialize)]
struct WireStartOut<'a> {
    #[serde(rename = "accountSid")]
    account_sid: &'a str,
    #[serde(rename = "streamSid")]
    stream_sid: &'a str,
    #[serde(rename = "callSid")]
    call_sid: &'a str,
    tracks: Vec<&'static str>,
    #[serde(rename = "mediaFormat")]
    media_format: WireMediaFormatOut<'a>,
    #[serde(rename = "customParameters")]
    custom_parameters: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct WireMediaFormatOut<'a> {
    encoding: &'a str,
    #[serde(rename = "sampleRate")]
    sample_rate: u32,
    channels: u16,
}

#[derive(Serialize)]
struct WireMediaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    track: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chunk: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    payload: &'a str,
}

#[derive(Serialize)]
struct WireDtmfOut<'a> {
    track: &'a str,
    digit: &'a str,
}

#[derive(Serialize)]
struct WireMarkOut<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct WireStopOut<'a> {
    #[serde(rename = "accountSid")]
    account_sid: &'a str,
    #[serde(rename = "callSid")]
    call_sid: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_reject_garbage() {
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "0x10",
            "1.0",
            "18446744073709551616",
            "١",
        ] {
            assert!(
                matches!(
                    parse_counter("sequenceNumber", bad),
                    Err(Error::InvalidNumber { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_counter("x", "18446744073709551615").unwrap(),
            u64::MAX
        );
        assert_eq!(parse_counter("x", "007").unwrap(), 7);
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn dtmf_digits() {
        for ok in ["0", "9", "*", "#", "A", "D"] {
            assert!(DtmfDigit::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "10", "E", "a", " "] {
            assert!(DtmfDigit::parse(bad).is_err(), "{bad:?}");
        }
    }
}
