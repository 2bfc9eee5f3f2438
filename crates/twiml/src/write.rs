//! Rendering helpers: escaping and attribute values.

use crate::node::XmlName;

/// A value that can be held by a TwiML attribute.
pub(crate) trait AttrValue: Sized {
    /// Appends the value, escaped for a double-quoted attribute.
    fn write_value(&self, out: &mut String);
    /// The value as plain (unescaped) text.
    fn to_attr_string(&self) -> String;
    /// Parses the value from its plain text; `Err` holds the reason.
    fn from_attr(value: &str) -> Result<Self, String>;
    /// As [`Self::from_attr`], taking the text (strings keep it without copying); `Err` gives
    /// the text back with the reason.
    fn from_attr_owned(value: String) -> Result<Self, (String, String)> {
        match Self::from_attr(&value) {
            Ok(v) => Ok(v),
            Err(reason) => Err((value, reason)),
        }
    }
}

/// Text bodies: strings and URLs.
pub(crate) trait TextValue {
    fn as_text(&self) -> &str;
}

impl TextValue for String {
    fn as_text(&self) -> &str {
        self
    }
}

impl TextValue for crate::url::Url {
    fn as_text(&self) -> &str {
        self.as_str()
    }
}

#[inline]
pub(crate) fn write_attr<T: AttrValue>(out: &mut String, prefix: &str, value: &Option<T>) {
    if let Some(v) = value {
        out.push_str(prefix);
        v.write_value(out);
        out.push('"');
    }
}

pub(crate) fn write_extra_attrs(out: &mut String, attrs: &[(XmlName, String)]) {
    for (name, value) in attrs {
        out.push(' ');
        out.push_str(name.as_str());
        out.push_str("=\"");
        escape_attr(out, value);
        out.push('"');
    }
}

#[inline]
pub(crate) fn write_text(out: &mut String, text: &str) {
    escape_text(out, text);
}

/// Whether `c` may appear in an XML 1.0 document.
#[inline]
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Bytes that need work in text: markup, control characters other than tab and newline (`\r`
/// is escaped so that a parser's end-of-line normalization keeps it), and 0xEF, the lead byte of
/// U+FFFE / U+FFFF (which XML 1.0 forbids).
static TEXT_SPECIAL: [bool; 256] = special_table(false);
/// Bytes that need work in a double-quoted attribute: as text, plus `"`, tab and newline.
static ATTR_SPECIAL: [bool; 256] = special_table(true);

const fn special_table(attr: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = attr || (b != b'\t' as usize && b != b'\n' as usize);
        b += 1;
    }
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'&' as usize] = true;
    table[0xEF] = true;
    table[b'"' as usize] = attr;
    table
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `v` is below 0x20 or is one of the markup bytes (SWAR: eight bytes at a
/// time). May report bytes the tables do not flag (tab, newline, `"` in text); never misses one.
#[inline]
fn chunk_may_need_work(v: u64) -> bool {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let below_space = v.wrapping_sub(ONES * 0x20) & !v & HIGHS;
    let markup = zero(v ^ (ONES * u64::from(b'<')))
        | zero(v ^ (ONES * u64::from(b'>')))
        | zero(v ^ (ONES * u64::from(b'&')))
        | zero(v ^ (ONES * u64::from(b'"')))
        | zero(v ^ (ONES * 0xEF));
    below_space | markup != 0
}

/// Position of the first byte at or after `from` that the table flags.
#[inline]
fn find_special(bytes: &[u8], from: usize, table: &[bool; 256]) -> Option<usize> {
    let mut i = from;
    while i + 8 <= bytes.len() {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&bytes[i..i + 8]);
        if chunk_may_need_work(u64::from_le_bytes(chunk))
            && let Some(p) = chunk.iter().position(|&b| table[usize::from(b)])
        {
            return Some(i + p);
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| table[usize::from(b)])
        .map(|p| i + p)
}

/// Escapes element text: `&`, `<`, `>`, and `\r` (so that a parser's end-of-line normalization
/// does not turn it into `\n`). Characters XML 1.0 cannot hold become U+FFFD.
pub(crate) fn escape_text(out: &mut String, s: &str) {
    escape(out, s, &TEXT_SPECIAL);
}

/// Escapes an attribute value: as text, plus `"` and the whitespace characters a parser would
/// normalize to spaces (`\t`, `\n`, `\r`).
pub(crate) fn escape_attr(out: &mut String, s: &str) {
    escape(out, s, &ATTR_SPECIAL);
}

fn escape(out: &mut String, s: &str, table: &[bool; 256]) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut from = 0;
    while let Some(at) = find_special(bytes, from, table) {
        // `at` is an ASCII byte or the lead byte 0xEF, so it is a char boundary.
        let (replacement, len) = match bytes[at] {
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'&' => ("&amp;", 1),
            b'"' => ("&quot;", 1),
            b'\t' => ("&#9;", 1),
            b'\n' => ("&#10;", 1),
            b'\r' => ("&#13;", 1),
            0xEF => {
                // U+FFFE is EF BF BE and U+FFFF is EF BF BF; other 0xEF sequences are fine.
                if bytes.get(at + 1) == Some(&0xBF)
                    && matches!(bytes.get(at + 2), Some(0xBE | 0xBF))
                {
                    ("\u{FFFD}", 3)
                } else {
                    from = at + 1;
                    continue;
                }
            }
            _ => ("\u{FFFD}", 1),
        };
        if start == 0 && at > 0 {
            out.reserve(s.len() + 8);
        }
        out.push_str(&s[start..at]);
        out.push_str(replacement);
        from = at + len;
        start = from;
    }
    out.push_str(&s[start..]);
}

// ---- attribute value types -------------------------------------------------------------------

impl AttrValue for String {
    fn write_value(&self, out: &mut String) {
        escape_attr(out, self);
    }
    fn to_attr_string(&self) -> String {
        self.clone()
    }
    fn from_attr(value: &str) -> Result<Self, String> {
        Ok(value.to_owned())
    }
    fn from_attr_owned(value: String) -> Result<Self, (String, String)> {
        Ok(value)
    }
}

impl AttrValue for bool {
    fn write_value(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
    fn to_attr_string(&self) -> String {
        self.to_string()
    }
    fn from_attr(value: &str) -> Result<Self, String> {
        match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("expected `true` or `false`".to_owned()),
        }
    }
}

pub(crate) fn write_u32(out: &mut String, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // The buffer holds only ASCII digits.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

pub(crate) fn parse_u32(value: &str) -> Result<u32, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a non-negative integer".to_owned());
    }
    value
        .parse::<u32>()
        .map_err(|_| "the number is too large".to_owned())
}

impl AttrValue for u32 {
    fn write_value(&self, out: &mut String) {
        write_u32(out, *self);
    }
    fn to_attr_string(&self) -> String {
        self.to_string()
    }
    fn from_attr(value: &str) -> Result<Self, String> {
        parse_u32(value)
    }
}

/// Space-separated lists (callback event sets, card types, inputs).
impl<T: AttrValue> AttrValue for Vec<T> {
    fn write_value(&self, out: &mut String) {
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            v.write_value(out);
        }
    }
    fn to_attr_string(&self) -> String {
        let mut out = String::new();
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&v.to_attr_string());
        }
        out
    }
    fn from_attr(value: &str) -> Result<Self, String> {
        value.split_ascii_whitespace().map(T::from_attr).collect()
    }
}

impl AttrValue for crate::url::Url {
    fn write_value(&self, out: &mut String) {
        escape_attr(out, self.as_str());
    }
    fn to_attr_string(&self) -> String {
        self.as_str().to_owned()
    }
    fn from_attr(value: &str) -> Result<Self, String> {
        Self::parse_twiml(value.trim()).map_err(|e| reason_of(&e))
    }
}

impl AttrValue for crate::url::WssUrl {
    fn write_value(&self, out: &mut String) {
        escape_attr(out, self.as_str());
    }
    fn to_attr_string(&self) -> String {
        self.as_str().to_owned()
    }
    fn from_attr(value: &str) -> Result<Self, String> {
        Self::parse(value.trim()).map_err(|e| reason_of(&e))
    }
}

/// The reason part of a value error, for wrapping into [`crate::Error::InvalidAttribute`].
pub(crate) fn reason_of(e: &crate::Error) -> String {
    match e {
        crate::Error::InvalidUrl { reason, .. } => (*reason).to_owned(),
        crate::Error::InvalidValue { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        let mut out = String::new();
        escape_text(&mut out, s);
        out
    }
    fn attr(s: &str) -> String {
        let mut out = String::new();
        escape_attr(&mut out, s);
        out
    }

    #[test]
    fn escapes() {
        assert_eq!(text("plain שלום"), "plain שלום");
        assert_eq!(text("a<b>&c\"d'"), "a&lt;b&gt;&amp;c\"d'");
        assert_eq!(text("x\r\ny\tz"), "x&#13;\ny\tz");
        assert_eq!(
            attr("a<b>&c\"d'\t\n\r"),
            "a&lt;b&gt;&amp;c&quot;d'&#9;&#10;&#13;"
        );
        assert_eq!(
            text("bad\u{0}\u{1b}\u{FFFE}\u{FFFF}ok\u{FFFD}"),
            "bad\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}ok\u{FFFD}"
        );
        assert_eq!(text("\u{EFFF}"), "\u{EFFF}");
    }

    /// The straightforward escaper the fast one must agree with.
    fn reference(s: &str, attr: bool) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' if attr => out.push_str("&quot;"),
                '\t' if attr => out.push_str("&#9;"),
                '\n' if attr => out.push_str("&#10;"),
                '\r' => out.push_str("&#13;"),
                c if !is_xml_char(c) => out.push('\u{FFFD}'),
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn fast_escape_agrees_with_reference_at_every_position() {
        let specials = [
            '<', '>', '&', '"', '\t', '\n', '\r', '\u{0}', '\u{1f}', '\u{FFFE}', '\u{FFFF}',
            '\u{EFFF}', '\u{F000}', 'ש', '😀',
        ];
        for len in 0..24 {
            for at in 0..=len {
                for c in specials {
                    let mut s: String = "abcdefghijklmnopqrstuvwxyz".chars().take(len).collect();
                    s.insert(at.min(s.len()), c);
                    s.push(c);
                    assert_eq!(text(&s), reference(&s, false), "{s:?}");
                    assert_eq!(attr(&s), reference(&s, true), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn integers() {
        for n in [0, 5, 10, 4_294_967_295] {
            let mut out = String::new();
            write_u32(&mut out, n);
            assert_eq!(out, n.to_string());
        }
        assert!(parse_u32("").is_err());
        assert!(parse_u32("-1").is_err());
        assert!(parse_u32("+1").is_err());
        assert!(parse_u32("4294967296").is_err());
        assert_eq!(parse_u32("007"), Ok(7));
    }
}
