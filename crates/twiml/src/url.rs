//! URLs that TwiML can hold.

use std::fmt;

use crate::error::Error;

/// A URL that may appear in TwiML: either absolute with an `http`, `https` or `wss` scheme and a
/// host, or a deliberate relative path (made with [`Url::relative`], starting with `/`).
///
/// A host without a scheme (`example.com/static/x.mp3`) cannot be constructed: Twilio resolves it
/// as a path relative to the webhook URL and the call fails (errors 11205 / 31920).
///
/// ```
/// use kav_twiml::Url;
///
/// let url = Url::parse("https://agent.example.com/media/greeting.wav")?;
/// assert_eq!(url.as_str(), "https://agent.example.com/media/greeting.wav");
/// assert!(Url::parse("agent.example.com/media/greeting.wav").is_err());
///
/// let base = Url::parse("https://agent.example.com/")?;
/// assert_eq!(base.join("/webhook/handle_recording")?.as_str(),
///            "https://agent.example.com/webhook/handle_recording");
/// assert_eq!(Url::relative("/webhook/gather")?.as_str(), "/webhook/gather");
/// # Ok::<(), kav_twiml::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Url {
    text: String,
    /// Length of the scheme (0 for a relative path).
    scheme_len: u8,
}

const SCHEMES: &[&str] = &["http", "https", "wss"];

impl Url {
    /// Parses an absolute `http://`, `https://` or `wss://` URL with a host.
    ///
    /// The scheme is matched without regard to case; the text is kept as given.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when the scheme is missing or not allowed, the host is empty, or the
    /// URL holds whitespace or control characters.
    pub fn parse(text: &str) -> Result<Self, Error> {
        check_absolute(text, SCHEMES).map(|scheme_len| Self {
            text: text.to_owned(),
            scheme_len,
        })
    }

    /// A relative path, resolved by Twilio against the URL of the request that returned the
    /// TwiML. It must start with a single `/` (`//host` is a host, not a path).
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when the path does not start with exactly one `/` or holds
    /// whitespace or control characters.
    pub fn relative(path: &str) -> Result<Self, Error> {
        check_relative(path)?;
        Ok(Self {
            text: path.to_owned(),
            scheme_len: 0,
        })
    }

    /// Parses what TwiML may hold: an absolute URL, or a path starting with `/`.
    ///
    /// # Errors
    /// As [`Url::parse`] and [`Url::relative`].
    pub fn parse_twiml(text: &str) -> Result<Self, Error> {
        if text.starts_with('/') && !text.starts_with("//") {
            Self::relative(text)
        } else {
            Self::parse(text)
        }
    }

    /// Appends `path` (which must start with `/`) to this absolute URL's path, dropping this
    /// URL's query and fragment, and a trailing `/` so that `https://h/` + `/x` is `https://h/x`.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when this URL is relative or `path` is not a valid relative path.
    pub fn join(&self, path: &str) -> Result<Self, Error> {
        if self.is_relative() {
            return Err(invalid(&self.text, "cannot join onto a relative URL"));
        }
        check_relative(path)?;
        let base = self.text.split(['?', '#']).next().unwrap_or_default();
        let base = base.strip_suffix('/').unwrap_or(base);
        let mut text = String::with_capacity(base.len() + path.len());
        text.push_str(base);
        text.push_str(path);
        Ok(Self {
            text,
            scheme_len: self.scheme_len,
        })
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme in lower case (`"https"`), or `None` for a relative path.
    pub fn scheme(&self) -> Option<&'static str> {
        if self.is_relative() {
            return None;
        }
        let scheme = &self.text[..usize::from(self.scheme_len)];
        SCHEMES
            .iter()
            .copied()
            .find(|s| s.eq_ignore_ascii_case(scheme))
    }

    /// Whether this is a relative path.
    pub fn is_relative(&self) -> bool {
        self.scheme_len == 0
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({:?})", self.text)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for Url {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl std::str::FromStr for Url {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Url {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

/// An absolute `wss://` URL: the only kind `<Stream>` and `<ConversationRelay>` accept.
///
/// ```
/// use kav_twiml::WssUrl;
/// assert!(WssUrl::parse("wss://agent.example.com/ws/twilio-media").is_ok());
/// assert!(WssUrl::parse("https://agent.example.com/ws").is_err());
/// # Ok::<(), kav_twiml::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WssUrl(String);

impl WssUrl {
    /// Parses an absolute `wss://` URL.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for any other scheme, a missing host, whitespace or control
    /// characters.
    pub fn parse(text: &str) -> Result<Self, Error> {
        check_absolute(text, &["wss"]).map(|_| Self(text.to_owned()))
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WssUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WssUrl({:?})", self.0)
    }
}

impl fmt::Display for WssUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for WssUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for WssUrl {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl From<WssUrl> for Url {
    fn from(value: WssUrl) -> Self {
        Url {
            text: value.0,
            scheme_len: 3,
        }
    }
}

fn invalid(text: &str, reason: &'static str) -> Error {
    Error::InvalidUrl {
        value: text.to_owned(),
        reason,
    }
}

fn check_chars(text: &str) -> Result<(), Error> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            text,
            "URLs cannot hold whitespace or control characters",
        ));
    }
    Ok(())
}

/// Returns the length of the scheme.
fn check_absolute(text: &str, schemes: &[&str]) -> Result<u8, Error> {
    check_chars(text)?;
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(invalid(
            text,
            if schemes.len() == 1 {
                "no scheme: expected an absolute wss:// URL"
            } else {
                "no scheme: expected an absolute http://, https:// or wss:// URL \
                 (use Url::relative for a path)"
            },
        ));
    };
    if !scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return Err(invalid(
            text,
            "no scheme: expected an absolute URL such as https://host/path",
        ));
    }
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(invalid(
            text,
            if schemes.len() == 1 {
                "the scheme must be wss"
            } else {
                "the scheme must be http, https or wss"
            },
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        match host_port.find(']') {
            Some(end) => {
                let after = &host_port[end + 1..];
                if !(after.is_empty() || after.starts_with(':')) {
                    return Err(invalid(text, "malformed IPv6 host"));
                }
                check_port(text, after.strip_prefix(':'))?;
                &host_port[..=end]
            }
            None => return Err(invalid(text, "malformed IPv6 host")),
        }
    } else {
        let (host, port) = match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        };
        check_port(text, port)?;
        host
    };
    if host.is_empty() {
        return Err(invalid(text, "the host is empty"));
    }
    if host.contains(['<', '>', '"', '\\', '^', '`', '{', '|', '}']) {
        return Err(invalid(
            text,
            "the host holds characters a host cannot have",
        ));
    }
    // A scheme is at most a few bytes long (checked against the list above).
    Ok(scheme.len() as u8)
}

fn check_port(text: &str, port: Option<&str>) -> Result<(), Error> {
    match port {
        None => Ok(()),
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            if p.parse::<u32>().is_ok_and(|n| n <= 65535) {
                Ok(())
            } else {
                Err(invalid(text, "the port is out of range"))
            }
        }
        Some(_) => Err(invalid(text, "the port is not a number")),
    }
}

fn check_relative(path: &str) -> Result<(), Error> {
    check_chars(path)?;
    if !path.starts_with('/') {
        return Err(invalid(
            path,
            "a relative URL must be a path starting with `/`",
        ));
    }
    if path.starts_with("//") {
        return Err(invalid(path, "`//` starts a host, not a path"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_absolute_urls() {
        for ok in [
            "https://a.example.com",
            "https://a.example.com/x.mp3?b=1&c=2#f",
            "http://127.0.0.1:8080/webhook",
            "HTTPS://A.EXAMPLE.COM/",
            "wss://h/ws",
            "https://user:pw@h/x",
            "https://[::1]:443/x",
        ] {
            assert!(Url::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_hosts_without_scheme_and_bad_urls() {
        for bad in [
            "example.com/static/x.mp3",
            "example.com",
            "localhost:8080/x",
            "/relative",
            "ftp://h/x",
            "https://",
            "https:///x",
            "https://h:99999/",
            "https://h:x/",
            "https://h/a b",
            "https://h/\n",
            "",
            "://h",
        ] {
            let err = Url::parse(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl { .. }), "{bad}");
        }
        let msg = Url::parse("example.com/static/x.mp3")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no scheme"), "{msg}");
    }

    #[test]
    fn relative_paths_are_explicit() {
        assert!(Url::relative("/webhook/x").unwrap().is_relative());
        assert_eq!(Url::relative("/webhook/x").unwrap().scheme(), None);
        assert!(Url::relative("example.com/x").is_err());
        assert!(Url::relative("//example.com/x").is_err());
        assert!(Url::parse_twiml("//example.com/x").is_err());
        assert!(Url::parse_twiml("/x").unwrap().is_relative());
        assert_eq!(Url::parse("HTTPS://h/").unwrap().scheme(), Some("https"));
    }

    #[test]
    fn join_appends_paths() {
        let base = Url::parse("https://agent.example.com").unwrap();
        assert_eq!(
            base.join("/a/b").unwrap().as_str(),
            "https://agent.example.com/a/b"
        );
        let base = Url::parse("https://agent.example.com/prefix/?q=1").unwrap();
        assert_eq!(
            base.join("/a").unwrap().as_str(),
            "https://agent.example.com/prefix/a"
        );
        assert!(base.join("a").is_err());
        assert!(Url::relative("/x").unwrap().join("/y").is_err());
    }

    #[test]
    fn wss_only() {
        assert!(WssUrl::parse("wss://h/ws").is_ok());
        assert!(WssUrl::parse("https://h/ws").is_err());
        assert!(WssUrl::parse("ws://h/ws").is_err());
        assert!(WssUrl::parse("h/ws").is_err());
        assert_eq!(
            Url::from(WssUrl::parse("wss://h/ws").unwrap()).scheme(),
            Some("wss")
        );
    }
}
