#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod framer;
pub mod g711;
pub mod pcm;
pub mod resample;
pub mod vad;
pub mod wav;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use error::Error;
pub use framer::Framer;
pub use g711::{
    ALAW_SILENCE, ULAW_SILENCE, alaw_decode, alaw_decode_into, alaw_encode, alaw_encode_into,
    ulaw_decode, ulaw_decode_into, ulaw_encode, ulaw_encode_into,
};
pub use resample::{Resampler, resample};
pub use vad::{Vad, VadConfig, VadEvent, VadFrame};
pub use wav::Wav;
