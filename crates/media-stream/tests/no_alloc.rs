//! The per-frame hot paths allocate nothing once their buffers have grown: parsing an inbound
//! `media` message, decoding it into the state machine and reading the samples; queueing a frame,
//! pacing it out and serializing it.
//!
//! A counting global allocator (the only `unsafe` in the crate's tests) counts the allocations
//! made by the current thread.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use base64::Engine as _;
use kav_media_stream::{Config, InboundMessage, MediaStream};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// const-initialized thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

const MZ: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";

#[test]
fn hot_paths_do_not_allocate() {
    let t0 = Instant::now();
    let start = format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"AC0123456789abcdef0123456789abcdef","streamSid":"{MZ}","callSid":"CA5fc3f4e5b1bf8f1a9e1c2ffe4f42a7b6","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"customParameters":{{}}}},"streamSid":"{MZ}"}}"#
    );
    let frame: Vec<u8> = (0..160u8).collect();
    let payload = base64::engine::general_purpose::STANDARD.encode(&frame);
    let media: Vec<String> = (2..200)
        .map(|seq| {
            format!(
                r#"{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"inbound","chunk":"{}","timestamp":"{}","payload":"{payload}"}},"streamSid":"{MZ}"}}"#,
                seq - 1,
                (seq - 2) * 20
            )
        })
        .collect();
    let pcm = [1234i16; 160];

    // Mark interval high and the queue kept full: only media goes out in the measured part.
    let mut stream = MediaStream::new(Config::default().with_mark_interval(1000));
    stream.handle_text(t0, &start).unwrap();
    while stream.poll_event().is_some() {}
    let mut json = String::new();
    let mut samples = [0i16; 160];
    let mut now = t0;
    let mut step = |stream: &mut MediaStream, i: usize, now: Instant, json: &mut String| {
        stream.handle_text(now, &media[i]).unwrap();
        assert_eq!(stream.read_audio(&mut samples), 160);
        stream.push_pcm(&pcm);
        let mut sent = 0;
        while let Some(message) = stream.poll_transmit(now) {
            message.write_json(json);
            sent += 1;
        }
        sent
    };
    // Warm up: buffers and queues grow to their working size.
    for _ in 0..10 {
        stream.push_pcm(&pcm);
    }
    for i in 0..50 {
        step(&mut stream, i, now, &mut json);
        now += Duration::from_millis(20);
    }
    assert!(stream.poll_event().is_none());

    let before = allocations();
    let mut sent = 0;
    for i in 50..198 {
        sent += step(&mut stream, i, now, &mut json);
        now += Duration::from_millis(20);
    }
    let after = allocations();
    assert_eq!(sent, 148, "one frame out per frame in");
    assert_eq!(after - before, 0, "allocations on the hot path");

    // And the bare parser, for a message whose payload needs no unescaping.
    let before = allocations();
    for text in &media {
        let InboundMessage::Media(m) = InboundMessage::parse(text).unwrap() else {
            unreachable!()
        };
        assert_eq!(m.payload.len(), payload.len());
    }
    assert_eq!(allocations() - before, 0);
}
