#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod callrec;
mod codes;
mod config;
mod error;
mod overrides;
mod recordings;
mod report;
mod script;
mod simulator;
mod speech;
mod stream;
mod time;

pub mod cli;

pub use codes::TwilioCode;
pub use config::{DEFAULT_ACCOUNT_SID, DialOutcome, SimConfig};
pub use error::Error;
pub use kav_twilio_sig::SecretString;
pub use report::{
    CallReport, EndReason, Event, Level, Media, Notification, Purpose, REPORT_VERSION, Recording,
    RequestLog,
};
pub use script::{CallScript, CallerAudio, Turn};
pub use simulator::{SPEECH_CONFIDENCE, Simulator};
