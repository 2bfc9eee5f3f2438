//! Rendering and parsing benchmarks (`scripts/twiml-bench.sh` runs them beside twilio-python).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kav_twiml::VoiceResponse;

#[path = "common/docs.rs"]
mod docs;

const BASE: &str = "https://agent.example.com";

fn bench(c: &mut Criterion) {
    for (name, build) in [
        (
            "incoming_call",
            docs::incoming_call as fn(&str) -> Result<VoiceResponse, kav_twiml::Error>,
        ),
        ("twenty_verbs", docs::twenty_verbs),
    ] {
        let mut group = c.benchmark_group(format!("twiml/{name}"));
        group.bench_function("build_and_render", |b| {
            b.iter(|| build(black_box(BASE)).map(|doc| doc.to_xml()));
        });
        let doc = build(BASE).expect("benchmark document");
        group.bench_function("render", |b| b.iter(|| black_box(&doc).to_xml()));
        let mut buf = String::with_capacity(4096);
        group.bench_function("render_into_reused_buffer", |b| {
            b.iter(|| {
                buf.clear();
                black_box(&doc).write_document(&mut buf);
                buf.len()
            });
        });
        let xml = doc.to_xml();
        group.bench_function("parse", |b| {
            b.iter(|| VoiceResponse::parse(black_box(&xml)));
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
