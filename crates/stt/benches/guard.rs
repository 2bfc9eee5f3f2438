//! What the speech guard costs per caller turn.
//!
//! `cargo bench -p kav-stt --bench guard`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kav_stt::{AudioClip, Provider, SpeechGuard, Transcript, normalize_text};

/// 10 s at 8 kHz μ-law: 0.5 s of silence, then syllable-like bursts (a 200 Hz carrier at
/// 4 Hz amplitude modulation) with a little noise, like a caller's turn.
fn turn_8k() -> AudioClip {
    let mut seed = 1u32;
    let pcm: Vec<i16> = (0..80_000)
        .map(|n| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = f64::from((seed >> 16) as u16) / 65_536.0 - 0.5;
            if n < 4_000 {
                return (noise * 60.0) as i16;
            }
            let t = f64::from(n) / 8_000.0;
            let env = (2.0 * std::f64::consts::PI * 4.0 * t).sin().max(0.0);
            (8_000.0 * env * (2.0 * std::f64::consts::PI * 200.0 * t).sin() + noise * 60.0) as i16
        })
        .collect();
    AudioClip::mulaw_8k(kav_audio_codec::ulaw_encode(&pcm))
}

fn bench(c: &mut Criterion) {
    let guard = SpeechGuard::default();
    let clip = turn_8k();
    assert!(guard.before(&clip).is_speech());
    c.bench_function("before/10s_mulaw_8k", |b| {
        b.iter(|| guard.before(black_box(&clip)));
    });
    let level_only = SpeechGuard::default().with_vad(None);
    c.bench_function("before/10s_mulaw_8k_no_vad", |b| {
        b.iter(|| level_only.before(black_box(&clip)));
    });
    let wide = AudioClip::pcm16(clip.to_pcm16().into_owned(), 8_000).unwrap();
    let wide = AudioClip::pcm16(
        kav_audio_codec::resample::resample(&wide.to_pcm16(), 8_000, 16_000).unwrap(),
        16_000,
    )
    .unwrap();
    c.bench_function("before/10s_pcm16_16k", |b| {
        b.iter(|| guard.before(black_box(&wide)));
    });
    let t = Transcript::new(
        Provider::OpenAi,
        "שלום, אני רוצה לבדוק את מצב ההזמנה שלי, מספר ארבעים ושתיים.",
    );
    c.bench_function("after/sentence", |b| b.iter(|| guard.after(black_box(&t))));
    c.bench_function("normalize_text/sentence", |b| {
        b.iter(|| normalize_text(black_box(&t.text)));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
