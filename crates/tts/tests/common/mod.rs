//! Helpers shared by the provider tests: local servers and test audio.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use axum::Router;
use bytes::Bytes;

/// Serves `app` on 127.0.0.1 on a free port and returns `http://127.0.0.1:port`.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

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

/// A body that sends `chunks`, then breaks off (the connection is aborted mid-body).
pub fn broken_body(chunks: Vec<Vec<u8>>) -> axum::body::Body {
    let items = chunks
        .into_iter()
        .map(|c| Ok::<_, std::io::Error>(Bytes::from(c)))
        .chain(std::iter::once(Err(std::io::Error::other(
            "connection lost",
        ))));
    let stream = futures_util::stream::iter(items).then(|item| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        item
    });
    axum::body::Body::from_stream(stream)
}

/// A body that sends `chunks` with a pause between them, then `stall` forever when asked.
pub fn slow_body(chunks: Vec<Vec<u8>>, pause: Duration, stall: bool) -> axum::body::Body {
    let stream = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(Some)
            .chain(std::iter::once(None).filter(move |_| stall)),
    )
    .then(move |item| async move {
        match item {
            Some(c) => {
                tokio::time::sleep(pause).await;
                Ok::<_, std::io::Error>(Bytes::from(c))
            }
            None => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Bytes::new())
            }
        }
    });
    axum::body::Body::from_stream(stream)
}

use futures_util::StreamExt as _;
