//! A started stream fed arbitrary messages (split on newlines), with time moving forward and
//! outbound audio queued, never panics.
#![no_main]

use std::time::{Duration, Instant};

use kav_media_stream::{Config, MediaStream};
use libfuzzer_sys::fuzz_target;

const START: &str = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC0123456789abcdef0123456789abcdef","streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0","callSid":"CA5fc3f4e5b1bf8f1a9e1c2ffe4f42a7b6","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut now = Instant::now();
    let mut stream = MediaStream::new(Config::default().with_inbound_capacity(1000));
    stream.handle_text(now, START).expect("valid start");
    let mut json = String::new();
    let mut samples = [0i16; 160];
    for (i, line) in text.lines().enumerate() {
        let _ = stream.handle_text(now, line);
        match i % 5 {
            0 => {
                stream.push_ulaw(line.as_bytes());
            }
            1 => {
                let _ = stream.push_mark(line);
            }
            2 => {
                stream.finish_utterance();
            }
            3 => {
                let _ = stream.clear(now);
            }
            _ => {}
        }
        while let Some(message) = stream.poll_transmit(now) {
            message.write_json(&mut json);
        }
        while stream.poll_event().is_some() {}
        let _ = stream.read_audio(&mut samples);
        let _ = stream.played_estimate(now);
        now += Duration::from_millis(7 * (i as u64 % 11));
    }
});
