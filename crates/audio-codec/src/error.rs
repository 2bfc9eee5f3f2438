//! The crate's error type.

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A sample rate of zero, or one this crate does not support.
    #[error("unsupported sample rate: {0} Hz")]
    UnsupportedRate(u32),
    /// The resampler could not be built for this pair of rates.
    #[error("cannot resample from {from} Hz to {to} Hz")]
    UnsupportedRatio {
        /// Input rate in Hz.
        from: u32,
        /// Output rate in Hz.
        to: u32,
    },
    /// The bytes are not a RIFF/WAVE file.
    #[error("not a WAV file: {0}")]
    NotWav(&'static str),
    /// The WAV file is a WAVE file but its structure is broken or truncated.
    #[error("malformed WAV file: {0}")]
    MalformedWav(&'static str),
    /// The WAV file holds audio in an encoding this crate does not decode.
    #[error("unsupported WAV encoding: format tag {format_tag}, {bits_per_sample} bits per sample")]
    UnsupportedWavFormat {
        /// The `wFormatTag` of the `fmt ` chunk (after resolving `WAVE_FORMAT_EXTENSIBLE`).
        format_tag: u16,
        /// The `wBitsPerSample` of the `fmt ` chunk.
        bits_per_sample: u16,
    },
    /// A channel count of zero or a mismatch between samples and channels.
    #[error("invalid channel layout: {0}")]
    InvalidChannels(&'static str),
}
