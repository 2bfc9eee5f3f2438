//! Hot paths of a call: G.711 (against memcpy of the same data), PCM16 conversions, streaming
//! resampling of 20 ms chunks, the VAD and the framer.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kav_audio_codec::{Framer, Resampler, Vad, g711, pcm};

fn signal(n: usize) -> Vec<i16> {
    let mut s = 0x1234_5678u32;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            ((i as f32 * 0.07).sin() * 12_000.0) as i16 + (s >> 22) as i16
        })
        .collect()
}

fn g711_benches(c: &mut Criterion) {
    for n in [160usize, 8_000] {
        let pcm_in = signal(n);
        let codes = g711::ulaw_encode(&pcm_in);
        let mut g = c.benchmark_group(format!("g711/{n}"));
        g.throughput(Throughput::Elements(n as u64));
        let mut out8 = vec![0u8; n];
        let mut out16 = vec![0i16; n];
        g.bench_function("ulaw_encode_into", |b| {
            b.iter(|| g711::ulaw_encode_into(black_box(&pcm_in), black_box(&mut out8)));
        });
        g.bench_function("ulaw_decode_into", |b| {
            b.iter(|| g711::ulaw_decode_into(black_box(&codes), black_box(&mut out16)));
        });
        g.bench_function("alaw_encode_into", |b| {
            b.iter(|| g711::alaw_encode_into(black_box(&pcm_in), black_box(&mut out8)));
        });
        g.bench_function("alaw_decode_into", |b| {
            b.iter(|| g711::alaw_decode_into(black_box(&codes), black_box(&mut out16)));
        });
        // memcpy baselines: the n bytes of G.711 and the 2n bytes of PCM16.
        let src8 = codes.clone();
        g.bench_function("memcpy_n_bytes", |b| {
            b.iter(|| black_box(&mut out8).copy_from_slice(black_box(&src8)));
        });
        g.bench_function("memcpy_2n_bytes", |b| {
            b.iter(|| black_box(&mut out16).copy_from_slice(black_box(&pcm_in)));
        });
        let bytes = pcm::i16_to_pcm16le(&pcm_in);
        g.bench_function("pcm16le_to_i16_into", |b| {
            b.iter(|| pcm::pcm16le_to_i16_into(black_box(&bytes), black_box(&mut out16)));
        });
        let mut f = vec![0f32; n];
        g.bench_function("i16_to_f32_into", |b| {
            b.iter(|| pcm::i16_to_f32_into(black_box(&pcm_in), black_box(&mut f)));
        });
        g.finish();
    }
}

fn resample_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("resample_20ms_chunk");
    for (from, to) in [
        (8_000u32, 24_000u32),
        (24_000, 8_000),
        (8_000, 16_000),
        (16_000, 8_000),
        (16_000, 24_000),
        (8_000, 48_000),
    ] {
        let chunk = signal((from / 50) as usize);
        let mut r = Resampler::new(from, to).unwrap();
        let mut out = vec![0i16; r.max_output_len(chunk.len())];
        g.throughput(Throughput::Elements(chunk.len() as u64));
        g.bench_function(format!("{from}->{to}"), |b| {
            b.iter(|| r.process_into(black_box(&chunk), black_box(&mut out)));
        });
    }
    g.finish();
}

fn vad_benches(c: &mut Criterion) {
    let frames: Vec<Vec<i16>> = (0..50)
        .map(|i| {
            let mut f = signal(160);
            if i % 3 == 0 {
                f.iter_mut().for_each(|s| *s /= 64);
            }
            f
        })
        .collect();
    let mut vad = Vad::default();
    let mut i = 0;
    c.bench_function("vad/20ms_frame", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            vad.process(black_box(&frames[i]))
        });
    });
    let codes = g711::ulaw_encode(&frames[1]);
    c.bench_function("vad/20ms_ulaw_frame", |b| {
        b.iter(|| vad.process_ulaw(black_box(&codes)));
    });
    let stream = g711::ulaw_encode(&signal(8_000));
    let mut framer = Framer::new();
    c.bench_function("framer/1s_in_333_byte_chunks", |b| {
        b.iter(|| {
            let mut n = 0;
            for chunk in stream.chunks(333) {
                n += framer.push_with(black_box(chunk), |f| {
                    black_box(f);
                });
            }
            n
        });
    });
}

criterion_group!(benches, g711_benches, resample_benches, vad_benches);
criterion_main!(benches);
