//! The crate's error type: what stops a simulation before or outside the call itself.
//!
//! What goes wrong *during* a call (an unreachable webhook, bad TwiML) is not an [`Error`]: it is
//! reported in the [`CallReport`](crate::CallReport) with the code Twilio would log.

use std::path::PathBuf;

/// Everything that prevents a simulated call from being set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `--server` address is not an absolute `http://` or `https://` URL.
    #[error("invalid server URL `{value}`: {reason}")]
    InvalidServerUrl {
        /// The rejected text.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The public URL is not an absolute URL Twilio could call.
    #[error("invalid public URL `{value}`")]
    InvalidPublicUrl {
        /// The rejected text.
        value: String,
        /// What the URL parser reported.
        #[source]
        source: kav_twilio_sig::SigError,
    },
    /// A configuration value is invalid (an empty auth token, a malformed SID…).
    #[error("invalid {field}: {reason}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A script line or TOML document could not be read.
    #[error("invalid call script at line {line}: {reason}")]
    InvalidScript {
        /// 1-based line number (0 for a TOML document error).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A file (caller audio, script) could not be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Caller audio is not a WAV file this crate can decode.
    #[error("caller audio `{name}` is not a usable WAV file")]
    CallerAudio {
        /// The file or turn.
        name: String,
        /// What the decoder reported.
        #[source]
        source: kav_audio_codec::Error,
    },
    /// espeak-ng could not be run or failed.
    #[error("espeak-ng failed: {reason}")]
    Espeak {
        /// What went wrong (exit status or spawn error).
        reason: String,
    },
    /// The local recordings host could not be started.
    #[error("cannot start the recordings host")]
    RecordingsHost(#[source] std::io::Error),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
}
