//! Phrase-cache hits, cache keys and espeak-ng synthesis.
//!
//! `cargo bench -p kav-tts --bench tts`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kav_tts::{BoxFuture, CachedTts, Error, SpeechAudio, SpeechRequest, TextToSpeech};

/// Two seconds of "audio", always the same.
struct Fixed;

impl TextToSpeech for Fixed {
    fn provider(&self) -> &str {
        "fixed"
    }
    fn synthesize<'a>(&'a self, _: &'a SpeechRequest) -> BoxFuture<'a, Result<SpeechAudio, Error>> {
        Box::pin(async { Ok(SpeechAudio::from_mulaw(vec![0x55; 16_000])) })
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("kav-tts-bench-{}", std::process::id()));
    let cached = CachedTts::new(Fixed, &dir);
    let req = SpeechRequest::new("שלום, הגעתם למוקד שירות הלקוחות. במה אפשר לעזור?").unwrap();
    rt.block_on(cached.synthesize(&req)).unwrap();

    c.bench_function("cache_key", |b| {
        b.iter(|| black_box(cached.key(black_box(&req))));
    });
    c.bench_function("cache_hit_2s_phrase", |b| {
        b.iter(|| rt.block_on(cached.synthesize(black_box(&req))).unwrap());
    });

    #[cfg(feature = "espeak")]
    {
        let espeak = kav_tts::EspeakTts::new();
        let mut group = c.benchmark_group("espeak");
        group.sample_size(10);
        group.bench_function("hebrew_sentence", |b| {
            b.iter(|| rt.block_on(espeak.synthesize(black_box(&req))).unwrap());
        });
        group.finish();
    }
    std::fs::remove_dir_all(&dir).ok();
}

criterion_group!(benches, bench);
criterion_main!(benches);
