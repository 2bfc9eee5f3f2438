//! What the providers share: audio conversion to 8 kHz μ-law ([`convert`]), the HTTP plumbing
//! ([`http`]), and short excerpts of bodies for error messages.
// Which helpers are used depends on the provider features.
#![cfg_attr(
    not(all(
        feature = "google",
        feature = "openai",
        feature = "elevenlabs",
        feature = "espeak"
    )),
    allow(dead_code)
)]

pub(crate) mod convert;
#[cfg(any(feature = "google", feature = "openai", feature = "elevenlabs"))]
pub(crate) mod http;

/// The start of a body or of error output, for error messages (at most 300 bytes).
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() {
        format!("{}…", &text[..end])
    } else {
        text.to_owned()
    }
}
