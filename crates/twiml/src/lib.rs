#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod messaging;
mod node;
mod parse;
mod response;
pub mod schema;
mod url;
mod value;
pub mod voice;
mod write;

pub use crate::error::Error;
pub use crate::messaging::MessagingResponse;
pub use crate::node::{Node, NodeContent, XmlName};
pub use crate::parse::ParseOptions;
pub use crate::url::{Url, WssUrl};
pub use crate::value::{
    BankAccountType, BreakStrength, CallProgressEvent, CardType, ConferenceBeep, ConferenceEvent,
    ConferenceRecord, ConferenceRegion, ConversationEvent, DialRecord, Digits, DtmfKeys,
    EmphasisLevel, GatherInput, HttpMethod, InterpretAs, JitterBufferSize, MachineDetection,
    Password, PayErrorType, PayInput, PayPromptFor, PaymentMethod, PhonemeAlphabet,
    RecordingChannels, RecordingEvent, RecordingTrack, RejectReason, SayAsFormat, Seconds,
    SpeechTimeout, StreamTrack, TokenType, Trim,
};
pub use crate::voice::VoiceResponse;

/// The XML declaration every rendered document starts with.
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
