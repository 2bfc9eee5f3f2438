//! URL handling that follows twilio-python (`urllib.parse.urlparse` + `geturl()`), so that the
//! URLs we sign and compare are the ones the reference implementation signs and compares.

use crate::SigError;

/// The two URLs a signature is checked against: the URL without its port and with the scheme's
/// default port, as Twilio's helper libraries try them ("signature generation on the back end is
/// inconsistent", twilio-python).
///
/// Returned by [`url_variants`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlVariants {
    /// The URL with any port removed (or unchanged when it had none).
    pub without_port: String,
    /// The URL with its port (or with the scheme's default port added when it had none).
    pub with_port: String,
}

/// A URL split the way Python's `urllib.parse.urlparse` splits it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SplitUrl<'a> {
    /// Lower-cased by construction (see [`split`]), so a `String` is not needed: we keep the
    /// original slice and lower-case when joining.
    scheme: &'a str,
    pub(crate) netloc: &'a str,
    path: &'a str,
    pub(crate) query: &'a str,
    fragment: &'a str,
}

fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// Python strips leading C0 controls and spaces and removes every tab, CR and LF before parsing.
pub(crate) fn sanitize(url: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = url.trim_start_matches(|c: char| c <= ' ');
    if trimmed.contains(['\t', '\r', '\n']) {
        std::borrow::Cow::Owned(trimmed.replace(['\t', '\r', '\n'], ""))
    } else {
        std::borrow::Cow::Borrowed(trimmed)
    }
}

/// Splits an already [`sanitize`]d URL. Only absolute `http`, `https`, `ws` and `wss` URLs with a
/// host are accepted: anything else cannot be the URL Twilio requested.
pub(crate) fn split(url: &str) -> Result<SplitUrl<'_>, SigError> {
    let invalid = |reason| SigError::InvalidUrl { reason };
    let colon = url.find(':').ok_or(invalid("no scheme"))?;
    let scheme = &url[..colon];
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme.chars().all(is_scheme_char)
    {
        return Err(invalid("no scheme"));
    }
    if !["http", "https", "ws", "wss"]
        .iter()
        .any(|known| scheme.eq_ignore_ascii_case(known))
    {
        return Err(invalid("scheme is not http, https, ws or wss"));
    }
    let rest = url[colon + 1..]
        .strip_prefix("//")
        .ok_or(invalid("no host"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, rest) = rest.split_at(end);
    if netloc.is_empty() {
        return Err(invalid("no host"));
    }
    if netloc.contains('[') != netloc.contains(']') {
        return Err(invalid("invalid IPv6 host"));
    }
    if netloc.contains('[') {
        let inside = netloc
            .split_once('[')
            .and_then(|(_, after)| after.split_once(']'))
            .map_or("", |(host, _)| host);
        let future = inside.starts_with(['v', 'V']);
        if !future && inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(invalid("invalid IPv6 host"));
        }
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    Ok(SplitUrl {
        scheme,
        netloc,
        path,
        query,
        fragment,
    })
}

impl SplitUrl<'_> {
    fn scheme_is(&self, name: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(name)
    }

    /// The port as Python's `SplitResult.port` reads it: `None` when absent or empty, an error
    /// when not a number in `0..=65535`. Also returns the byte range of the host part in
    /// `netloc` that precedes the port (for removing it).
    fn port(&self) -> Result<Option<(u16, usize)>, SigError> {
        let host_start = self.netloc.rfind('@').map_or(0, |at| at + 1);
        let hostinfo = &self.netloc[host_start..];
        let port_start = if let Some(open) = hostinfo.find('[') {
            let after_open = &hostinfo[open + 1..];
            let close = after_open.find(']').map_or(after_open.len(), |c| c + 1);
            let after_close = &after_open[close..];
            after_close
                .find(':')
                .map(|c| host_start + open + 1 + close + c)
        } else {
            hostinfo.find(':').map(|c| host_start + c)
        };
        let Some(colon) = port_start else {
            return Ok(None);
        };
        let digits = &self.netloc[colon + 1..];
        if digits.is_empty() {
            return Ok(None);
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SigError::InvalidUrl {
                reason: "port is not a number",
            });
        }
        let value = digits.trim_start_matches('0');
        match value.parse::<u16>() {
            Ok(port) => Ok(Some((port, colon))),
            Err(_) if value.is_empty() => Ok(Some((0, colon))),
            Err(_) => Err(SigError::InvalidUrl {
                reason: "port out of range",
            }),
        }
    }

    /// Python's `urlunparse(urlparse(url))` with `netloc` replaced.
    fn join(&self, netloc: &str, extra_port: Option<u16>) -> String {
        let mut out = String::with_capacity(
            self.scheme.len()
                + netloc.len()
                + self.path.len()
                + self.query.len()
                + self.fragment.len()
                + 12,
        );
        out.push_str(&self.scheme.to_ascii_lowercase());
        out.push_str("://");
        out.push_str(netloc);
        if let Some(port) = extra_port {
            out.push(':');
            out.push_str(&port.to_string());
        }
        out.push_str(self.path_as_python_rebuilds_it());
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(self.query);
        }
        if !self.fragment.is_empty() {
            out.push('#');
            out.push_str(self.fragment);
        }
        out
    }

    /// `urlparse` splits `;params` off the last path segment for http(s) and `urlunparse` only
    /// puts it back when it is non-empty: a path ending in an empty `;` loses it.
    fn path_as_python_rebuilds_it(&self) -> &str {
        if !(self.scheme_is("http") || self.scheme_is("https")) {
            return self.path;
        }
        let from = self.path.rfind('/').unwrap_or(0);
        match self.path[from..].find(';') {
            Some(semi) if from + semi + 1 == self.path.len() => &self.path[..from + semi],
            _ => self.path,
        }
    }

    fn default_port(&self) -> u16 {
        if self.scheme_is("https") || self.scheme_is("wss") {
            443
        } else {
            80
        }
    }
}

/// The URL without and with its port, as twilio-python's `remove_port` / `add_port` build them.
///
/// Both go through Python's URL normalization (`urlparse(url).geturl()`): the scheme is
/// lower-cased, an empty `?` or `#` is dropped, and an empty `;` at the end of an http(s) path
/// is dropped. Two deliberate differences, both where twilio-python's string handling is broken
/// and twilio-node's is right: removing the port keeps user information and IPv6 brackets
/// (`https://u:p@h:8443/` → `https://u:p@h/`, where Python gives `https://u/`), and the default
/// port of `wss` is 443 (Python adds 80 to every scheme but `https`).
///
/// # Errors
///
/// [`SigError::InvalidUrl`] when the URL is not an absolute `http`, `https`, `ws` or `wss` URL
/// with a host, or its port is not a number in `0..=65535` (Python raises `ValueError` there).
pub fn url_variants(url: &str) -> Result<UrlVariants, SigError> {
    let url = sanitize(url);
    let parts = split(&url)?;
    let port = parts.port()?;
    let unchanged = || parts.join(parts.netloc, None);
    Ok(match port {
        // Python tests `if uri.port:`, so port 0 counts as "no port".
        Some((port, colon)) if port != 0 => UrlVariants {
            without_port: parts.join(&parts.netloc[..colon], None),
            with_port: unchanged(),
        },
        _ => UrlVariants {
            without_port: unchanged(),
            with_port: parts.join(parts.netloc, Some(parts.default_port())),
        },
    })
}

/// The first non-empty `bodySHA256` value of the URL's query, decoded as Python's `parse_qs`
/// decodes it.
pub(crate) fn body_sha256_param(url: &str) -> Result<Option<String>, SigError> {
    let url = sanitize(url);
    let parts = split(&url)?;
    Ok(form_urlencoded::parse(parts.query.as_bytes())
        .find(|(name, value)| name == "bodySHA256" && !value.is_empty())
        .map(|(_, value)| value.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants(url: &str) -> (String, String) {
        let v = url_variants(url).unwrap();
        (v.without_port, v.with_port)
    }

    #[test]
    fn adds_and_removes_default_ports() {
        assert_eq!(
            variants("https://mycompany.com/myapp.php?foo=1&bar=2"),
            (
                "https://mycompany.com/myapp.php?foo=1&bar=2".into(),
                "https://mycompany.com:443/myapp.php?foo=1&bar=2".into()
            )
        );
        assert_eq!(
            variants("http://mycompany.com:1234/x"),
            (
                "http://mycompany.com/x".into(),
                "http://mycompany.com:1234/x".into()
            )
        );
        assert_eq!(
            variants("wss://a.example/ws"),
            ("wss://a.example/ws".into(), "wss://a.example:443/ws".into())
        );
    }

    #[test]
    fn normalizes_like_python() {
        assert_eq!(
            variants("HTTPS://h.example/p;?#").0,
            "https://h.example/p".to_owned()
        );
        assert_eq!(variants("https://h.example").1, "https://h.example:443");
        assert_eq!(
            variants("https://h.example:0/").1,
            "https://h.example:0:443/"
        );
        assert_eq!(variants("https://h.example:/").1, "https://h.example::443/");
        assert_eq!(
            variants("https://u:p@[::1]:8443/x").0,
            "https://u:p@[::1]/x".to_owned()
        );
    }

    #[test]
    fn rejects_what_python_cannot_parse_or_is_not_a_webhook_url() {
        for bad in [
            "mycompany.com/x",
            "/relative",
            "ftp://h/x",
            "https:/h/x",
            "https:///x",
            "https://h:12ab/",
            "https://h:70000/",
            "https://[::1/",
            "https://[zz]/",
        ] {
            assert!(url_variants(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn finds_body_sha256_like_parse_qs() {
        assert_eq!(
            body_sha256_param("https://h/x?a=1&bodySHA256=ab&bodySHA256=cd").unwrap(),
            Some("ab".into())
        );
        assert_eq!(
            body_sha256_param("https://h/x?bodySHA256=&body%53HA256=ef").unwrap(),
            Some("ef".into())
        );
        assert_eq!(body_sha256_param("https://h/x?bodySHA256").unwrap(), None);
        assert_eq!(
            body_sha256_param("https://h/x#bodySHA256=ab").unwrap(),
            None
        );
    }
}
