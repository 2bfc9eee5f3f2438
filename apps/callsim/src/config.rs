//! [`SimConfig`]: where the server is, which public URL Twilio would call, the account and the
//! caller.

use std::net::SocketAddr;
use std::time::Duration;

use kav_twilio_sig::{PublicBaseUrl, SecretString};
use kav_twiml::HttpMethod;
use secrecy::ExposeSecret;

use crate::error::Error;

/// How a simulated call is placed. Built with [`SimConfig::new`] and the `with_*` setters.
#[derive(Clone)]
pub struct SimConfig {
    pub(crate) server: reqwest::Url,
    pub(crate) public_url: PublicBaseUrl,
    pub(crate) public_text: String,
    pub(crate) auth_token: SecretString,
    pub(crate) account_sid: String,
    pub(crate) call_sid: Option<String>,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) voice_url_path: String,
    pub(crate) status_callback: Option<String>,
    pub(crate) http_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_requests: usize,
    pub(crate) espeak_program: String,
    pub(crate) espeak_voice: Option<String>,
    pub(crate) stream_idle: Duration,
    pub(crate) stream_realtime: bool,
    pub(crate) recordings_addr: Option<SocketAddr>,
    pub(crate) recordings_linger: Duration,
    pub(crate) fallback_url: Option<String>,
    pub(crate) fallback_method: HttpMethod,
    pub(crate) dial_outcome: DialOutcome,
    pub(crate) dial_duration: Duration,
    pub(crate) real_time: bool,
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("server", &self.server.as_str())
            .field("public_url", &self.public_text)
            .field("auth_token", &"[redacted]")
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("voice_url_path", &self.voice_url_path)
            .field("status_callback", &self.status_callback)
            .field("recordings_addr", &self.recordings_addr)
            .field("fallback_url", &self.fallback_url)
            .field("dial_outcome", &self.dial_outcome)
            .field("real_time", &self.real_time)
            .finish_non_exhaustive()
    }
}

/// The account SID used when none is given (`AC` and 32 hex digits).
pub const DEFAULT_ACCOUNT_SID: &str = "AC00000000000000000000000000000000";

impl SimConfig {
    /// A call to `server` (where the agent listens, e.g. `http://127.0.0.1:8080`) as Twilio
    /// would place it to `public_url` (the URL configured in Twilio, e.g.
    /// `https://agent.example.com`), signed with `auth_token`.
    ///
    /// Defaults: caller `+972501234567`, called `+15005550006`, voice URL path
    /// `/webhook/incoming_call`, no status callbacks, 15 s per request (Twilio's limit), 10 s to
    /// connect, at most 100 requests to the agent per call.
    ///
    /// # Errors
    /// [`Error::InvalidServerUrl`], [`Error::InvalidPublicUrl`], and [`Error::InvalidConfig`]
    /// for an empty token.
    pub fn new(server: &str, public_url: &str, auth_token: SecretString) -> Result<Self, Error> {
        let server_url = reqwest::Url::parse(server).map_err(|_| Error::InvalidServerUrl {
            value: server.to_owned(),
            reason: "not an absolute URL",
        })?;
        if !matches!(server_url.scheme(), "http" | "https") || server_url.host_str().is_none() {
            return Err(Error::InvalidServerUrl {
                value: server.to_owned(),
                reason: "needs an http:// or https:// scheme and a host",
            });
        }
        let parsed =
            PublicBaseUrl::parse(public_url).map_err(|source| Error::InvalidPublicUrl {
                value: public_url.to_owned(),
                source,
            })?;
        if auth_token.expose_secret().is_empty() {
            return Err(Error::InvalidConfig {
                field: "auth token",
                reason: "is empty".to_owned(),
            });
        }
        Ok(Self {
            server: server_url,
            public_text: format!("{}{}", parsed.origin(), parsed.path_prefix()),
            public_url: parsed,
            auth_token,
            account_sid: DEFAULT_ACCOUNT_SID.to_owned(),
            call_sid: None,
            from: "+972501234567".to_owned(),
            to: "+15005550006".to_owned(),
            voice_url_path: "/webhook/incoming_call".to_owned(),
            status_callback: None,
            http_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
            max_requests: 100,
            espeak_program: "espeak-ng".to_owned(),
            espeak_voice: None,
            stream_idle: Duration::from_secs(1),
            stream_realtime: false,
            recordings_addr: None,
            recordings_linger: Duration::ZERO,
            fallback_url: None,
            fallback_method: HttpMethod::Post,
            dial_outcome: DialOutcome::NoAnswer,
            dial_duration: Duration::from_secs(10),
            real_time: false,
        })
    }

    /// The `AccountSid` (`AC` + 32 hex digits).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when it is not `AC` followed by 32 hex digits.
    pub fn with_account_sid(mut self, sid: &str) -> Result<Self, Error> {
        check_sid("account SID", "AC", sid)?;
        self.account_sid = sid.to_owned();
        Ok(self)
    }

    /// A fixed `CallSid` (random by default), for reproducible output.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when it is not `CA` followed by 32 hex digits.
    pub fn with_call_sid(mut self, sid: &str) -> Result<Self, Error> {
        check_sid("call SID", "CA", sid)?;
        self.call_sid = Some(sid.to_owned());
        Ok(self)
    }

    /// The caller's number (`From`).
    #[must_use]
    pub fn with_from(mut self, from: impl Into<String>) -> Self {
        self.from = from.into();
        self
    }

    /// The number called (`To`).
    #[must_use]
    pub fn with_to(mut self, to: impl Into<String>) -> Self {
        self.to = to.into();
        self
    }

    /// The path of the voice URL under the public URL (default `/webhook/incoming_call`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when it does not start with `/`.
    pub fn with_voice_url_path(mut self, path: &str) -> Result<Self, Error> {
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(Error::InvalidConfig {
                field: "voice URL path",
                reason: format!("`{path}` must start with a single `/`"),
            });
        }
        self.voice_url_path = path.to_owned();
        Ok(self)
    }

    /// Sends `ringing`, `in-progress` and `completed` status callbacks to this URL: an absolute
    /// URL, or a path under the public URL (`/webhook/call_status`).
    #[must_use]
    pub fn with_status_callback(mut self, url: impl Into<String>) -> Self {
        self.status_callback = Some(url.into());
        self
    }

    /// The time a request may take in total (Twilio: 15 s) and to connect (Twilio: 10 s).
    #[must_use]
    pub fn with_timeouts(mut self, total: Duration, connect: Duration) -> Self {
        self.http_timeout = total;
        self.connect_timeout = connect;
        self
    }

    /// At most this many requests to the agent per call (guards against TwiML loops).
    #[must_use]
    pub fn with_max_requests(mut self, max: usize) -> Self {
        self.max_requests = max.max(1);
        self
    }

    /// The espeak-ng program and voice (`-v`, e.g. `he`) for text turns in recordings.
    #[must_use]
    pub fn with_espeak(mut self, program: impl Into<String>, voice: Option<String>) -> Self {
        self.espeak_program = program.into();
        self.espeak_voice = voice;
        self
    }

    /// On a `<Stream>`, the agent's answer to a turn is over once it has sent no message for
    /// this long (default 1 s).
    #[must_use]
    pub fn with_stream_idle(mut self, idle: Duration) -> Self {
        self.stream_idle = idle;
        self
    }

    /// On a `<Stream>`, sends the caller's audio in real time (one 20 ms frame every 20 ms, as
    /// a phone line does) instead of as fast as the socket takes it (the default).
    #[must_use]
    pub fn with_stream_realtime(mut self, realtime: bool) -> Self {
        self.stream_realtime = realtime;
        self
    }

    /// Binds the local recordings host (which serves each `<Record>` turn at its
    /// `RecordingUrl`) to this address instead of a free port on `127.0.0.1` picked for each
    /// call, so that the agent's allow-list of recording hosts can name it before the call
    /// (`RecordingUrl`s then start with `http://{addr}/2010-04-01/Accounts/…`).
    ///
    /// The host listens only while a call runs (and lets go of the address shortly after it):
    /// calls on the same address must not overlap (the second one fails with
    /// [`Error::RecordingsHost`]).
    #[must_use]
    pub fn with_recordings_addr(mut self, addr: SocketAddr) -> Self {
        self.recordings_addr = Some(addr);
        self
    }

    /// Keeps the recordings host serving for this long after [`Simulator::run`] returns (in
    /// the background; `run` does not wait), so that an agent which downloads a recording
    /// after answering its status callback — the `completed` event of a `<Start><Recording>`
    /// comes after the call has ended — still finds it. Default: zero (the host stops when
    /// the call ends). With a fixed [`with_recordings_addr`](Self::with_recordings_addr), the
    /// next call on that address can only start once the linger is over.
    ///
    /// [`Simulator::run`]: crate::Simulator::run
    #[must_use]
    pub fn with_recordings_linger(mut self, linger: Duration) -> Self {
        self.recordings_linger = linger;
        self
    }

    /// The number's *fallback URL* (Twilio's `VoiceFallbackUrl`, "Primary handler fails"):
    /// when a TwiML document cannot be fetched or executed (no connection, timeout, non-2xx
    /// answer, bad TwiML, wrong content type), Twilio requests this URL with the call's
    /// parameters plus `ErrorCode` and `ErrorUrl`, and executes what it returns. An absolute
    /// URL or a path under the public URL; requested with POST unless `method` says GET.
    #[must_use]
    pub fn with_fallback_url(mut self, url: impl Into<String>, method: HttpMethod) -> Self {
        self.fallback_url = Some(url.into());
        self.fallback_method = method;
        self
    }

    /// What happens to the party a `<Dial>` calls (no real call is placed): `no-answer` (the
    /// default: it rings for the `<Dial timeout>`, 30 s by default), `busy`, `failed`, or
    /// `completed` after [`with_dial_duration`](Self::with_dial_duration).
    #[must_use]
    pub fn with_dial_outcome(mut self, outcome: DialOutcome) -> Self {
        self.dial_outcome = outcome;
        self
    }

    /// How long an answered (`completed`) `<Dial>` lasts (default 10 s; capped by the
    /// `<Dial timeLimit>`).
    #[must_use]
    pub fn with_dial_duration(mut self, duration: Duration) -> Self {
        self.dial_duration = duration;
        self
    }

    /// Lets the call take the time it would on a phone: waits for the length of each `<Say>`
    /// (estimated at about 15 characters a second), `<Play>` (the decoded WAV's length),
    /// `<Pause>`, caller turn and `<Dial>`. The default runs as fast as possible (the
    /// simulated clock still advances, so `duration_seconds` is the same).
    #[must_use]
    pub fn with_real_time(mut self, real_time: bool) -> Self {
        self.real_time = real_time;
        self
    }

    /// The address set with [`with_recordings_addr`](Self::with_recordings_addr), if any.
    #[must_use]
    pub fn recordings_addr(&self) -> Option<SocketAddr> {
        self.recordings_addr
    }

    /// The public base URL as given (origin and path prefix).
    #[must_use]
    pub fn public_url(&self) -> &str {
        &self.public_text
    }
}

/// What the party called by `<Dial>` does (`DialCallStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DialOutcome {
    /// It answers; the two parties talk until it hangs up.
    Completed,
    /// Busy signal.
    Busy,
    /// It rings until the `<Dial timeout>` (default 30 s) runs out.
    #[default]
    NoAnswer,
    /// The call could not be placed (e.g. the number does not exist).
    Failed,
}

impl DialOutcome {
    /// The `DialCallStatus` value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for DialOutcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "completed" => Ok(Self::Completed),
            "busy" => Ok(Self::Busy),
            "no-answer" => Ok(Self::NoAnswer),
            "failed" => Ok(Self::Failed),
            other => Err(format!(
                "`{other}` is not a dial outcome (completed, busy, no-answer, failed)"
            )),
        }
    }
}

fn check_sid(field: &'static str, prefix: &str, sid: &str) -> Result<(), Error> {
    let ok = sid.len() == 34
        && sid.starts_with(prefix)
        && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidConfig {
            field,
            reason: format!("`{sid}` is not {prefix} followed by 32 hex digits"),
        })
    }
}

/// A random SID: `prefix` and 32 lower-case hex digits.
pub(crate) fn random_sid(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to the clock and a counter (unique enough for a simulator).
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        bytes[..8].copy_from_slice(&(nanos as u64).to_le_bytes());
        bytes[8..].copy_from_slice(&n.to_le_bytes());
    }
    let mut out = String::with_capacity(34);
    out.push_str(prefix);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates() {
        let token = || SecretString::from("t".to_owned());
        assert!(SimConfig::new("127.0.0.1:8080", "https://a.example.com", token()).is_err());
        assert!(SimConfig::new("http://127.0.0.1:8080", "a.example.com", token()).is_err());
        assert!(
            SimConfig::new(
                "http://127.0.0.1:8080",
                "https://a.example.com",
                SecretString::from(String::new())
            )
            .is_err()
        );
        let config =
            SimConfig::new("http://127.0.0.1:8080", "https://a.example.com", token()).unwrap();
        assert!(config.clone().with_account_sid("AC123").is_err());
        assert!(config.clone().with_voice_url_path("webhook").is_err());
        let sid = random_sid("CA");
        assert!(config.with_call_sid(&sid).is_ok());
        assert!(
            !format!(
                "{:?}",
                SimConfig::new("http://h", "https://a.b", token()).unwrap()
            )
            .contains("\"t\"")
        );
    }
}
