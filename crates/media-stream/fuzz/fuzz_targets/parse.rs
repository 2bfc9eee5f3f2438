//! Any byte string gives a message or an error, never a panic: both parsers, and payload decoding
//! and re-serialization of whatever parses.
#![no_main]

use kav_media_stream::{InboundMessage, OutboundMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = InboundMessage::parse_bytes(data) {
        if let InboundMessage::Media(media) = &message {
            let _ = media.decode_payload();
        }
        // What parses serializes back to a message that parses to the same thing.
        let json = message.to_json();
        let again = InboundMessage::parse(&json).expect("re-serialized message parses");
        assert_eq!(again, message);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(message) = OutboundMessage::parse(text) {
            let json = message.to_json();
            assert_eq!(
                OutboundMessage::parse(&json).expect("re-serialized"),
                message
            );
        }
    }
});
