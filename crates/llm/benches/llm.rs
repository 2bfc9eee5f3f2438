//! Hot paths of kav-llm that run on every turn or every streamed chunk.
//!
//! ```sh
//! cargo bench -p kav-llm --bench llm
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kav_llm::sse::SseDecoder;
use kav_llm::{Conversation, ConversationConfig, ScriptedResponder, SizeBudget};

/// An OpenAI-style stream of 200 Hebrew deltas, as it arrives on the wire.
fn openai_stream() -> Vec<u8> {
    let mut body = String::new();
    for i in 0..200 {
        body.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1731000000,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"מילה{i} \"}},\"logprobs\":null,\"finish_reason\":null}}]}}\r\n\r\n"
        ));
    }
    body.push_str("data: [DONE]\r\n\r\n");
    body.into_bytes()
}

fn sse(c: &mut Criterion) {
    let body = openai_stream();
    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("decode_200_events_1400b_chunks", |b| {
        b.iter(|| {
            let mut decoder = SseDecoder::new();
            let mut events = 0;
            for chunk in body.chunks(1400) {
                decoder.feed(black_box(chunk)).unwrap();
                while let Some(e) = decoder.next_event() {
                    events += e.data.len();
                }
            }
            events
        });
    });
    group.finish();
}

fn scripted(c: &mut Criterion) {
    let bot = ScriptedResponder::builtin();
    let mut group = c.benchmark_group("scripted");
    group.bench_function("respond_hebrew_no_match", |b| {
        b.iter(|| {
            bot.respond(black_box(
                "שלום, אני רוצה להזמין עוגת שוקולד גדולה ליום שישי בבוקר",
            ))
            .len()
        });
    });
    group.bench_function("respond_english_last_rule", |b| {
        b.iter(|| {
            bot.respond(black_box("Hi there, when do you open on Friday morning?"))
                .len()
        });
    });
    group.finish();
}

fn conversation(c: &mut Criterion) {
    let config = ConversationConfig::default()
        .with_system_prompt("You are a phone agent.")
        .with_max_turns(20)
        .with_budget(SizeBudget::ApproxTokens(2000));
    c.bench_function("conversation/push_pair_with_trim", |b| {
        let mut conv = Conversation::new(&config).unwrap();
        b.iter(|| {
            conv.push_user(black_box("מה שעות הפתיחה שלכם ביום שישי?"));
            conv.push_assistant(black_box(
                "אנחנו פתוחים ביום שישי משמונה בבוקר עד שתיים בצהריים.",
            ));
            conv.messages().len()
        });
    });
}

criterion_group!(benches, sse, scripted, conversation);
criterion_main!(benches);
