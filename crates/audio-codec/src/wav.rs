//! WAV (RIFF/WAVE) reading and writing: PCM 8/16/24/32-bit, IEEE float 32/64-bit, μ-law
//! (format tag 7) and A-law (format tag 6), any rate and channel count, `WAVE_FORMAT_EXTENSIBLE`
//! included.
//!
//! The reader is a small RIFF parser of our own (hound reads no G.711 WAV), written for
//! untrusted input: it never panics, allocates at most in proportion to the input, skips chunks
//! it does not know (`LIST`, `fact`, `cue `…), tolerates a `data` chunk whose size runs past the
//! end of the file (streamed WAVs write 0 or `0xFFFFFFFF` there) and drops a trailing partial
//! frame. What is not audio gets a clear [`Error`].
//!
//! ```
//! use kav_audio_codec::{g711, wav};
//!
//! // 8 kHz μ-law WAV, the cheapest format for Twilio's <Play>.
//! let codes = g711::ulaw_encode(&[0, 1000, -1000, 0]);
//! let file = wav::encode_mulaw(&codes, 8_000);
//! let back = wav::decode(&file)?;
//! assert_eq!((back.sample_rate, back.channels), (8_000, 1));
//! assert_eq!(back.samples, g711::ulaw_decode(&codes));
//!
//! // Any WAV, to mono at the rate you need.
//! let stereo = wav::encode_pcm16(&[100, 300, -100, -300], 16_000, 2);
//! let mono = wav::decode_mono(&stereo, 16_000)?;
//! assert_eq!(mono, vec![200, -200]);
//! # Ok::<(), kav_audio_codec::Error>(())
//! ```

use crate::{Error, g711, pcm, resample};

/// `wFormatTag` of integer PCM.
pub const FORMAT_PCM: u16 = 1;
/// `wFormatTag` of IEEE float.
pub const FORMAT_IEEE_FLOAT: u16 = 3;
/// `wFormatTag` of A-law.
pub const FORMAT_ALAW: u16 = 6;
/// `wFormatTag` of μ-law.
pub const FORMAT_MULAW: u16 = 7;
/// `wFormatTag` of `WAVE_FORMAT_EXTENSIBLE` (the real tag is in the sub-format GUID).
pub const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// The largest channel count accepted.
pub const MAX_CHANNELS: u16 = 256;

/// Decoded audio: linear 16-bit samples, interleaved by channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Frames per second.
    pub sample_rate: u32,
    /// Number of interleaved channels (at least 1).
    pub channels: u16,
    /// Interleaved samples, decoded to linear 16-bit from whatever the file held.
    pub samples: Vec<i16>,
}

impl Wav {
    /// Number of frames (samples per channel).
    #[must_use]
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// Averages the channels into one.
    #[must_use]
    pub fn to_mono(&self) -> Vec<i16> {
        downmix(&self.samples, self.channels)
    }
}

/// The `fmt ` chunk fields this reader uses.
#[derive(Debug, Clone, Copy)]
struct Format {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    bits: u16,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Names what well-known non-WAV data looks like, for the error message.
fn sniff(bytes: &[u8]) -> &'static str {
    let starts = |p: &[u8]| bytes.starts_with(p);
    if bytes.len() < 12 {
        "too short for a RIFF header"
    } else if starts(b"ID3") || (bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0) {
        "looks like MP3"
    } else if starts(b"OggS") {
        "looks like Ogg"
    } else if starts(b"fLaC") {
        "looks like FLAC"
    } else if starts(b"RIFX") || starts(b"RF64") {
        "big-endian RIFX and RF64 are not supported"
    } else if starts(b"RIFF") {
        "RIFF file of a type other than WAVE"
    } else if bytes[4..8] == *b"ftyp" {
        "looks like MP4/M4A"
    } else if starts(b"<") || starts(b"{") {
        "looks like text (an HTML or JSON error page?)"
    } else {
        "no RIFF/WAVE header"
    }
}

fn parse_fmt(body: &[u8]) -> Result<Format, Error> {
    if body.len() < 16 {
        return Err(Error::MalformedWav("fmt chunk shorter than 16 bytes"));
    }
    let field = |at| u16_at(body, at).ok_or(Error::MalformedWav("fmt chunk truncated"));
    let mut tag = field(0)?;
    let channels = field(2)?;
    let sample_rate = u32_at(body, 4).ok_or(Error::MalformedWav("fmt chunk truncated"))?;
    let bits = field(14)?;
    if tag == FORMAT_EXTENSIBLE {
        // cbSize (2), valid bits (2), channel mask (4), sub-format GUID (16): its first two
        // bytes are the real format tag.
        tag = u16_at(body, 24).ok_or(Error::MalformedWav(
            "WAVE_FORMAT_EXTENSIBLE fmt chunk without a sub-format",
        ))?;
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(Error::InvalidChannels("channel count must be 1 to 256"));
    }
    if sample_rate == 0 {
        return Err(Error::UnsupportedRate(0));
    }
    let supported = matches!(
        (tag, bits),
        (FORMAT_PCM, 8 | 16 | 24 | 32)
            | (FORMAT_IEEE_FLOAT, 32 | 64)
            | (FORMAT_ALAW | FORMAT_MULAW, 8)
    );
    if !supported {
        return Err(Error::UnsupportedWavFormat {
            format_tag: tag,
            bits_per_sample: bits,
        });
    }
    Ok(Format {
        tag,
        channels,
        sample_rate,
        bits,
    })
}

/// Decodes a WAV file to interleaved linear 16-bit samples.
///
/// 24- and 32-bit PCM keep their top 16 bits; float is scaled by 32768, rounded and saturated;
/// 8-bit PCM is unsigned with 128 as zero, as the format says.
///
/// # Errors
/// [`Error::NotWav`] when the bytes are not RIFF/WAVE (the message names MP3, Ogg, FLAC, MP4 or
/// text when it recognises them), [`Error::MalformedWav`] for a missing or broken `fmt ` or
/// `data` chunk, [`Error::UnsupportedWavFormat`] for encodings other than those listed in the
/// [module documentation](self), [`Error::InvalidChannels`] and [`Error::UnsupportedRate`] for
/// impossible headers.
pub fn decode(bytes: &[u8]) -> Result<Wav, Error> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(Error::NotWav(sniff(bytes)));
    }
    let mut format = None;
    let mut data: Option<&[u8]> = None;
    let mut pos = 12usize;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4).unwrap_or(0) as usize;
        let start = pos + 8;
        let end = start.saturating_add(size).min(bytes.len());
        let body = &bytes[start..end];
        match id {
            b"fmt " if format.is_none() => format = Some(parse_fmt(body)?),
            b"data" if data.is_none() => {
                data = Some(body);
                if size == 0 || end < start.saturating_add(size) {
                    // Streamed WAV (size unknown) or truncated file: the data runs to the end.
                    data = Some(&bytes[start..]);
                    break;
                }
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        pos = start.saturating_add(size).saturating_add(size & 1);
    }
    let format = format.ok_or(Error::MalformedWav("no fmt chunk"))?;
    let data = data.ok_or(Error::MalformedWav("no data chunk"))?;
    let width = usize::from(format.bits / 8);
    let frame = width * usize::from(format.channels);
    let data = &data[..data.len() - data.len() % frame];
    let samples = match (format.tag, format.bits) {
        (FORMAT_PCM, 8) => data.iter().map(|&b| (i16::from(b) - 128) << 8).collect(),
        (FORMAT_PCM, 16) => pcm::pcm16le_to_i16(data),
        (FORMAT_PCM, 24) => data
            .chunks_exact(3)
            .map(|b| i16::from_le_bytes([b[1], b[2]]))
            .collect(),
        (FORMAT_PCM, 32) => data
            .chunks_exact(4)
            .map(|b| i16::from_le_bytes([b[2], b[3]]))
            .collect(),
        (FORMAT_IEEE_FLOAT, 32) => data
            .chunks_exact(4)
            .map(|b| pcm::f32_to_i16_sample(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        (FORMAT_IEEE_FLOAT, _) => data
            .chunks_exact(8)
            .map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                // Narrowing first is fine: f32 has far more precision than 16 bits.
                pcm::f32_to_i16_sample(f64::from_le_bytes(a) as f32)
            })
            .collect(),
        (FORMAT_MULAW, _) => g711::ulaw_decode(data),
        _ => g711::alaw_decode(data),
    };
    Ok(Wav {
        sample_rate: format.sample_rate,
        channels: format.channels,
        samples,
    })
}

/// Averages interleaved channels into mono (rounding to nearest).
#[must_use]
pub fn downmix(samples: &[i16], channels: u16) -> Vec<i16> {
    let ch = usize::from(channels.max(1));
    if ch == 1 {
        return samples.to_vec();
    }
    let n = ch as i32;
    samples
        .chunks_exact(ch)
        .map(|f| {
            let sum: i32 = f.iter().map(|&s| i32::from(s)).sum();
            // Round half away from zero; the mean of i16 values fits in i16.
            let half = if sum < 0 { -n / 2 } else { n / 2 };
            ((sum + half) / n) as i16
        })
        .collect()
}

/// Decodes any supported WAV, averages its channels and resamples it to `rate`.
///
/// # Errors
/// As [`decode`], plus the errors of [`resample::Resampler::new`] for rates it cannot convert.
pub fn decode_mono(bytes: &[u8], rate: u32) -> Result<Vec<i16>, Error> {
    let wav = decode(bytes)?;
    let mono = wav.to_mono();
    if wav.sample_rate == rate {
        return Ok(mono);
    }
    resample(&mono, wav.sample_rate, rate)
}

/// Writes a canonical RIFF header. Sizes that do not fit 32 bits are written as `0xFFFFFFFF`
/// (the convention for streamed WAVs).
fn header(tag: u16, channels: u16, rate: u32, bits: u16, data_len: usize) -> Vec<u8> {
    let non_pcm = tag != FORMAT_PCM;
    let fmt_len: u32 = if non_pcm { 18 } else { 16 };
    let fact_len: u32 = if non_pcm { 12 } else { 0 };
    let block = channels.saturating_mul(bits / 8);
    let data32 = u32::try_from(data_len).ok();
    let riff = data32
        .and_then(|d| d.checked_add(4 + 8 + fmt_len + fact_len + 8 + (d & 1)))
        .unwrap_or(u32::MAX);
    let mut h = Vec::with_capacity(58 + data_len + 1);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&fmt_len.to_le_bytes());
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&rate.saturating_mul(u32::from(block)).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    if non_pcm {
        h.extend_from_slice(&0u16.to_le_bytes()); // cbSize
        h.extend_from_slice(b"fact");
        h.extend_from_slice(&4u32.to_le_bytes());
        let frames = data_len / usize::from(block.max(1));
        h.extend_from_slice(&u32::try_from(frames).unwrap_or(u32::MAX).to_le_bytes());
    }
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data32.unwrap_or(u32::MAX).to_le_bytes());
    h
}

/// Encodes interleaved samples as a PCM16 WAV file (44-byte canonical header).
///
/// `channels` is written as given; `samples.len()` should be a multiple of it.
#[must_use]
pub fn encode_pcm16(samples: &[i16], rate: u32, channels: u16) -> Vec<u8> {
    let mut out = header(FORMAT_PCM, channels, rate, 16, samples.len() * 2);
    let start = out.len();
    out.resize(start + samples.len() * 2, 0);
    pcm::i16_to_pcm16le_into(samples, &mut out[start..]);
    out
}

fn encode_g711(tag: u16, codes: &[u8], rate: u32) -> Vec<u8> {
    let mut out = header(tag, 1, rate, 8, codes.len());
    out.extend_from_slice(codes);
    if codes.len() % 2 == 1 {
        out.push(0); // RIFF pad byte
    }
    out
}

/// Wraps mono μ-law codes in a WAV file (format tag 7, with the `fact` chunk non-PCM formats
/// carry): what Twilio's `<Play>` plays most cheaply at 8 kHz.
#[must_use]
pub fn encode_mulaw(codes: &[u8], rate: u32) -> Vec<u8> {
    encode_g711(FORMAT_MULAW, codes, rate)
}

/// Wraps mono A-law codes in a WAV file (format tag 6).
#[must_use]
pub fn encode_alaw(codes: &[u8], rate: u32) -> Vec<u8> {
    encode_g711(FORMAT_ALAW, codes, rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm16_round_trip_and_header_size() {
        let s = [1i16, -2, 3, -4, 5, -6];
        let f = encode_pcm16(&s, 16_000, 2);
        assert_eq!(f.len(), 44 + 12);
        let w = decode(&f).unwrap();
        assert_eq!((w.sample_rate, w.channels, w.frames()), (16_000, 2, 3));
        assert_eq!(w.samples, s);
    }

    #[test]
    fn g711_round_trip_odd_length_is_padded() {
        let codes = [1u8, 2, 3];
        let f = encode_alaw(&codes, 8_000);
        assert_eq!(f.len() % 2, 0);
        let w = decode(&f).unwrap();
        assert_eq!(w.samples, g711::alaw_decode(&codes));
    }

    #[test]
    fn not_audio_is_named() {
        let cases: [(&[u8], &str); 4] = [
            (b"ID3\x04\0\0\0\0\0\0\0\0\0", "MP3"),
            (b"OggS\0\0\0\0\0\0\0\0\0", "Ogg"),
            (b"<html><body>oops</body></html>", "text"),
            (b"RIF", "too short"),
        ];
        for (bytes, word) in cases {
            let e = decode(bytes).unwrap_err().to_string();
            assert!(e.contains(word), "{e}");
        }
    }

    #[test]
    fn streamed_size_and_truncation_are_tolerated() {
        let mut f = encode_pcm16(&[10, 20, 30], 8_000, 1);
        f[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        f.pop(); // half a sample
        assert_eq!(decode(&f).unwrap().samples, vec![10, 20]);
    }

    #[test]
    fn downmix_rounds() {
        assert_eq!(downmix(&[1, 2, -1, -2, 3, 3], 2), vec![2, -2, 3]);
        assert_eq!(
            downmix(&[i16::MAX, i16::MAX, i16::MIN, i16::MIN], 2),
            vec![i16::MAX, i16::MIN]
        );
    }
}
