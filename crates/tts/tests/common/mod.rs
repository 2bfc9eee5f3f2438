//! Helpers shared by the provider tests: test audio (the local servers are `kav_testkit`'s).
#![allow(dead_code, unreachable_pub)]

/// `seconds` of a 440 Hz tone at `rate`, at about -12 dBFS.
pub fn tone(rate: u32, seconds: f32) -> Vec<i16> {
    let n = (rate as f32 * seconds) as usize;
    (0..n)
        .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 8000.0) as i16)
        .collect()
}

/// 16-bit little-endian bytes.
pub fn le_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// RMS of μ-law audio, decoded.
pub fn rms_mulaw(codes: &[u8]) -> f64 {
    let pcm = kav_audio_codec::g711::ulaw_decode(codes);
    if pcm.is_empty() {
        return 0.0;
    }
    (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt()
}
