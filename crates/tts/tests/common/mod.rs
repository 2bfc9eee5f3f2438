//! Helpers shared by the provider tests: test audio (the local servers are `kav_testkit`'s).
#![allow(dead_code, unreachable_pub)]

use futures_util::StreamExt as _;
use kav_tts::{Error, SpeechRequest, StreamingTextToSpeech};

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

/// Reads the stream `tts` gives for `request` to its end: how many chunks, and all the audio.
pub async fn read_stream(
    tts: &impl StreamingTextToSpeech,
    request: &SpeechRequest,
) -> (usize, Vec<u8>) {
    let mut stream = tts.synthesize_stream(request).await.unwrap();
    let mut chunks = 0;
    let mut all = Vec::new();
    while let Some(chunk) = stream.next().await {
        all.extend_from_slice(&chunk.unwrap());
        chunks += 1;
    }
    (chunks, all)
}

/// The error that ends the stream `tts` gives for `request`, after audio arrived first.
pub async fn stream_error_after_audio(
    tts: &impl StreamingTextToSpeech,
    request: &SpeechRequest,
) -> Error {
    let mut items: Vec<_> = tts
        .synthesize_stream(request)
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        items.first().is_some_and(Result::is_ok),
        "audio before the error arrives"
    );
    match items.pop() {
        Some(Err(e)) => e,
        other => panic!("the stream ended without an error: {other:?}"),
    }
}
