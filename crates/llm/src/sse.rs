//! A sans-IO decoder for Server-Sent Events (`text/event-stream`), as both providers stream.
//!
//! Follows the WHATWG parsing rules: lines end in CR, LF or CRLF (also when the CR and the LF
//! arrive in different chunks); `:` lines are comments; `data:` lines accumulate (joined with
//! `\n`); a blank line dispatches the event; a leading byte-order mark is skipped. Bytes are
//! buffered until a line is complete, so chunks may be split anywhere, including inside a UTF-8
//! character. Invalid UTF-8 is replaced with U+FFFD, as the standard says.
//!
//! ```
//! use kav_llm::sse::SseDecoder;
//!
//! let mut decoder = SseDecoder::new();
//! decoder.feed(b": keep-alive\r\ndata: {\"a\":\r").unwrap();
//! assert!(decoder.next_event().is_none());
//! decoder.feed(b"\n\r\ndata: [DONE]\n\n").unwrap();
//! assert_eq!(decoder.next_event().unwrap().data, "{\"a\":");
//! assert_eq!(decoder.next_event().unwrap().data, "[DONE]");
//! ```

use std::collections::VecDeque;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if the event had one.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The `id:` field, if the event had one.
    pub id: Option<String>,
}

/// The decoder refused the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// A line (or an event's accumulated data) is longer than the configured limit.
    #[error("server-sent event larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
}

/// Decodes a byte stream into [`SseEvent`]s. Feed bytes with [`feed`](Self::feed), poll events
/// with [`next_event`](Self::next_event).
#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    after_cr: bool,
    at_start: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
    ready: VecDeque<SseEvent>,
    max_size: usize,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// The default limit for one line or one event's data: 1 MiB.
    pub const DEFAULT_MAX_SIZE: usize = 1 << 20;

    /// A decoder with the default size limit.
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_size(Self::DEFAULT_MAX_SIZE)
    }

    /// A decoder that refuses lines and events larger than `max_size` bytes.
    #[must_use]
    pub fn with_max_size(max_size: usize) -> Self {
        Self {
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            data: String::new(),
            has_data: false,
            event: None,
            id: None,
            ready: VecDeque::new(),
            max_size,
        }
    }

    /// Feeds bytes; complete events become available from [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// [`SseError::TooLarge`] when a line or an event exceeds the limit (the decoder should then
    /// be dropped).
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), SseError> {
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.extend_line(&bytes[..end])?;
                    self.after_cr = bytes[end] == b'\r';
                    bytes = &bytes[end + 1..];
                    let line = std::mem::take(&mut self.line);
                    self.process_line(&line)?;
                    self.line = line;
                    self.line.clear();
                }
                None => {
                    self.extend_line(bytes)?;
                    bytes = &[];
                }
            }
        }
        Ok(())
    }

    /// The next complete event, if any.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        self.ready.pop_front()
    }

    /// Whether bytes of an event that was never terminated by a blank line are buffered (what a
    /// connection cut in the middle of an event leaves behind). Such an event is never
    /// dispatched.
    #[must_use]
    pub fn has_partial_event(&self) -> bool {
        !self.line.is_empty() || self.has_data
    }

    fn extend_line(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > self.max_size {
            return Err(SseError::TooLarge {
                limit: self.max_size,
            });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn process_line(&mut self, mut line: &[u8]) -> Result<(), SseError> {
        if self.at_start {
            self.at_start = false;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch();
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_size {
                    return Err(SseError::TooLarge {
                        limit: self.max_size,
                    });
                }
                self.data.push_str(&value);
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            b"id" if !value.contains('\0') => self.id = Some(value.into_owned()),
            _ => {} // `retry` and unknown fields are ignored
        }
        Ok(())
    }

    fn dispatch(&mut self) {
        let event = self.event.take();
        if !self.has_data {
            return;
        }
        self.has_data = false;
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the trailing '\n'
        self.ready.push_back(SseEvent {
            event,
            data,
            id: self.id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_events(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c).unwrap();
            while let Some(e) = d.next_event() {
                out.push(e);
            }
        }
        out
    }

    const SAMPLE: &str = "\u{feff}: OPENROUTER PROCESSING\r\n\r\nevent: message\r\ndata: {\"t\":\"שלום\"}\r\n\r\ndata: first line\ndata:second line\nid: 7\n\n:comment\rdata: תודה\r\r\ndata: [DONE]\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                event: Some("message".into()),
                data: "{\"t\":\"שלום\"}".into(),
                id: None,
            },
            SseEvent {
                event: None,
                data: "first line\nsecond line".into(),
                id: Some("7".into()),
            },
            SseEvent {
                event: None,
                data: "תודה".into(),
                id: Some("7".into()),
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
                id: Some("7".into()),
            },
        ]
    }

    #[test]
    fn parses_comments_crlf_cr_multiline_bom() {
        assert_eq!(all_events(&[SAMPLE.as_bytes()]), expected());
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let bytes = SAMPLE.as_bytes();
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                assert_eq!(
                    all_events(&[&bytes[..i], &bytes[i..j], &bytes[j..]]),
                    expected(),
                    "split at {i}/{j}"
                );
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        let chunks: Vec<&[u8]> = SAMPLE.as_bytes().chunks(1).collect();
        assert_eq!(all_events(&chunks), expected());
    }

    #[test]
    fn unterminated_event_is_not_dispatched() {
        let mut d = SseDecoder::new();
        d.feed(b"data: {\"partial\": tr").unwrap();
        assert!(d.next_event().is_none());
        assert!(d.has_partial_event());
        let mut d = SseDecoder::new();
        d.feed(b"data: complete line\n").unwrap();
        assert!(d.next_event().is_none());
        assert!(d.has_partial_event());
        d.feed(b"\n").unwrap();
        assert!(d.next_event().is_some());
        assert!(!d.has_partial_event());
    }

    #[test]
    fn empty_data_and_field_without_colon() {
        assert_eq!(
            all_events(&[b"data\n\ndata:\ndata:\n\nevent: x\n\n"]),
            vec![
                SseEvent {
                    data: String::new(),
                    ..SseEvent::default()
                },
                SseEvent {
                    data: "\n".into(),
                    ..SseEvent::default()
                }
            ]
        );
    }

    #[test]
    fn too_large_is_an_error() {
        let mut d = SseDecoder::with_max_size(16);
        assert_eq!(d.feed(&[b'x'; 17]), Err(SseError::TooLarge { limit: 16 }));
        let mut d = SseDecoder::with_max_size(16);
        d.feed(b"data: 0123456789\n").unwrap();
        assert!(d.feed(b"data: 0123456789\n").is_err());
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let events = all_events(&[b"data: \xff\xfe ok\n\n"]);
        assert_eq!(events[0].data, "\u{fffd}\u{fffd} ok");
    }

    proptest! {
        #[test]
        fn random_chunking_is_transparent(cuts in proptest::collection::vec(0usize..200, 0..12)) {
            let bytes = SAMPLE.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in cuts { chunks.push(&bytes[prev..c]); prev = c; }
            chunks.push(&bytes[prev..]);
            prop_assert_eq!(all_events(&chunks), expected());
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut d = SseDecoder::new();
            let _ = d.feed(&bytes);
            while d.next_event().is_some() {}
        }
    }
}
