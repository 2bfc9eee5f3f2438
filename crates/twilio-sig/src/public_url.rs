//! Rebuilding the public URL Twilio requested, behind proxies or not.

use std::fmt;
use std::str::FromStr;

use http::header::{HOST, UPGRADE};
use http::uri::Authority;
use http::{HeaderMap, Method};

use crate::SigError;

/// `http` or `https`: the scheme of a public base URL. WebSocket URLs use the matching `ws` or
/// `wss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP (development only: Twilio refuses plain `ws` for Media Streams).
    Http,
    /// HTTPS, and `wss` for WebSockets.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// `"ws"` or `"wss"`: the scheme of a WebSocket URL on this scheme.
    #[must_use]
    pub fn websocket(self) -> &'static str {
        match self {
            Self::Http => "ws",
            Self::Https => "wss",
        }
    }

    /// Parses `http`/`https` (and `ws`/`wss`, which a proxy may report for an upgrade),
    /// case-insensitively.
    fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("https") || value.eq_ignore_ascii_case("wss") {
            Some(Self::Https)
        } else if value.eq_ignore_ascii_case("http") || value.eq_ignore_ascii_case("ws") {
            Some(Self::Http)
        } else {
            None
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scheme {
    type Err = SigError;

    fn from_str(s: &str) -> Result<Self, SigError> {
        match s {
            _ if s.eq_ignore_ascii_case("http") => Ok(Self::Http),
            _ if s.eq_ignore_ascii_case("https") => Ok(Self::Https),
            _ => Err(SigError::InvalidBaseUrl {
                value: s.to_owned(),
                reason: "scheme must be http or https",
            }),
        }
    }
}

/// The absolute public base URL of a deployment, as Twilio reaches it: `https://ai.example.com`,
/// `https://ai.example.com:8443`, or with a path prefix `https://example.com/agent`.
///
/// Validated at construction: it has a scheme (`http` or `https`), a host, no user
/// information, no query and no fragment. A trailing `/` is dropped. `ai.example.com` (no scheme)
/// is refused, because a URL without a scheme breaks every URL put in TwiML.
///
/// # Path prefix
///
/// When the service is mounted under a prefix (`https://example.com/agent`), the proxy in
/// front of it either keeps the prefix (the app sees `/agent/webhook/x`) or strips it (the app
/// sees `/webhook/x`). [`join`](Self::join) handles both: a received path that already starts
/// with the prefix (at a segment boundary) is used as it is, any other path gets the prefix put
/// in front. So with a stripping proxy, do not give the app routes of its own that start with
/// the prefix's name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicBaseUrl {
    scheme: Scheme,
    /// `scheme://authority`, scheme lower-cased.
    origin: String,
    /// `""` or `/agent` (no trailing slash).
    prefix: String,
}

impl PublicBaseUrl {
    /// Parses and validates a base URL (surrounding whitespace is ignored).
    ///
    /// # Errors
    ///
    /// [`SigError::InvalidBaseUrl`] naming the value and what is wrong with it.
    pub fn parse(value: &str) -> Result<Self, SigError> {
        let invalid = |reason| SigError::InvalidBaseUrl {
            value: value.to_owned(),
            reason,
        };
        let trimmed = value.trim();
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return Err(invalid("it has no scheme; write it as https://host"));
        };
        let scheme =
            Scheme::from_str(scheme).map_err(|_| invalid("scheme must be http or https"))?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() {
            return Err(invalid("it has no host"));
        }
        if authority.contains('@') {
            return Err(invalid("it must not contain user information"));
        }
        if valid_authority(authority) != Some(authority) {
            return Err(invalid("its host or port is invalid"));
        }
        if path.contains(['?', '#']) {
            return Err(invalid("it must not have a query or a fragment"));
        }
        if !path.is_empty() && http::uri::PathAndQuery::from_str(path).is_err() {
            return Err(invalid("its path is invalid"));
        }
        Ok(Self {
            scheme,
            origin: format!("{}://{authority}", scheme.as_str()),
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// `scheme://host[:port]`.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The path prefix (`""` or like `/agent`, never ending in `/`).
    #[must_use]
    pub fn path_prefix(&self) -> &str {
        &self.prefix
    }

    /// The public URL of a request received with this path and query (see the type's docs for
    /// the prefix rule). `path_and_query` should start with `/`.
    #[must_use]
    pub fn join(&self, path_and_query: &str) -> String {
        let (path, _) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let has_prefix = self.prefix.is_empty()
            || path
                .strip_prefix(self.prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        let prefix = if has_prefix { "" } else { self.prefix.as_str() };
        let mut url =
            String::with_capacity(self.origin.len() + prefix.len() + path_and_query.len() + 1);
        url.push_str(&self.origin);
        url.push_str(prefix);
        if !path_and_query.starts_with('/') {
            url.push('/');
        }
        url.push_str(path_and_query);
        url
    }

    /// The `ws://`/`wss://` URL of a WebSocket request received with this path (and query).
    #[must_use]
    pub fn join_websocket(&self, path_and_query: &str) -> String {
        let http = self.join(path_and_query);
        format!(
            "{}{}",
            self.scheme.websocket(),
            &http[self.scheme.as_str().len()..]
        )
    }
}

impl fmt::Debug for PublicBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicBaseUrl({self})")
    }
}

impl fmt::Display for PublicBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin, self.prefix)
    }
}

impl FromStr for PublicBaseUrl {
    type Err = SigError;

    fn from_str(s: &str) -> Result<Self, SigError> {
        Self::parse(s)
    }
}

/// Where the public URL of a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlSource {
    /// A configured public base URL (recommended): scheme, host and port from it, path and
    /// query as received. Proxy headers and `Host` are ignored.
    Configured(PublicBaseUrl),
    /// The deployment sits behind a proxy it trusts to set `Forwarded` (RFC 7239) or
    /// `X-Forwarded-Proto` / `X-Forwarded-Host` / `X-Forwarded-Port`. The first element of each
    /// list is used (the one the outermost proxy wrote); `Forwarded` wins over `X-Forwarded-*`.
    /// Missing or malformed values fall back to `Host` and `fallback_scheme`.
    ///
    /// Only use this when every request reaches the service through that proxy: otherwise
    /// anyone can choose the URL the signature is checked against.
    TrustedProxy {
        /// The scheme when no proxy header gives one.
        fallback_scheme: Scheme,
    },
    /// No proxy: the `Host` header (or the URI's authority, for HTTP/2) and this scheme.
    Request {
        /// The scheme the service is reached with.
        scheme: Scheme,
    },
}

impl UrlSource {
    /// [`UrlSource::Configured`] from a string, such as the `PUBLIC_BASE_URL` variable.
    ///
    /// # Errors
    ///
    /// [`SigError::InvalidBaseUrl`].
    pub fn configured(base_url: &str) -> Result<Self, SigError> {
        PublicBaseUrl::parse(base_url).map(Self::Configured)
    }
}

/// True for a WebSocket handshake: a GET with `Upgrade: websocket`.
#[must_use]
pub fn is_websocket_upgrade(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && headers.get_all(UPGRADE).iter().any(|value| {
            value.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|protocol| protocol.trim().eq_ignore_ascii_case("websocket"))
            })
        })
}

/// The URLs a request's signature may have been computed over, best guess first. Each is later
/// tried with and without its default port by [`RequestValidator::verify`](crate::RequestValidator::verify).
///
/// Path and query are taken exactly as received. With the `axum` feature, axum's `OriginalUri`
/// extension is preferred over the request URI, so a layer on a nested router still sees the
/// full path. For a WebSocket handshake ([`is_websocket_upgrade`]) the URLs are `wss://` (or
/// `ws://`), and the same URL with its trailing slash toggled is a second candidate, since the
/// `<Stream url>` Twilio signs may differ from the received path by that slash.
///
/// # Errors
///
/// [`SigError::NoHost`] when the source needs a host and the request has none.
pub fn candidate_urls(
    parts: &http::request::Parts,
    source: &UrlSource,
) -> Result<Vec<String>, SigError> {
    #[cfg(feature = "axum")]
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(&parts.uri, |original| &original.0);
    #[cfg(not(feature = "axum"))]
    let uri = &parts.uri;
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let websocket = is_websocket_upgrade(&parts.method, &parts.headers);
    let url = public_url(&parts.headers, uri, path_and_query, source, websocket)?;
    let mut urls = vec![url];
    if let Some(toggled) = websocket.then(|| toggle_trailing_slash(&urls[0])).flatten() {
        urls.push(toggled);
    }
    Ok(urls)
}

fn public_url(
    headers: &HeaderMap,
    uri: &http::Uri,
    path_and_query: &str,
    source: &UrlSource,
    websocket: bool,
) -> Result<String, SigError> {
    let (scheme, authority) = match source {
        UrlSource::Configured(base) => {
            return Ok(if websocket {
                base.join_websocket(path_and_query)
            } else {
                base.join(path_and_query)
            });
        }
        UrlSource::Request { scheme } => (*scheme, request_host(headers, uri)?),
        UrlSource::TrustedProxy { fallback_scheme } => {
            let forwarded = header_str(headers, "forwarded")
                .and_then(|value| parse_forwarded(value).into_iter().next())
                .unwrap_or_default();
            let scheme = forwarded
                .proto
                .as_deref()
                .and_then(Scheme::parse)
                .or_else(|| first_list_item(headers, "x-forwarded-proto").and_then(Scheme::parse))
                .unwrap_or(*fallback_scheme);
            let host = forwarded
                .host
                .as_deref()
                .and_then(valid_authority)
                .or_else(|| first_list_item(headers, "x-forwarded-host").and_then(valid_authority));
            let authority = match host {
                Some(host) => host.to_owned(),
                None => request_host(headers, uri)?,
            };
            let port = first_list_item(headers, "x-forwarded-port")
                .filter(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u16>().ok());
            let authority = match port {
                Some(port) if !has_port(&authority) => format!("{authority}:{port}"),
                _ => authority,
            };
            (scheme, authority)
        }
    };
    let scheme = if websocket {
        scheme.websocket()
    } else {
        scheme.as_str()
    };
    let slash = if path_and_query.starts_with('/') {
        ""
    } else {
        "/"
    };
    Ok(format!("{scheme}://{authority}{slash}{path_and_query}"))
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The first comma-separated item of the first header line, trimmed; `None` if empty.
fn first_list_item<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    header_str(headers, name)
        .and_then(|value| value.split(',').next())
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// A host[:port] usable in a URL: a valid authority without user information, with a port in
/// range, that the URL splitter accepts too.
fn valid_authority(value: &str) -> Option<&str> {
    let value = value.trim();
    let usable = !value.is_empty()
        && !value.contains(['@', '/', '?', '#'])
        && Authority::from_str(value).is_ok_and(|a| {
            !a.host().is_empty() && (!has_port(value) || a.port_u16().is_some_and(|p| p != 0))
        })
        && crate::url_variants(&format!("http://{value}/")).is_ok();
    usable.then_some(value)
}

fn has_port(authority: &str) -> bool {
    match authority.rfind(']') {
        Some(close) => authority[close..].contains(':'),
        None => authority.contains(':'),
    }
}

fn request_host(headers: &HeaderMap, uri: &http::Uri) -> Result<String, SigError> {
    header_str(headers, HOST.as_str())
        .and_then(valid_authority)
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
        .ok_or(SigError::NoHost)
}

fn toggle_trailing_slash(url: &str) -> Option<String> {
    let (before_query, query) = match url.find('?') {
        Some(q) => url.split_at(q),
        None => (url, ""),
    };
    let after_scheme = before_query.find("://").map_or(0, |i| i + 3);
    let path_start = before_query[after_scheme..]
        .find('/')
        .map(|i| after_scheme + i)?;
    let path = &before_query[path_start..];
    if path == "/" {
        return None;
    }
    Some(match path.strip_suffix('/') {
        Some(trimmed) => format!("{}{trimmed}{query}", &before_query[..path_start]),
        None => format!("{before_query}/{query}"),
    })
}

/// One element of a `Forwarded` header (RFC 7239): the parameters one proxy recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForwardedElement {
    /// `for=`: the client the proxy received the request from.
    pub for_: Option<String>,
    /// `by=`: the proxy's own interface.
    pub by: Option<String>,
    /// `host=`: the `Host` the proxy received.
    pub host: Option<String>,
    /// `proto=`: the scheme the proxy received the request with.
    pub proto: Option<String>,
}

/// Parses a `Forwarded` header value into its elements, first (outermost proxy) first.
///
/// Lenient and total: quoted strings and `\` escapes are honoured, parameter names are
/// case-insensitive, unknown parameters and malformed pairs are skipped, and no input panics.
#[must_use]
pub fn parse_forwarded(value: &str) -> Vec<ForwardedElement> {
    split_outside_quotes(value, ',')
        .into_iter()
        .map(|element| {
            let mut parsed = ForwardedElement::default();
            for pair in split_outside_quotes(element, ';') {
                let Some((name, raw)) = pair.split_once('=') else {
                    continue;
                };
                let value = unquote(raw.trim());
                let slot = match name.trim().to_ascii_lowercase().as_str() {
                    "for" => &mut parsed.for_,
                    "by" => &mut parsed.by,
                    "host" => &mut parsed.host,
                    "proto" => &mut parsed.proto,
                    _ => continue,
                };
                if slot.is_none() && !value.is_empty() {
                    *slot = Some(value);
                }
            }
            parsed
        })
        .collect()
}

fn split_outside_quotes(value: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if in_quotes && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quotes = !in_quotes;
        } else if c == separator && !in_quotes {
            parts.push(&value[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&value[start..]);
    parts
}

fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"') else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_needs_a_scheme() {
        let err = PublicBaseUrl::parse("ai.example.com").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid public base URL \"ai.example.com\": it has no scheme; write it as https://host"
        );
        for bad in [
            "ftp://ai.example.com",
            "https://",
            "https://user:pw@ai.example.com",
            "https://ai.example.com?x=1",
            "https://ai.example.com/a#b",
            "https://ai.example.com:99999",
            "https://ai.example.com:x",
            "https://ai example.com",
            "https://ai.example.com:",
            "https://ai.example.com:0",
            "https://[::1",
        ] {
            assert!(PublicBaseUrl::parse(bad).is_err(), "{bad}");
        }
        let base = PublicBaseUrl::parse(" HTTPS://ai.example.com:8443/agent/ \n").unwrap();
        assert_eq!(base.to_string(), "https://ai.example.com:8443/agent");
        assert_eq!(base.origin(), "https://ai.example.com:8443");
        assert_eq!(base.path_prefix(), "/agent");
        assert_eq!(base.scheme(), Scheme::Https);
        assert_eq!(
            PublicBaseUrl::parse("http://[::1]:8080").unwrap().origin(),
            "http://[::1]:8080"
        );
        assert!(PublicBaseUrl::parse("https://[::1]").is_ok());
    }

    #[test]
    fn prefix_is_added_only_when_missing() {
        let base = PublicBaseUrl::parse("https://h.example/agent").unwrap();
        assert_eq!(
            base.join("/webhook/x?a=1"),
            "https://h.example/agent/webhook/x?a=1"
        );
        assert_eq!(
            base.join("/agent/webhook/x"),
            "https://h.example/agent/webhook/x"
        );
        assert_eq!(base.join("/agent"), "https://h.example/agent");
        assert_eq!(base.join("/agents/x"), "https://h.example/agent/agents/x");
        assert_eq!(base.join_websocket("/ws"), "wss://h.example/agent/ws");
        let root = PublicBaseUrl::parse("http://h.example/").unwrap();
        assert_eq!(root.join("/x?q"), "http://h.example/x?q");
        assert_eq!(root.join_websocket("/ws"), "ws://h.example/ws");
    }

    #[test]
    fn forwarded_elements() {
        let parsed = parse_forwarded(
            r#"for=192.0.2.60;Proto=HTTPS;host="ai.example.com:8443", for="[2001:db8::1]";proto=http"#,
        );
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].proto.as_deref(), Some("HTTPS"));
        assert_eq!(parsed[0].host.as_deref(), Some("ai.example.com:8443"));
        assert_eq!(parsed[1].for_.as_deref(), Some("[2001:db8::1]"));
        assert_eq!(
            parse_forwarded(r#"host="a,b;c\"d""#)[0].host.as_deref(),
            Some("a,b;c\"d")
        );
        assert_eq!(
            parse_forwarded("garbage;;=;x"),
            vec![ForwardedElement::default()]
        );
    }

    #[test]
    fn unusable_hosts_are_ignored() {
        for bad in ["h:99999", "h:0", "h:", "u@h", "h/x", "[::1", "", " "] {
            assert_eq!(valid_authority(bad), None, "{bad:?}");
        }
        for good in ["h", "h:8080", "[::1]", "[::1]:443", "ai.example.com"] {
            assert_eq!(valid_authority(good), Some(good));
        }
        let request = http::Request::post("/x")
            .header("host", "h:99999")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let source = UrlSource::Request {
            scheme: Scheme::Https,
        };
        assert_eq!(candidate_urls(&parts, &source), Err(SigError::NoHost));
    }

    #[test]
    fn trailing_slash_toggle() {
        assert_eq!(
            toggle_trailing_slash("wss://h/ws").as_deref(),
            Some("wss://h/ws/")
        );
        assert_eq!(
            toggle_trailing_slash("wss://h/ws/").as_deref(),
            Some("wss://h/ws")
        );
        assert_eq!(
            toggle_trailing_slash("wss://h/ws?x=1").as_deref(),
            Some("wss://h/ws/?x=1")
        );
        assert_eq!(toggle_trailing_slash("wss://h/"), None);
    }
}
