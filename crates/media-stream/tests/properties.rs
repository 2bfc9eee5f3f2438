//! Property tests: the parsers give an error, never a panic, for any input; messages survive a
//! round trip through JSON; framing loses and reorders nothing whatever the chunking.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use kav_media_stream::{
    AccountSid, CallSid, Config, Dtmf, DtmfDigit, DtmfTrack, InboundMessage, Mark, Media,
    MediaStream, OutboundMessage, Stop, StreamSid, Track,
};
use proptest::prelude::*;

const MZ: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";

fn started() -> (MediaStream, Instant) {
    started_with(Config::default())
}

fn started_with(config: Config) -> (MediaStream, Instant) {
    let t0 = Instant::now();
    let mut stream = MediaStream::new(config);
    let start = format!(
        r#"{{"event":"start","sequenceNumber":"1","start":{{"accountSid":"AC0123456789abcdef0123456789abcdef","streamSid":"{MZ}","callSid":"CA5fc3f4e5b1bf8f1a9e1c2ffe4f42a7b6","tracks":["inbound"],"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}},"streamSid":"{MZ}"}}"#
    );
    stream.handle_text(t0, &start).unwrap();
    (stream, t0)
}

fn sid(prefix: &'static str) -> impl Strategy<Value = String> {
    "[0-9a-fA-F]{32}".prop_map(move |hex| format!("{prefix}{hex}"))
}

/// JSON values that look like parts of Twilio messages, to reach deep into the parser.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("inbound".to_owned()),
            Just("inbound_track".to_owned()),
            Just("audio/x-mulaw".to_owned()),
            Just(MZ.to_owned()),
            "[0-9]{0,22}",
            "[A-Za-z0-9+/=]{0,12}",
            ".{0,8}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        let keys = prop_oneof![
            Just("event".to_owned()),
            Just("sequenceNumber".to_owned()),
            Just("streamSid".to_owned()),
            Just("media".to_owned()),
            Just("payload".to_owned()),
            Just("track".to_owned()),
            Just("chunk".to_owned()),
            Just("timestamp".to_owned()),
            Just("start".to_owned()),
            Just("mark".to_owned()),
            Just("name".to_owned()),
            Just("dtmf".to_owned()),
            Just("digit".to_owned()),
            Just("stop".to_owned()),
            Just("callSid".to_owned()),
            Just("accountSid".to_owned()),
            Just("tracks".to_owned()),
            Just("mediaFormat".to_owned()),
            Just("customParameters".to_owned()),
            "[a-z]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn events() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("connected"),
        Just("start"),
        Just("media"),
        Just("dtmf"),
        Just("mark"),
        Just("stop"),
        Just("clear"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_text_gives_a_message_or_an_error(text in ".*") {
        let _ = InboundMessage::parse(&text);
        let _ = OutboundMessage::parse(&text);
        let (mut stream, t0) = started();
        let _ = stream.handle_text(t0, &text);
    }

    #[test]
    fn any_bytes_give_a_message_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = InboundMessage::parse_bytes(&bytes);
    }

    #[test]
    fn message_shaped_json_gives_a_message_or_an_error(
        event in events(),
        mut body in json_value(),
    ) {
        if let serde_json::Value::Object(map) = &mut body {
            map.insert("event".into(), event.into());
        }
        let text = body.to_string();
        let (mut stream, t0) = started();
        if let Ok(message) = InboundMessage::parse(&text) {
            // Whatever parses can be handled and decoded without panicking.
            if let InboundMessage::Media(media) = &message {
                let _ = media.decode_payload();
            }
            let _ = stream.handle_message(t0, &message);
            while stream.poll_transmit(t0).is_some() {}
        }
        let _ = OutboundMessage::parse(&text);
    }

    #[test]
    fn inbound_messages_round_trip(
        stream_sid in sid("MZ"),
        call_sid in sid("CA"),
        account_sid in sid("AC"),
        sequence_number in any::<u64>(),
        chunk in any::<u64>(),
        timestamp in any::<u64>(),
        payload in prop::collection::vec(any::<u8>(), 0..400),
        name in ".*",
        digit in prop::sample::select(&['0', '5', '9', '*', '#', 'A', 'D'][..]),
        which in 0..4u8,
    ) {
        use base64::Engine as _;
        let stream_sid = StreamSid::parse(&stream_sid).unwrap();
        let payload_b64 = base64::engine::general_purpose::STANDARD.encode(&payload);
        let message = match which {
            0 => InboundMessage::Media(Media {
                sequence_number, stream_sid, track: Track::Inbound, chunk, timestamp,
                payload: Cow::Owned(payload_b64),
            }),
            1 => InboundMessage::Mark(Mark { sequence_number, stream_sid, name: Cow::Owned(name) }),
            2 => InboundMessage::Dtmf(Dtmf {
                sequence_number, stream_sid, track: DtmfTrack::InboundTrack,
                digit: DtmfDigit::new(digit).unwrap(),
            }),
            _ => InboundMessage::Stop(Stop {
                sequence_number, stream_sid,
                account_sid: AccountSid::parse(&account_sid).unwrap(),
                call_sid: CallSid::parse(&call_sid).unwrap(),
            }),
        };
        let json = message.to_json();
        let parsed = InboundMessage::parse(&json).unwrap();
        prop_assert_eq!(&parsed, &message);
        if let InboundMessage::Media(media) = parsed {
            prop_assert_eq!(media.decode_payload().unwrap(), payload);
        }
    }

    #[test]
    fn outbound_messages_round_trip(
        payload in prop::collection::vec(any::<u8>(), 0..400),
        name in ".*",
    ) {
        let stream_sid = StreamSid::parse(MZ).unwrap();
        let mut json = String::new();
        for message in [
            OutboundMessage::Media { stream_sid, payload: Cow::Borrowed(&payload) },
            OutboundMessage::Mark { stream_sid, name: Cow::Borrowed(&name) },
            OutboundMessage::Clear { stream_sid },
        ] {
            message.write_json(&mut json);
            // Valid JSON for any other parser too.
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(value["streamSid"].as_str(), Some(MZ));
            prop_assert_eq!(OutboundMessage::parse(&json).unwrap(), message);
        }
    }

    #[test]
    fn framing_keeps_every_byte_in_order(
        chunks in prop::collection::vec(prop::collection::vec(0u8..0xF0, 0..500), 0..12),
        finish_each in any::<bool>(),
        lead_ms in 20u64..300,
    ) {
        let (mut stream, t0) = started_with(Config::default().with_lead(Duration::from_millis(lead_ms)));
        let mut expected = Vec::new();
        for chunk in &chunks {
            stream.push_ulaw(chunk);
            expected.extend_from_slice(chunk);
            if finish_each && stream.finish_utterance().is_some() {
                let pad = (160 - expected.len() % 160) % 160;
                expected.extend(std::iter::repeat_n(0xFF, pad));
            }
        }
        if stream.finish_utterance().is_some() {
            let pad = (160 - expected.len() % 160) % 160;
            expected.extend(std::iter::repeat_n(0xFF, pad));
        }
        let mut sent = Vec::new();
        let mut now = t0;
        let mut steps = 0;
        loop {
            while let Some(message) = stream.poll_transmit(now) {
                if let OutboundMessage::Media { payload, .. } = message {
                    prop_assert_eq!(payload.len(), 160);
                    sent.extend_from_slice(&payload);
                }
                prop_assert!(stream.buffered_ahead(now) <= Duration::from_millis(lead_ms));
            }
            match stream.poll_timeout() {
                Some(t) => { prop_assert!(t > now); now = t; }
                None => break,
            }
            steps += 1;
            prop_assert!(steps < 10_000);
        }
        prop_assert_eq!(sent, expected);
    }
}

proptest! {
    #[test]
    fn inbound_audio_keeps_the_newest_samples_in_order(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), 0..8),
        capacity in 0usize..1000,
        read_size in 1usize..300,
    ) {
        use base64::Engine as _;
        let (mut stream, t0) = started_with(Config::default().with_inbound_capacity(capacity));
        let mut all = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let payload = base64::engine::general_purpose::STANDARD.encode(frame);
            let text = format!(
                r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"1","timestamp":"0","payload":"{payload}"}},"streamSid":"{MZ}"}}"#,
                i + 2
            );
            stream.handle_text(t0, &text).unwrap();
            all.extend(kav_audio_codec::ulaw_decode(frame));
        }
        let mut dropped = 0;
        while let Some(event) = stream.poll_event() {
            if let kav_media_stream::Event::InboundOverflow { dropped_samples } = event {
                dropped += dropped_samples;
            }
        }
        let kept = all.len().min(capacity);
        prop_assert_eq!(dropped, all.len() - kept);
        let mut read = Vec::new();
        let mut buf = vec![0i16; read_size];
        loop {
            let n = stream.read_audio(&mut buf);
            if n == 0 { break; }
            read.extend_from_slice(&buf[..n]);
        }
        prop_assert_eq!(&read[..], &all[all.len() - kept..]);
    }
}
