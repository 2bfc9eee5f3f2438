//! Frames per second of the hot paths: an inbound `media` message parsed, base64-decoded and
//! μ-law-decoded; an outbound frame queued, paced and serialized to JSON.

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kav_media_stream::{Config, InboundMessage, MediaStream};

const STREAM_SID: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";

fn start_message() -> String {
    format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"AC0123456789abcdef0123456789abcdef","streamSid":"{STREAM_SID}","callSid":"CA5fc3f4e5b1bf8f1a9e1c2ffe4f42a7b6","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"customParameters":{{}}}},"streamSid":"{STREAM_SID}"}}"#
    )
}

fn media_message(seq: u64) -> String {
    let frame: Vec<u8> = (0..160u32).map(|i| (i * 37 % 256) as u8).collect();
    let payload = base64::engine::general_purpose::STANDARD.encode(frame);
    format!(
        r#"{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"inbound","chunk":"{}","timestamp":"{}","payload":"{payload}"}},"streamSid":"{STREAM_SID}"}}"#,
        seq - 1,
        (seq - 2) * 20
    )
}

fn inbound(c: &mut Criterion) {
    let mut group = c.benchmark_group("inbound");
    group.throughput(Throughput::Elements(1));
    let text = media_message(2);
    let mut payload = Vec::with_capacity(256);
    let mut pcm = [0i16; 160];
    group.bench_function("parse+base64+ulaw decode (1 frame)", |b| {
        b.iter(|| {
            let InboundMessage::Media(media) = InboundMessage::parse(black_box(&text)).unwrap()
            else {
                unreachable!()
            };
            media.decode_payload_into(&mut payload).unwrap();
            kav_audio_codec::ulaw_decode_into(&payload, &mut pcm);
            black_box(&pcm);
        });
    });

    // The same through the state machine (sequence and stream checks, inbound buffer).
    let t0 = Instant::now();
    let mut stream = MediaStream::new(Config::default());
    stream.handle_text(t0, &start_message()).unwrap();
    let messages: Vec<String> = (2..1002).map(media_message).collect();
    let mut out = [0i16; 160];
    let mut i = 0;
    group.bench_function("MediaStream::handle_text + read_audio (1 frame)", |b| {
        b.iter(|| {
            // Cycling through 1000 messages makes sequence gaps every 1000 frames, a negligible
            // extra event; drain events so they do not pile up.
            stream.handle_text(t0, &messages[i % 1000]).unwrap();
            i += 1;
            black_box(stream.read_audio(&mut out));
            while stream.poll_event().is_some() {}
        });
    });
    group.finish();
}

fn outbound(c: &mut Criterion) {
    let mut group = c.benchmark_group("outbound");
    group.throughput(Throughput::Elements(1));
    let t0 = Instant::now();
    let mut stream = MediaStream::new(Config::default().with_mark_interval(u32::MAX));
    stream.handle_text(t0, &start_message()).unwrap();
    let pcm: Vec<i16> = (0..160)
        .map(|i| ((i * 401) % 20000 - 10000) as i16)
        .collect();
    let mut json = String::with_capacity(512);
    let mut now = t0;
    // Keep a few frames queued, as when speech is synthesized faster than real time: then each
    // iteration queues one frame and sends one, with no mark in between.
    for _ in 0..10 {
        stream.push_pcm(&pcm);
    }
    group.bench_function("push_pcm+poll_transmit+write_json (1 frame)", |b| {
        b.iter(|| {
            stream.push_pcm(black_box(&pcm));
            now += Duration::from_millis(20);
            while let Some(message) = stream.poll_transmit(now) {
                message.write_json(&mut json);
                black_box(&json);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, inbound, outbound);
criterion_main!(benches);
