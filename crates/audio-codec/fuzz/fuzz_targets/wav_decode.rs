//! WAV decoding of arbitrary bytes: must never panic, and what it returns must be consistent.
#![no_main]

use kav_audio_codec::wav;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(w) = wav::decode(data) {
        assert!(w.channels >= 1);
        assert_eq!(w.samples.len() % usize::from(w.channels), 0);
        assert!(w.samples.len() <= data.len());
    }
    let _ = wav::decode_mono(data, 8_000);
});
