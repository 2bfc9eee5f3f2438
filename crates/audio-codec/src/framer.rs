//! A 20 ms framer: any byte stream in, 160-byte μ-law (or A-law) frames out.
//!
//! Twilio Media Streams carry 8 kHz G.711 in 20 ms frames of 160 bytes. TTS engines and files
//! deliver audio in chunks of any size; [`Framer`] cuts them into whole frames, keeps the
//! remainder for the next call and, on [`Framer::flush`], pads the last partial frame with
//! silence of the right law.
//!
//! [`Framer::push_with`] is real-time safe (no allocation; whole frames in the input are handed
//! out without copying); [`Framer::push`] collects the frames into a `Vec`.
//!
//! ```
//! use kav_audio_codec::framer::{FRAME_BYTES, Framer};
//!
//! let mut framer = Framer::new(); // μ-law silence for padding
//! assert_eq!(framer.push(&[0x55; 100]).len(), 0);
//! let frames = framer.push(&[0x55; 300]); // 400 bytes so far: two frames, 80 kept
//! assert_eq!(frames.len(), 2);
//! assert_eq!(framer.pending(), 80);
//! let last = framer.flush().expect("80 bytes were pending");
//! assert_eq!(&last[..80], &[0x55; 80][..]);
//! assert!(last[80..].iter().all(|&b| b == kav_audio_codec::ULAW_SILENCE));
//! assert_eq!(last.len(), FRAME_BYTES);
//! ```

use crate::g711::{ALAW_SILENCE, ULAW_SILENCE};

/// Bytes in one 20 ms frame of 8 kHz G.711.
pub const FRAME_BYTES: usize = 160;

/// One 20 ms frame.
pub type Frame = [u8; FRAME_BYTES];

/// Cuts a byte stream into [`FRAME_BYTES`]-byte frames; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Framer {
    buf: Frame,
    len: usize,
    silence: u8,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    /// A framer for μ-law (pads with [`ULAW_SILENCE`]).
    #[must_use]
    pub fn new() -> Self {
        Self::with_silence(ULAW_SILENCE)
    }

    /// A framer for A-law (pads with [`ALAW_SILENCE`]).
    #[must_use]
    pub fn alaw() -> Self {
        Self::with_silence(ALAW_SILENCE)
    }

    /// A framer padding with the given byte.
    #[must_use]
    pub fn with_silence(silence: u8) -> Self {
        Self {
            buf: [silence; FRAME_BYTES],
            len: 0,
            silence,
        }
    }

    /// Bytes kept from previous calls, waiting for a full frame (always `< FRAME_BYTES`).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.len
    }

    /// Feeds bytes; calls `on_frame` with each completed frame, in order, and keeps the rest.
    /// Returns the number of frames delivered. Real-time safe.
    pub fn push_with(&mut self, mut bytes: &[u8], mut on_frame: impl FnMut(&Frame)) -> usize {
        let mut count = 0;
        if self.len > 0 {
            let take = (FRAME_BYTES - self.len).min(bytes.len());
            self.buf[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
            if self.len < FRAME_BYTES {
                return 0;
            }
            on_frame(&self.buf);
            self.len = 0;
            count += 1;
        }
        let mut chunks = bytes.chunks_exact(FRAME_BYTES);
        for chunk in &mut chunks {
            if let Ok(frame) = <&Frame>::try_from(chunk) {
                on_frame(frame);
                count += 1;
            }
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.len = rest.len();
        count
    }

    /// Feeds bytes and returns the completed frames.
    #[must_use]
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut frames = Vec::with_capacity((self.len + bytes.len()) / FRAME_BYTES);
        self.push_with(bytes, |f| frames.push(*f));
        frames
    }

    /// Returns the pending bytes padded with silence to a whole frame, or `None` when nothing
    /// is pending. The framer is then empty.
    #[must_use]
    pub fn flush(&mut self) -> Option<Frame> {
        if self.len == 0 {
            return None;
        }
        self.buf[self.len..].fill(self.silence);
        self.len = 0;
        Some(self.buf)
    }

    /// Drops pending bytes (for a barge-in, say).
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_the_stream_for_any_chunking() {
        let stream: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 251) as u8).collect();
        for step in [1usize, 3, 159, 160, 161, 333, 2000] {
            let mut f = Framer::alaw();
            let mut out = Vec::new();
            for c in stream.chunks(step) {
                for fr in f.push(c) {
                    out.extend_from_slice(&fr);
                }
            }
            let last = f.flush().unwrap();
            out.extend_from_slice(&last);
            assert_eq!(out.len(), 2080);
            assert_eq!(&out[..2000], &stream[..]);
            assert!(out[2000..].iter().all(|&b| b == ALAW_SILENCE));
            assert_eq!(f.flush(), None);
        }
    }
}
