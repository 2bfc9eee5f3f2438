//! Retry policy: which failures are retried, how long to wait, and when to give up.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How requests are retried.
///
/// Only failures that cannot have created anything at Twilio are retried for requests that
/// create or change something (create call, create message, update call): connection
/// failures (nothing was sent) and `429 Too Many Requests` / `503 Service Unavailable`
/// answers (Twilio refused the request). Reads and deletes are also retried on timeouts and
/// on `502`/`504`. A `Retry-After` header is honoured (seconds or HTTP date), with a little
/// random jitter added; without one the wait grows exponentially from
/// [`initial_backoff`](Self::initial_backoff), with jitter. No retry starts after the total
/// [`deadline`](Self::deadline): then the last error is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    deadline: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, 500 ms first backoff, 10 s longest wait, 30 s total.
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Maximum number of retries after the first attempt.
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// First backoff when Twilio gave no `Retry-After` (doubles each retry).
    #[must_use]
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Longest single wait, including one asked for by `Retry-After`; a longer `Retry-After`
    /// ends the retries.
    #[must_use]
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Total time budget, from the first attempt, after which no retry starts.
    #[must_use]
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = d;
        self
    }

    /// The wait before retry number `retry` (0-based), or `None` to give up.
    /// `elapsed` is the time since the first attempt.
    pub(crate) fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let wait = match retry_after {
            Some(ra) => {
                if ra > self.max_backoff {
                    return None;
                }
                // Up to 10 % (at most 1 s, at least 100 ms) more than asked.
                let spread = (ra / 10)
                    .max(Duration::from_millis(100))
                    .min(Duration::from_secs(1));
                ra + spread.mul_f64(jitter())
            }
            None => {
                let exp = self
                    .initial_backoff
                    .saturating_mul(2u32.saturating_pow(retry.min(20)))
                    .min(self.max_backoff);
                // "Equal jitter": half fixed, half random.
                exp / 2 + (exp / 2).mul_f64(jitter())
            }
        };
        if elapsed.saturating_add(wait) > self.deadline {
            return None;
        }
        Some(wait)
    }
}

/// A number in `[0, 1)`, from the standard library's randomly keyed hasher. Spreads retries;
/// not for anything secret.
pub(crate) fn jitter() -> f64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses a `Retry-After` value: delta-seconds, or an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) compared with `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn parse_http_date(s: &str) -> Option<SystemTime> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = s.split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let h: u64 = hms.next()?.parse().ok()?;
    let m: u64 = hms.next()?.parse().ok()?;
    let sec: u64 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" || parts.next().is_some() || hms.next().is_some() {
        return None;
    }
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 || !(1970..=9999).contains(&year) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + sec;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(UNIX_EPOCH)
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(951_825_600))
        );
        for bad in [
            "",
            "-1",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn delays_respect_limits() {
        let p = RetryPolicy::default()
            .max_retries(2)
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_secs(2))
            .deadline(Duration::from_secs(5));
        let d0 = p.delay(0, None, Duration::ZERO).unwrap();
        assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
        let d1 = p.delay(1, None, Duration::ZERO).unwrap();
        assert!(d1 >= Duration::from_millis(100) && d1 <= Duration::from_millis(200));
        assert_eq!(p.delay(2, None, Duration::ZERO), None, "max retries");
        let ra = p
            .delay(0, Some(Duration::from_secs(1)), Duration::ZERO)
            .unwrap();
        assert!(ra >= Duration::from_secs(1) && ra <= Duration::from_millis(1100));
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3)), Duration::ZERO),
            None,
            "over max_backoff"
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(1)), Duration::from_millis(4500)),
            None,
            "deadline"
        );
        assert_eq!(RetryPolicy::none().delay(0, None, Duration::ZERO), None);
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }

    proptest::proptest! {
        #[test]
        fn retry_after_never_panics(s in ".{0,40}", secs in 0u64..10_000_000_000) {
            let now = UNIX_EPOCH + Duration::from_secs(secs);
            let _ = parse_retry_after(&s, now);
        }

        #[test]
        fn http_dates_parse_like_their_fields(
            day in 1u32..=28, month in 0usize..12, year in 1970i64..2100,
            h in 0u64..24, m in 0u64..60, sec in 0u64..60,
        ) {
            const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
            let s = format!("Mon, {day:02} {} {year} {h:02}:{m:02}:{sec:02} GMT", MONTHS[month]);
            let t = parse_http_date(&s).unwrap();
            // One day later in the same month is 86 400 s later.
            let next = format!("Mon, {:02} {} {year} {h:02}:{m:02}:{sec:02} GMT", day + 1, MONTHS[month]);
            let t2 = parse_http_date(&next).unwrap();
            proptest::prop_assert_eq!(t2.duration_since(t).unwrap(), Duration::from_secs(86_400));
        }
    }
}
