#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod message;
mod sid;
mod stream;

pub use error::Error;
pub use message::{
    Connected, Dtmf, DtmfDigit, DtmfTrack, Encoding, InboundMessage, Mark, Media, MediaFormat,
    OutboundMessage, Start, Stop, Track,
};
pub use sid::{AccountSid, CallSid, StreamSid};
pub use stream::{
    Config, Event, FRAME_DURATION, FRAME_SAMPLES, MediaStream, PlaybackPosition, SAMPLE_RATE,
    UtteranceId,
};
