//! Golden JSON: the examples of Twilio's "Media Streams - WebSocket Messages" page
//! (<https://www.twilio.com/docs/voice/media-streams/websocket-messages>), verbatim except that
//! the documentation's placeholder SIDs (`MZXXXX…`, which are not hexadecimal) are replaced by
//! valid ones and the abbreviated payloads by real base64.

use std::borrow::Cow;

use kav_media_stream::{
    DtmfDigit, DtmfTrack, Encoding, Error, InboundMessage, OutboundMessage, StreamSid, Track,
};
use serde_json::Value;

const MZ: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";
const CA: &str = "CA5fc3f4e5b1bf8f1a9e1c2ffe4f42a7b6";
const AC: &str = "AC0123456789abcdef0123456789abcdef";

/// Replaces the documentation's placeholders.
fn doc(text: &str) -> String {
    text.replace("MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", MZ)
        .replace("CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", CA)
        .replace("ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", AC)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// Parses, checks that writing the message back gives the same JSON, and returns it.
fn round_trip(text: &str) -> InboundMessage<'_> {
    let message = InboundMessage::parse(text).unwrap();
    assert_eq!(json(&message.to_json()), json(text), "{text}");
    message
}

const CONNECTED: &str = r#"{
  "event": "connected",
  "protocol": "Call",
  "version": "1.0.0"
}"#;

const START: &str = r#"{
  "event": "start",
  "sequenceNumber": "1",
  "start": {
    "accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "tracks": ["inbound"],
    "mediaFormat": {
      "encoding": "audio/x-mulaw",
      "sampleRate": 8000,
      "channels": 1
    },
    "customParameters": {
      "FirstName": "Jane",
      "LastName": "Doe",
      "RemoteParty": "Bob"
    }
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}"#;

const MEDIA_OUTBOUND_TRACK: &str = r#"{
  "event": "media",
  "sequenceNumber": "3",
  "media": {
    "track": "outbound",
    "chunk": "1",
    "timestamp": "5",
    "payload": "no+JhoaJjpzSHxAKBgYJDhwfEg=="
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}"#;

const MEDIA_INBOUND_TRACK: &str = r#"{
  "event": "media",
  "sequenceNumber": "4",
  "media": {
    "track": "inbound",
    "chunk": "2",
    "timestamp": "5",
    "payload": "no+JhoaJjpzSHxAKBgYJDhwfEg=="
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}"#;

const STOP: &str = r#"{
  "event": "stop",
  "sequenceNumber": "5",
  "stop": {
    "accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
  },
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}"#;

const DTMF: &str = r#"{
  "event": "dtmf",
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
  "sequenceNumber": "5",
  "dtmf": {
    "track": "inbound_track",
    "digit": "1"
  }
}"#;

const MARK: &str = r#"{
  "event": "mark",
  "sequenceNumber": "4",
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
  "mark": {
    "name": "my label"
  }
}"#;

const SEND_MEDIA: &str = r#"{
  "event": "media",
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
  "media": {
    "payload": "a3242sY="
  }
}"#;

const SEND_MARK: &str = r#"{
  "event": "mark",
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
  "mark": {
    "name": "my label"
  }
}"#;

const SEND_CLEAR: &str = r#"{
  "event": "clear",
  "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
}"#;

#[test]
fn connected() {
    let InboundMessage::Connected(c) = round_trip(CONNECTED) else {
        panic!()
    };
    assert_eq!((c.protocol.as_str(), c.version.as_str()), ("Call", "1.0.0"));
}

#[test]
fn start() {
    let text = doc(START);
    let InboundMessage::Start(s) = round_trip(&text) else {
        panic!()
    };
    assert_eq!(s.sequence_number, 1);
    assert_eq!(s.stream_sid, MZ);
    assert_eq!(s.account_sid, AC);
    assert_eq!(s.call_sid, CA);
    assert_eq!(s.tracks, [Track::Inbound]);
    assert_eq!(s.media_format.encoding, Encoding::MuLaw);
    assert_eq!(s.media_format.sample_rate, 8000);
    assert_eq!(s.media_format.channels, 1);
    assert_eq!(s.custom_parameters.len(), 3);
    assert_eq!(s.custom_parameters["RemoteParty"], "Bob");
}

#[test]
fn documentation_placeholders_are_not_valid_sids() {
    let err = InboundMessage::parse(START).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidSid {
                kind: "StreamSid",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn media_both_tracks() {
    for (text, track, seq, chunk) in [
        (MEDIA_OUTBOUND_TRACK, Track::Outbound, 3, 1),
        (MEDIA_INBOUND_TRACK, Track::Inbound, 4, 2),
    ] {
        let text = doc(text);
        let InboundMessage::Media(m) = round_trip(&text) else {
            panic!()
        };
        assert_eq!(
            (m.track, m.sequence_number, m.chunk, m.timestamp),
            (track, seq, chunk, 5)
        );
        assert_eq!(m.stream_sid, MZ);
        assert!(matches!(m.payload, Cow::Borrowed(_)), "payload borrowed");
        assert_eq!(m.decode_payload().unwrap().len(), 19);
    }
}

#[test]
fn the_documentations_abbreviated_payload_parses_but_does_not_decode() {
    let text = doc(MEDIA_INBOUND_TRACK).replace("no+JhoaJjpzSHxAKBgYJDhwfEg==", "no+JhoaJjpzS...");
    let InboundMessage::Media(m) = InboundMessage::parse(&text).unwrap() else {
        panic!()
    };
    assert!(matches!(m.decode_payload(), Err(Error::Base64(_))));
}

#[test]
fn stop() {
    let text = doc(STOP);
    let InboundMessage::Stop(s) = round_trip(&text) else {
        panic!()
    };
    assert_eq!(s.sequence_number, 5);
    assert_eq!(s.stream_sid, MZ);
    assert_eq!(s.account_sid, AC);
    assert_eq!(s.call_sid, CA);
}

#[test]
fn dtmf() {
    let text = doc(DTMF);
    let InboundMessage::Dtmf(d) = round_trip(&text) else {
        panic!()
    };
    assert_eq!(d.sequence_number, 5);
    assert_eq!(d.track, DtmfTrack::InboundTrack);
    assert_eq!(d.digit, DtmfDigit::new('1').unwrap());
}

#[test]
fn mark() {
    let text = doc(MARK);
    let InboundMessage::Mark(m) = round_trip(&text) else {
        panic!()
    };
    assert_eq!((m.sequence_number, &*m.name), (4, "my label"));
}

#[test]
fn messages_to_twilio() {
    let stream_sid: StreamSid = MZ.parse().unwrap();
    let payload = base64_decode("a3242sY=");
    let media = OutboundMessage::Media {
        stream_sid,
        payload: Cow::Borrowed(&payload),
    };
    let mark = OutboundMessage::Mark {
        stream_sid,
        name: "my label".into(),
    };
    let clear = OutboundMessage::Clear { stream_sid };
    for (message, text) in [(media, SEND_MEDIA), (mark, SEND_MARK), (clear, SEND_CLEAR)] {
        let text = doc(text);
        assert_eq!(json(&message.to_json()), json(&text));
        assert_eq!(OutboundMessage::parse(&text).unwrap(), message);
    }
    // The exact bytes written (compact, fields in the documented order).
    let mut out = String::new();
    OutboundMessage::Mark {
        stream_sid,
        name: "say \"hi\"\n".into(),
    }
    .write_json(&mut out);
    assert_eq!(
        out,
        format!(r#"{{"event":"mark","streamSid":"{MZ}","mark":{{"name":"say \"hi\"\n"}}}}"#)
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    let message =
        format!(r#"{{"event":"media","streamSid":"{MZ}","media":{{"payload":"{text}"}}}}"#);
    match OutboundMessage::parse(&message).unwrap() {
        OutboundMessage::Media { payload, .. } => payload.into_owned(),
        _ => unreachable!(),
    }
}

#[test]
fn unknown_fields_and_field_order_are_tolerated() {
    let text = format!(
        r#"{{"streamSid":"{MZ}","extra":{{"nested":[1,2,{{"x":null}}]}},"media":{{"payload":"/w==","future":true,"timestamp":"40","chunk":"3","track":"inbound"}},"sequenceNumber":"9","event":"media"}}"#
    );
    let InboundMessage::Media(m) = InboundMessage::parse(&text).unwrap() else {
        panic!()
    };
    assert_eq!((m.sequence_number, m.chunk, m.timestamp), (9, 3, 40));
}

#[test]
fn escaped_payloads_are_unescaped() {
    // Some JSON encoders escape `/`; the payload is then copied instead of borrowed.
    let text = format!(
        r#"{{"event":"media","sequenceNumber":"2","media":{{"track":"inbound","chunk":"1","timestamp":"0","payload":"\/w=="}},"streamSid":"{MZ}"}}"#
    );
    let InboundMessage::Media(m) = InboundMessage::parse(&text).unwrap() else {
        panic!()
    };
    assert!(matches!(m.payload, Cow::Owned(_)));
    assert_eq!(m.decode_payload().unwrap(), [0xFF]);
}

#[test]
fn missing_required_fields_are_typed_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (CONNECTED, "\"protocol\": \"Call\",", "protocol"),
        (START, "\"sequenceNumber\": \"1\",", "sequenceNumber"),
        (
            START,
            "\"callSid\": \"CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\",",
            "start.callSid",
        ),
        (START, "\"tracks\": [\"inbound\"],", "start.tracks"),
        (
            START,
            "\"sampleRate\": 8000,",
            "start.mediaFormat.sampleRate",
        ),
        (MEDIA_INBOUND_TRACK, "\"chunk\": \"2\",", "media.chunk"),
        (
            MEDIA_INBOUND_TRACK,
            "\"timestamp\": \"5\",",
            "media.timestamp",
        ),
        (
            MEDIA_INBOUND_TRACK,
            "\"track\": \"inbound\",",
            "media.track",
        ),
        (
            DTMF,
            "\"streamSid\": \"MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\",",
            "streamSid",
        ),
        (MARK, "\"name\": \"my label\"", "mark.name"),
    ];
    for (text, remove, field) in cases {
        let text = doc(text);
        let remove = doc(remove);
        assert!(text.contains(&remove), "{remove}");
        let broken = text.replace(&remove, "");
        match InboundMessage::parse(&broken) {
            Err(Error::MissingField { field: f, .. }) => assert_eq!(f, *field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // `customParameters` may be absent (no <Parameter>): an empty map.
    let text = doc(START);
    let start = text.find("\"customParameters\"").unwrap();
    let end = text[start..].find('}').unwrap() + start + 1;
    let without = format!(
        "{}{}",
        text[..start].trim_end().trim_end_matches(','),
        &text[end..]
    );
    let InboundMessage::Start(s) = InboundMessage::parse(&without).unwrap() else {
        panic!()
    };
    assert!(s.custom_parameters.is_empty());
}

#[test]
fn garbage_values_are_typed_errors() {
    let media = doc(MEDIA_INBOUND_TRACK);
    for (from, to, expect) in [
        ("\"chunk\": \"2\"", "\"chunk\": \"two\"", "media.chunk"),
        (
            "\"sequenceNumber\": \"4\"",
            "\"sequenceNumber\": \"-4\"",
            "sequenceNumber",
        ),
        (
            "\"timestamp\": \"5\"",
            "\"timestamp\": \"5.0\"",
            "media.timestamp",
        ),
    ] {
        match InboundMessage::parse(&media.replace(from, to)) {
            Err(Error::InvalidNumber { field, .. }) => assert_eq!(field, expect),
            other => panic!("{to}: {other:?}"),
        }
    }
    // Counters must be strings, as documented.
    assert!(matches!(
        InboundMessage::parse(&media.replace("\"chunk\": \"2\"", "\"chunk\": 2")),
        Err(Error::Json(_))
    ));
    assert!(matches!(
        InboundMessage::parse(&media.replace("\"inbound\"", "\"sideways\"")),
        Err(Error::InvalidValue {
            field: "media.track",
            ..
        })
    ));
    assert!(matches!(
        InboundMessage::parse(&doc(START).replace("audio/x-mulaw", "audio/opus")),
        Err(Error::InvalidValue {
            field: "start.mediaFormat.encoding",
            ..
        })
    ));
    assert!(matches!(
        InboundMessage::parse(&doc(DTMF).replace("\"digit\": \"1\"", "\"digit\": \"12\"")),
        Err(Error::InvalidValue {
            field: "dtmf.digit",
            ..
        })
    ));
    assert!(matches!(
        InboundMessage::parse(&doc(MARK).replace("\"mark\",", "\"bookmark\",")),
        Err(Error::UnknownEvent(e)) if e == "bookmark"
    ));
    let other_sid = "MZ00000000000000000000000000000000";
    let inconsistent = doc(START).replacen(MZ, other_sid, 1);
    assert!(matches!(
        InboundMessage::parse(&inconsistent),
        Err(Error::InconsistentStart { .. })
    ));
    for text in [
        "",
        "null",
        "[]",
        "{}",
        "{\"event\":5}",
        "{\"event\":\"media\"",
        "\u{0}",
    ] {
        assert!(InboundMessage::parse(text).is_err(), "{text:?}");
    }
}

#[test]
fn error_messages_do_not_repeat_their_source() {
    use std::error::Error as _;
    let err = InboundMessage::parse("{").unwrap_err();
    let source = err
        .source()
        .expect("the JSON error is the source")
        .to_string();
    assert!(!err.to_string().contains(&source));
}
