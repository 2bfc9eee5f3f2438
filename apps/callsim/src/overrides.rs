//! Twilio's webhook *connection overrides*: key-value pairs in a URL's fragment
//! (`https://agent.example.com/x#ct=1000&rc=3&rp=5xx,ct`) that change how Twilio connects and
//! retries (<https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides>).
//!
//! | key | meaning | range | Twilio's default |
//! |---|---|---|---|
//! | `ct` | connect timeout, ms | 100–10000 | 5000 (the simulator: `SimConfig` connect timeout, 10 s) |
//! | `rt` | read timeout, ms | 100–15000 | 15000 |
//! | `tt` | total time for all attempts, ms | 100–15000 | 15000 |
//! | `rc` | retry count | 0–5 | 1 |
//! | `rp` | retry policy: `4xx`, `5xx`, `ct`, `rt`, `all` (comma-separated) | | `ct` |
//!
//! `e` (edge) and `sni` are accepted and ignored. The fragment is never sent: the request
//! goes to (and is signed for) the URL without it.

use std::time::Duration;

/// What failed, in the retry policy's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// No connection (refused, unreachable, connect timeout).
    Connect,
    /// Connected, but no (complete) answer in time.
    Read,
    /// A 4xx answer.
    Status4xx,
    /// A 5xx answer.
    Status5xx,
    /// Anything else (never retried).
    Other,
}

/// The retry policy: which failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    connect: bool,
    read: bool,
    status_4xx: bool,
    status_5xx: bool,
}

impl RetryPolicy {
    /// Twilio's default: connection failures only.
    const DEFAULT: Self = Self {
        connect: true,
        read: false,
        status_4xx: false,
        status_5xx: false,
    };

    pub(crate) fn retries(self, kind: FailureKind) -> bool {
        match kind {
            FailureKind::Connect => self.connect,
            FailureKind::Read => self.read,
            FailureKind::Status4xx => self.status_4xx,
            FailureKind::Status5xx => self.status_5xx,
            FailureKind::Other => false,
        }
    }
}

/// The connection settings of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Overrides {
    pub(crate) connect: Duration,
    pub(crate) read: Duration,
    pub(crate) total: Duration,
    pub(crate) retries: u32,
    pub(crate) policy: RetryPolicy,
}

/// Problems with the overrides of a URL (the request still goes, with defaults for them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// 11243 for an invalid `rp`.
    pub(crate) policy: bool,
    pub(crate) message: String,
}

/// Splits `url` into the URL to request and its overrides (the defaults: the configured
/// timeouts, Twilio's retry count and policy).
pub(crate) fn parse(
    url: &str,
    connect: Duration,
    total: Duration,
) -> (&str, Overrides, Vec<Problem>) {
    let mut overrides = Overrides {
        connect,
        read: total,
        total,
        retries: 1,
        policy: RetryPolicy::DEFAULT,
    };
    let mut problems = Vec::new();
    let Some((base, fragment)) = url.split_once('#') else {
        return (url, overrides, problems);
    };
    for pair in fragment.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let mut number = |min: u64, max: u64| -> Option<u64> {
            match value.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Some(n),
                Ok(n) => {
                    let clamped = n.clamp(min, max);
                    problems.push(Problem {
                        policy: false,
                        message: format!(
                            "connection override `{key}={value}` is outside {min}–{max}: using {clamped}"
                        ),
                    });
                    Some(clamped)
                }
                Err(_) => {
                    problems.push(Problem {
                        policy: false,
                        message: format!(
                            "connection override `{key}={value}` is not a number: ignored"
                        ),
                    });
                    None
                }
            }
        };
        match key {
            "ct" => {
                if let Some(ms) = number(100, 10_000) {
                    overrides.connect = Duration::from_millis(ms);
                }
            }
            "rt" => {
                if let Some(ms) = number(100, 15_000) {
                    overrides.read = Duration::from_millis(ms);
                }
            }
            "tt" => {
                if let Some(ms) = number(100, 15_000) {
                    overrides.total = Duration::from_millis(ms);
                }
            }
            "rc" => {
                if let Some(n) = number(0, 5) {
                    overrides.retries = u32::try_from(n).unwrap_or(5);
                }
            }
            "rp" => match parse_policy(value) {
                Some(policy) => overrides.policy = policy,
                None => problems.push(Problem {
                    policy: true,
                    message: format!(
                        "retry policy `rp={value}` is invalid (4xx, 5xx, ct, rt, all): using `ct`"
                    ),
                }),
            },
            "e" | "edge" | "sni" => {}
            other => problems.push(Problem {
                policy: false,
                message: format!("unknown connection override `{other}`: ignored"),
            }),
        }
    }
    (base, overrides, problems)
}

fn parse_policy(value: &str) -> Option<RetryPolicy> {
    let mut policy = RetryPolicy {
        connect: false,
        read: false,
        status_4xx: false,
        status_5xx: false,
    };
    for token in value.split(',') {
        match token.trim() {
            "ct" => policy.connect = true,
            "rt" => policy.read = true,
            "4xx" => policy.status_4xx = true,
            "5xx" => policy.status_5xx = true,
            "all" => {
                policy = RetryPolicy {
                    connect: true,
                    read: true,
                    status_4xx: true,
                    status_5xx: true,
                };
            }
            _ => return None,
        }
    }
    Some(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: Duration = Duration::from_secs(10);
    const TT: Duration = Duration::from_secs(15);

    #[test]
    fn defaults_without_fragment() {
        let (url, o, problems) = parse("https://a.b/x?y=1", CT, TT);
        assert_eq!(url, "https://a.b/x?y=1");
        assert_eq!((o.retries, o.connect, o.total), (1, CT, TT));
        assert!(o.policy.retries(FailureKind::Connect));
        assert!(!o.policy.retries(FailureKind::Status5xx));
        assert!(problems.is_empty());
    }

    #[test]
    fn fragment_values() {
        let (url, o, problems) = parse(
            "https://a.b/x#ct=200&rt=300&tt=900&rc=3&rp=5xx,rt&e=ie1",
            CT,
            TT,
        );
        assert_eq!(url, "https://a.b/x");
        assert_eq!(o.connect, Duration::from_millis(200));
        assert_eq!(o.read, Duration::from_millis(300));
        assert_eq!(o.total, Duration::from_millis(900));
        assert_eq!(o.retries, 3);
        assert!(o.policy.retries(FailureKind::Status5xx));
        assert!(o.policy.retries(FailureKind::Read));
        assert!(!o.policy.retries(FailureKind::Connect));
        assert!(problems.is_empty());
        let (_, o, _) = parse("https://a.b/#rp=all", CT, TT);
        assert!(o.policy.retries(FailureKind::Status4xx));
        assert!(!o.policy.retries(FailureKind::Other));
    }

    #[test]
    fn bad_values() {
        let (_, o, problems) = parse("https://a.b/#rc=9&rp=sometimes&ct=x&zz=1&", CT, TT);
        assert_eq!(o.retries, 5);
        assert_eq!(o.policy, RetryPolicy::DEFAULT);
        assert_eq!(o.connect, CT);
        assert_eq!(problems.len(), 4);
        assert_eq!(problems.iter().filter(|p| p.policy).count(), 1);
    }
}
