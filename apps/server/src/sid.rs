//! The shape of Twilio SIDs: a two-letter prefix naming the kind (`CA` a call, `RE` a
//! recording, `SM`/`MM` a message) and 32 more characters.

/// How long a Twilio SID is: the prefix and 32 characters.
const SID_LEN: usize = 34;

/// Whether `sid` is `prefix` followed by 32 ASCII alphanumerics.
pub(crate) fn valid(prefix: &str, sid: &str) -> bool {
    shaped(prefix, sid, u8::is_ascii_alphanumeric)
}

/// Whether `sid` is `prefix` followed by 32 hex digits (the stricter shape Twilio issues).
pub(crate) fn valid_hex(prefix: &str, sid: &str) -> bool {
    shaped(prefix, sid, u8::is_ascii_hexdigit)
}

fn shaped(prefix: &str, sid: &str, allowed: fn(&u8) -> bool) -> bool {
    sid.len() == SID_LEN
        && sid.starts_with(prefix)
        && sid.bytes().skip(prefix.len()).all(|b| allowed(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_prefix_length_and_characters() {
        assert!(valid("CA", "CA0123456789abcdef0123456789abcdef"));
        assert!(valid("RE", "REzz23456789abcdef0123456789abcdef"));
        assert!(!valid("RE", "CA0123456789abcdef0123456789abcdef"));
        assert!(!valid("CA", "CA0123456789abcdef0123456789abcde"));
        assert!(!valid("CA", "CA0123456789abcdef0123456789abcde-"));
        assert!(!valid("CA", "CA0123456789abcdef0123456789abcdé"));
        assert!(valid_hex("CA", "CA0123456789abcdef0123456789abcdef"));
        assert!(!valid_hex("CA", "CA0123456789abcdef0123456789abcdeg"));
    }
}
