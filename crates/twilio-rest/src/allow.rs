//! The list of hosts this crate may download media from (and send credentials to).

use url::Url;

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `api.twilio.com` and its edge/region variants, HTTPS on port 443.
    TwilioApi,
    /// One exact origin.
    Origin {
        scheme: String,
        host: String,
        port: u16,
    },
}

/// Hosts that recording downloads may reach.
///
/// The default holds Twilio's API hosts: `api.twilio.com`, `api.{region}.twilio.com` and
/// `api.{edge}.{region}.twilio.com`, over HTTPS on port 443. An entry given as a bare host
/// (`media.example.com`) allows HTTPS on port 443 only; an entry given as an origin
/// (`https://host:8443`, `http://127.0.0.1:8080`) allows exactly that scheme, host and port —
/// the only way to allow plain HTTP. The client's base URL is always allowed as well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAllowList {
    entries: Vec<Entry>,
}

impl Default for HostAllowList {
    fn default() -> Self {
        Self::twilio()
    }
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(crate) fn is_twilio_api_host(host: &str) -> bool {
    let Some(middle) = host
        .strip_prefix("api.")
        .and_then(|h| h.strip_suffix("twilio.com"))
    else {
        return false;
    };
    if middle.is_empty() {
        return true;
    }
    let Some(middle) = middle.strip_suffix('.') else {
        return false;
    };
    let labels: Vec<&str> = middle.split('.').collect();
    labels.len() <= 2 && labels.iter().all(|l| is_label(l))
}

impl HostAllowList {
    /// Twilio's API hosts only (the default).
    pub fn twilio() -> Self {
        Self {
            entries: vec![Entry::TwilioApi],
        }
    }

    /// Nothing but the client's base URL.
    pub fn empty() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Adds a bare host (HTTPS, port 443) or an origin `scheme://host[:port]`.
    pub fn allow(mut self, entry: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::invalid("allow-list entry", format!("{entry:?}: {reason}"));
        let url = if entry.contains("://") {
            Url::parse(entry).map_err(|e| bad(&e.to_string()))?
        } else {
            let u = Url::parse(&format!("https://{entry}")).map_err(|e| bad(&e.to_string()))?;
            if u.port().is_some() {
                return Err(bad(
                    "a port needs an explicit scheme, e.g. https://host:8443",
                ));
            }
            u
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("scheme must be http or https"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials are not allowed"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("only scheme, host and port"));
        }
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return Err(bad("no host"));
        };
        self.entries.push(Entry::Origin {
            scheme: url.scheme().to_owned(),
            host: host.to_owned(),
            port,
        });
        Ok(self)
    }

    pub(crate) fn includes_twilio(&self) -> bool {
        self.entries.contains(&Entry::TwilioApi)
    }

    /// Whether `url` may be requested.
    pub fn allows(&self, url: &Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        self.entries.iter().any(|e| match e {
            Entry::TwilioApi => url.scheme() == "https" && port == 443 && is_twilio_api_host(host),
            Entry::Origin {
                scheme,
                host: h,
                port: p,
            } => url.scheme() == scheme && host == h && port == *p,
        })
    }
}

/// The URL with any user info removed, for error messages.
pub(crate) fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn twilio_hosts() {
        let l = HostAllowList::twilio();
        assert!(l.allows(&u("https://api.twilio.com/2010-04-01/x")));
        assert!(l.allows(&u("https://api.au1.twilio.com/x")));
        assert!(l.allows(&u("https://api.sydney.au1.twilio.com/x")));
        assert!(
            l.allows(&u("https://API.TWILIO.COM/x")),
            "host is case-insensitive"
        );
        assert!(!l.allows(&u("http://api.twilio.com/x")), "https only");
        assert!(!l.allows(&u("https://api.twilio.com:8443/x")));
        assert!(!l.allows(&u("https://api.a.b.c.twilio.com/x")));
        assert!(!l.allows(&u("https://api.twilio.com.evil.com/x")));
        assert!(!l.allows(&u("https://evilapi.twilio.com/x")));
        assert!(!l.allows(&u("https://api.evil_twilio.com/x")));
        assert!(!l.allows(&u("https://apitwilio.com/x")));
        assert!(!l.allows(&u("https://media.twilio.com/x")));
        assert!(!l.allows(&u("https://user:pw@api.twilio.com/x")));
    }

    #[test]
    fn explicit_entries() {
        let l = HostAllowList::empty()
            .allow("media.example.com")
            .unwrap()
            .allow("http://127.0.0.1:8080")
            .unwrap();
        assert!(l.allows(&u("https://media.example.com/a")));
        assert!(!l.allows(&u("http://media.example.com/a")));
        assert!(l.allows(&u("http://127.0.0.1:8080/a")));
        assert!(!l.allows(&u("http://127.0.0.1:8081/a")));
        assert!(!l.allows(&u("https://127.0.0.1:8080/a")));
        assert!(!l.allows(&u("https://api.twilio.com/a")));
        for bad in [
            "ftp://x.com",
            "https://u:p@x.com",
            "https://x.com/path",
            "x.com:8443",
            "",
            "https://",
        ] {
            assert!(HostAllowList::empty().allow(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redact_strips_userinfo() {
        assert_eq!(redact(&u("https://a:b@x.com/p")), "https://x.com/p");
    }
}
