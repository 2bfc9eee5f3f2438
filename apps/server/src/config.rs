//! Configuration: environment variables, optionally a TOML file, validated once at start-up.
//!
//! [`Config::from_env`] reads the process environment; [`Config::from_vars`] takes the same
//! names from any list (tests, embedding). When `KAV_CONFIG` names a TOML file, its keys are
//! the variable names in lower case (`public_base_url = "https://…"`) and the environment wins
//! over the file. An empty variable counts as unset. Every problem is an [`Error::Config`]
//! naming the variable and what is wrong, in one line, never showing a secret.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use kav_twilio_sig::{PublicBaseUrl, Scheme, UrlSource};
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use crate::Error;

/// Every variable the server reads, in the order the README documents them.
pub const VARIABLES: &[&str] = &[
    "KAV_CONFIG",
    "LISTEN_ADDR",
    "PORT",
    "KAV_DATA_DIR",
    "DATABASE_URL",
    "CALL_MODE",
    "PUBLIC_BASE_URL",
    "TRUST_PROXY_HEADERS",
    "KAV_RECORD_CALLS",
    "KAV_SMS_REPLY",
    "KAV_SIGNATURE_CHECK",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_AUTH_TOKEN_SECONDARY",
    "TWILIO_PHONE_NUMBER",
    "TWILIO_API_BASE_URL",
    "RECORDING_HOSTS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "KAV_LLM",
    "KAV_LLM_MODEL",
    "GEMINI_API_KEY",
    "GEMINI_BASE_URL",
    "KAV_SYSTEM_PROMPT",
    "KAV_RULES_FILE",
    "GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON",
    "GOOGLE_OAUTH_TOKEN_URL",
    "GOOGLE_TTS_BASE_URL",
    "GOOGLE_STT_BASE_URL",
    "ADMIN_TOKEN",
    "KAV_LANGUAGE",
    "KAV_GREETING_TEXT",
    "KAV_FALLBACK_TEXT",
    "KAV_GOODBYE_TEXT",
    "KAV_MAX_FAILED_TURNS",
    "KAV_SAY_VOICE",
    "KAV_TTS",
    "KAV_TURN_TIMEOUT_SECS",
    "KAV_WEBHOOK_BODY_LIMIT",
    "KAV_JOB_MAX_ATTEMPTS",
    "KAV_SHUTDOWN_GRACE_SECS",
];

/// How a caller's turn travels (see ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallMode {
    /// `<Record>` → our STT → LLM → TTS → `<Play>`.
    Record,
    /// `<Gather input="speech">`: Twilio transcribes.
    Gather,
}

impl CallMode {
    /// The name used in `CALL_MODE` and in the store.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Record => "record",
            Self::Gather => "gather",
        }
    }
}

impl fmt::Display for CallMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which language model answers the caller (`KAV_LLM`; `auto` is resolved when the
/// configuration is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LlmChoice {
    /// OpenAI chat completions (or a compatible server at `OPENAI_BASE_URL`).
    OpenAi,
    /// Google Gemini (`GEMINI_API_KEY`).
    Gemini,
    /// kav-llm's scripted responder (built-in rules, or `KAV_RULES_FILE`); no network.
    Scripted,
}

impl LlmChoice {
    /// The name used in `KAV_LLM`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Gemini => "gemini",
            Self::Scripted => "scripted",
        }
    }
}

impl fmt::Display for LlmChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The default system prompt: a short phone agent, Hebrew first, answering in the caller's
/// language.
pub const DEFAULT_SYSTEM_PROMPT: &str = "אתה עוזר קולי בטלפון. ענה בקצרה, במשפט או שניים, \
     בשפה שבה המתקשר מדבר (בדרך כלל עברית). You are a phone voice assistant: answer briefly, \
     in one or two spoken sentences, in the caller's language; no lists, markup or emoji.";

/// A host recordings may be downloaded from, with the scheme to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingHost {
    scheme: Scheme,
    /// `host` or `host:port`, lower case.
    authority: String,
}

impl RecordingHost {
    /// Parses `api.twilio.com`, `host:port`, or `http://127.0.0.1:9000` (an explicit scheme is
    /// for local testing; without one it is https).
    ///
    /// # Errors
    ///
    /// A one-sentence reason.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let (scheme, authority) = match value.split_once("://") {
            Some(("http", rest)) => (Scheme::Http, rest),
            Some(("https", rest)) => (Scheme::Https, rest),
            Some((other, _)) => return Err(format!("{other:?} is not http or https")),
            None => (Scheme::Https, value),
        };
        let authority = authority.trim_end_matches('/');
        if authority.is_empty()
            || !authority
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(format!("{value:?} is not a host name"));
        }
        Ok(Self {
            scheme,
            authority: authority.to_ascii_lowercase(),
        })
    }

    /// The scheme recordings from this host are fetched with.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// `host` or `host:port`.
    #[must_use]
    pub fn authority(&self) -> &str {
        &self.authority
    }
}

impl fmt::Display for RecordingHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            Scheme::Https => f.write_str(&self.authority),
            _ => write!(f, "{}://{}", self.scheme, self.authority),
        }
    }
}

/// The validated configuration. Build it with [`Config::from_env`] or [`Config::from_vars`].
///
/// `Debug` shows which secrets are set, never their values.
#[derive(Clone)]
pub struct Config {
    listen_addr: SocketAddr,
    data_dir: PathBuf,
    database_url: SecretString,
    call_mode: CallMode,
    public_base_url: Option<PublicBaseUrl>,
    trust_proxy_headers: bool,
    signature_check: bool,
    twilio_account_sid: Option<String>,
    twilio_auth_token: Option<SecretString>,
    twilio_auth_token_secondary: Option<SecretString>,
    twilio_phone_number: Option<String>,
    twilio_api_base_url: Url,
    recording_hosts: Vec<RecordingHost>,
    openai_api_key: Option<SecretString>,
    openai_base_url: Url,
    llm: LlmChoice,
    llm_auto: bool,
    llm_model: Option<String>,
    gemini_api_key: Option<SecretString>,
    gemini_base_url: Url,
    system_prompt: String,
    rules_file: Option<PathBuf>,
    google_service_account_json: Option<SecretString>,
    google_oauth_token_url: Url,
    google_tts_base_url: Url,
    google_stt_base_url: Url,
    admin_token: Option<SecretString>,
    language: String,
    greeting_text: String,
    fallback_text: String,
    goodbye_text: String,
    max_failed_turns: u32,
    say_voice: String,
    tts_enabled: bool,
    turn_timeout: Duration,
    webhook_body_limit: usize,
    job_max_attempts: u32,
    shutdown_grace: Duration,
    record_calls: bool,
    sms_reply: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn secret(value: Option<&SecretString>) -> &'static str {
            if value.is_some() {
                "[set]"
            } else {
                "[not set]"
            }
        }
        f.debug_struct("Config")
            .field("listen_addr", &self.listen_addr)
            .field("data_dir", &self.data_dir)
            .field("database", &self.database_display())
            .field("call_mode", &self.call_mode)
            .field("public_base_url", &self.public_base_url)
            .field("trust_proxy_headers", &self.trust_proxy_headers)
            .field("signature_check", &self.signature_check)
            .field("twilio_account_sid", &self.twilio_account_sid)
            .field(
                "twilio_auth_token",
                &secret(self.twilio_auth_token.as_ref()),
            )
            .field(
                "twilio_auth_token_secondary",
                &secret(self.twilio_auth_token_secondary.as_ref()),
            )
            .field("twilio_phone_number", &self.twilio_phone_number)
            .field("twilio_api_base_url", &self.twilio_api_base_url.as_str())
            .field("recording_hosts", &self.recording_hosts)
            .field("openai_api_key", &secret(self.openai_api_key.as_ref()))
            .field("openai_base_url", &self.openai_base_url.as_str())
            .field("llm", &self.llm)
            .field("llm_auto", &self.llm_auto)
            .field("llm_model", &self.llm_model)
            .field("gemini_api_key", &secret(self.gemini_api_key.as_ref()))
            .field("gemini_base_url", &self.gemini_base_url.as_str())
            .field("system_prompt", &self.system_prompt)
            .field("rules_file", &self.rules_file)
            .field(
                "google_service_account_json",
                &secret(self.google_service_account_json.as_ref()),
            )
            .field(
                "google_oauth_token_url",
                &self.google_oauth_token_url.as_str(),
            )
            .field("google_tts_base_url", &self.google_tts_base_url.as_str())
            .field("google_stt_base_url", &self.google_stt_base_url.as_str())
            .field("admin_token", &secret(self.admin_token.as_ref()))
            .field("language", &self.language)
            .field("greeting_text", &self.greeting_text)
            .field("fallback_text", &self.fallback_text)
            .field("goodbye_text", &self.goodbye_text)
            .field("max_failed_turns", &self.max_failed_turns)
            .field("say_voice", &self.say_voice)
            .field("tts_enabled", &self.tts_enabled)
            .field("turn_timeout", &self.turn_timeout)
            .field("webhook_body_limit", &self.webhook_body_limit)
            .field("job_max_attempts", &self.job_max_attempts)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("record_calls", &self.record_calls)
            .field("sms_reply", &self.sms_reply)
            .finish()
    }
}

impl Default for Config {
    /// The embedded defaults: what `kav-server` runs with when no variable is set.
    fn default() -> Self {
        Self::from_vars(std::iter::empty::<(String, String)>())
            .expect("the embedded defaults are valid")
    }
}

/// The default `<Say>` voice: Twilio has no Hebrew Polly voice, Google's speaks he-IL.
pub const DEFAULT_SAY_VOICE: &str = "Google.he-IL-Standard-A";
/// The default greeting (Hebrew, as the product's first users speak it).
pub const DEFAULT_GREETING: &str = "שלום, הגעתם לעוזר הקולי. איך אפשר לעזור?";
/// The default fallback phrase, spoken once when a turn fails.
pub const DEFAULT_FALLBACK: &str = "סליחה, לא הצלחתי להבין. אפשר לחזור על זה?";
/// The default goodbye before hanging up after too many failed turns.
pub const DEFAULT_GOODBYE: &str = "סליחה, יש לנו תקלה כרגע. נסו שוב מאוחר יותר. להתראות.";

/// The raw values with where each came from, before validation.
struct Raw {
    values: BTreeMap<&'static str, String>,
}

impl Raw {
    fn get(&self, name: &'static str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    fn parse<T>(
        &self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, Error> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => parse(value).map_err(|problem| Error::config(name, problem)),
        }
    }

    fn secret(&self, name: &'static str) -> Option<SecretString> {
        self.get(name).map(|v| SecretString::from(v.to_owned()))
    }

    fn url(&self, name: &'static str, default: &str) -> Result<Url, Error> {
        let value = self.get(name).unwrap_or(default);
        parse_base_url(value).map_err(|problem| Error::config(name, problem))
    }
}

fn parse_base_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("{value:?} is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "{value:?} uses http; only https is allowed (http only for 127.0.0.1 or localhost)"
            ));
        }
        other => return Err(format!("{value:?} has scheme {other:?}; use https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{value:?} has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{value:?} must not have a query or a fragment"));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn auto_llm(openai: bool, gemini: bool) -> LlmChoice {
    if openai {
        LlmChoice::OpenAi
    } else if gemini {
        LlmChoice::Gemini
    } else {
        LlmChoice::Scripted
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{value:?} is not true or false")),
    }
}

fn parse_number<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    let n: T = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a whole number"))?;
    if n < min || n > max {
        return Err(format!("{n} is out of range ({min} to {max})"));
    }
    Ok(n)
}

fn parse_text(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.chars().any(char::is_control) {
        return Err("must be one line of text without control characters".to_owned());
    }
    Ok(value.to_owned())
}

impl Config {
    /// Reads the process environment (and the TOML file `KAV_CONFIG` names, if any).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first bad variable, or [`Error::ConfigFile`].
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(std::env::vars_os().filter_map(|(k, v)| {
            // A variable that is not Unicode cannot be one of ours unless it is wrong; keep
            // ours (lossily, so validation names them) and drop the rest.
            let key = k.into_string().ok()?;
            VARIABLES
                .contains(&key.as_str())
                .then(|| (key, v.to_string_lossy().into_owned()))
        }))
    }

    /// Builds the configuration from `(NAME, value)` pairs, as if they were the environment.
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, Error>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut env = BTreeMap::new();
        for (key, value) in vars {
            let (key, value) = (key.as_ref(), value.as_ref());
            if let Some(name) = VARIABLES.iter().copied().find(|n| *n == key)
                && !value.trim().is_empty()
            {
                env.insert(name, value.to_owned());
            }
        }
        let mut values = match env.get("KAV_CONFIG") {
            Some(path) => read_file(Path::new(path))?,
            None => BTreeMap::new(),
        };
        values.extend(env);
        Self::validate(&Raw { values })
    }

    fn validate(raw: &Raw) -> Result<Self, Error> {
        let listen_addr = match (raw.get("LISTEN_ADDR"), raw.get("PORT")) {
            (Some(addr), _) => addr.trim().parse::<SocketAddr>().map_err(|_| {
                Error::config(
                    "LISTEN_ADDR",
                    format!("{addr:?} is not an address like 127.0.0.1:8080 or 0.0.0.0:8080"),
                )
            })?,
            // PORT alone is what hosting platforms set, and they route to it from outside the
            // container: listen on every interface, as they require.
            (None, Some(port)) => {
                let port = parse_number::<u32>(port, 1, u32::from(u16::MAX))
                    .map_err(|p| Error::config("PORT", p))?;
                SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    u16::try_from(port).map_err(|_| Error::config("PORT", "out of range"))?,
                )
            }
            (None, None) => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let data_dir = PathBuf::from(raw.get("KAV_DATA_DIR").unwrap_or("./data"));
        let database_url = match raw.get("DATABASE_URL") {
            Some(url) => {
                let url = url.trim();
                if !(url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://"))
                {
                    // Do not echo it: it may hold a password.
                    return Err(Error::config(
                        "DATABASE_URL",
                        "must start with sqlite:, postgres:// or postgresql://",
                    ));
                }
                url.to_owned()
            }
            None => format!("sqlite://{}", data_dir.join("kav.db").display()),
        };

        let openai_api_key = raw.secret("OPENAI_API_KEY");
        let google_service_account_json = match raw.get("GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON") {
            None => None,
            Some(value) => Some(read_service_account(value)?),
        };
        let stt_configured = openai_api_key.is_some() || google_service_account_json.is_some();
        let call_mode = match raw.get("CALL_MODE") {
            None if stt_configured => CallMode::Record,
            None => CallMode::Gather,
            Some(value) => match value.trim().to_ascii_lowercase().as_str() {
                "record" if stt_configured => CallMode::Record,
                "record" => {
                    return Err(Error::config(
                        "CALL_MODE",
                        "record needs a speech-to-text provider: set OPENAI_API_KEY or \
                         GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON, or use CALL_MODE=gather",
                    ));
                }
                "gather" => CallMode::Gather,
                _ => {
                    return Err(Error::config(
                        "CALL_MODE",
                        format!("{value:?} is not record or gather"),
                    ));
                }
            },
        };

        let gemini_api_key = raw.secret("GEMINI_API_KEY");
        let llm_setting = raw.get("KAV_LLM").map(|v| v.trim().to_ascii_lowercase());
        let llm_auto = llm_setting.as_deref().is_none_or(|v| v == "auto");
        let llm = match llm_setting {
            None => auto_llm(openai_api_key.is_some(), gemini_api_key.is_some()),
            Some(v) if v == "auto" => auto_llm(openai_api_key.is_some(), gemini_api_key.is_some()),
            Some(v) if v == "openai" => {
                if openai_api_key.is_none() && raw.get("OPENAI_BASE_URL").is_none() {
                    return Err(Error::config(
                        "KAV_LLM",
                        "openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a server without keys)",
                    ));
                }
                LlmChoice::OpenAi
            }
            Some(v) if v == "gemini" => {
                if gemini_api_key.is_none() {
                    return Err(Error::config("KAV_LLM", "gemini needs GEMINI_API_KEY"));
                }
                LlmChoice::Gemini
            }
            Some(v) if v == "scripted" => LlmChoice::Scripted,
            Some(v) => {
                return Err(Error::config(
                    "KAV_LLM",
                    format!("{v:?} is not auto, openai, gemini or scripted"),
                ));
            }
        };
        let llm_model = match raw.get("KAV_LLM_MODEL") {
            None => None,
            Some(v) => {
                let v = v.trim();
                if v.len() > 200
                    || !v.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b':')
                    })
                {
                    return Err(Error::config(
                        "KAV_LLM_MODEL",
                        format!("{v:?} is not a model name like gpt-4o-mini"),
                    ));
                }
                Some(v.to_owned())
            }
        };
        let system_prompt =
            raw.parse("KAV_SYSTEM_PROMPT", DEFAULT_SYSTEM_PROMPT.to_owned(), |v| {
                let v = v.trim();
                if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                    Err("must be text without control characters other than new lines".to_owned())
                } else if v.chars().count() > 8000 {
                    Err("is longer than 8000 characters".to_owned())
                } else {
                    Ok(v.to_owned())
                }
            })?;
        let rules_file = match raw.get("KAV_RULES_FILE") {
            None => None,
            Some(path) => {
                let path = PathBuf::from(path.trim());
                kav_llm::ScriptedResponder::from_file(&path).map_err(|e| {
                    Error::config(
                        "KAV_RULES_FILE",
                        format!("{}: {}", path.display(), crate::error_chain(&e)),
                    )
                })?;
                Some(path)
            }
        };

        let public_base_url = match raw.get("PUBLIC_BASE_URL") {
            None => None,
            Some(value) => {
                let url = PublicBaseUrl::parse(value).map_err(|e| {
                    Error::config("PUBLIC_BASE_URL", format!("{value:?}: {}", sig_reason(&e)))
                })?;
                if url.scheme() != Scheme::Https {
                    let parsed = Url::parse(url.origin()).ok();
                    if !parsed.as_ref().is_some_and(is_loopback) {
                        return Err(Error::config(
                            "PUBLIC_BASE_URL",
                            format!(
                                "{value:?} uses http; Twilio needs https (http only for 127.0.0.1 or localhost)"
                            ),
                        ));
                    }
                }
                Some(url)
            }
        };

        let twilio_account_sid = match raw.get("TWILIO_ACCOUNT_SID") {
            None => None,
            Some(sid) => {
                let sid = sid.trim();
                if sid.len() != 34
                    || !sid.starts_with("AC")
                    || !sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
                {
                    return Err(Error::config(
                        "TWILIO_ACCOUNT_SID",
                        "must be AC followed by 32 hexadecimal digits",
                    ));
                }
                Some(sid.to_owned())
            }
        };
        let twilio_phone_number = match raw.get("TWILIO_PHONE_NUMBER") {
            None => None,
            Some(number) => {
                let number = number.trim();
                let digits = number.strip_prefix('+').unwrap_or("");
                if !(2..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(Error::config(
                        "TWILIO_PHONE_NUMBER",
                        format!("{number:?} is not an E.164 number like +972501234567"),
                    ));
                }
                Some(number.to_owned())
            }
        };
        let recording_hosts = match raw.get("RECORDING_HOSTS") {
            None => vec![RecordingHost::parse("api.twilio.com").expect("valid default")],
            Some(list) => {
                let hosts = list
                    .split(',')
                    .filter(|h| !h.trim().is_empty())
                    .map(RecordingHost::parse)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|p| Error::config("RECORDING_HOSTS", p))?;
                if hosts.is_empty() {
                    return Err(Error::config("RECORDING_HOSTS", "lists no host"));
                }
                hosts
            }
        };
        let signature_check = raw.parse("KAV_SIGNATURE_CHECK", true, |v| {
            match v.trim().to_ascii_lowercase().as_str() {
                "on" => Ok(true),
                "off" => Ok(false),
                _ => Err(format!("{v:?} is not on or off")),
            }
        })?;
        let language = raw.parse("KAV_LANGUAGE", "he-IL".to_owned(), |v| {
            let v = v.trim();
            let ok = v.split('-').all(|part| {
                (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
            });
            if ok {
                Ok(v.to_owned())
            } else {
                Err(format!("{v:?} is not a language tag like he-IL"))
            }
        })?;

        Ok(Self {
            listen_addr,
            data_dir,
            database_url: SecretString::from(database_url),
            call_mode,
            public_base_url,
            trust_proxy_headers: raw.parse("TRUST_PROXY_HEADERS", false, parse_bool)?,
            record_calls: raw.parse("KAV_RECORD_CALLS", false, parse_bool)?,
            sms_reply: raw.parse("KAV_SMS_REPLY", true, parse_bool)?,
            signature_check,
            twilio_account_sid,
            twilio_auth_token: raw.secret("TWILIO_AUTH_TOKEN"),
            twilio_auth_token_secondary: raw.secret("TWILIO_AUTH_TOKEN_SECONDARY"),
            twilio_phone_number,
            twilio_api_base_url: raw.url("TWILIO_API_BASE_URL", "https://api.twilio.com")?,
            recording_hosts,
            openai_api_key,
            openai_base_url: raw.url("OPENAI_BASE_URL", "https://api.openai.com/v1")?,
            llm,
            llm_auto,
            llm_model,
            gemini_api_key,
            gemini_base_url: raw.url(
                "GEMINI_BASE_URL",
                "https://generativelanguage.googleapis.com",
            )?,
            system_prompt,
            rules_file,
            google_service_account_json,
            google_oauth_token_url: raw.url(
                "GOOGLE_OAUTH_TOKEN_URL",
                "https://oauth2.googleapis.com/token",
            )?,
            google_tts_base_url: raw
                .url("GOOGLE_TTS_BASE_URL", "https://texttospeech.googleapis.com")?,
            google_stt_base_url: raw.url("GOOGLE_STT_BASE_URL", "https://speech.googleapis.com")?,
            admin_token: match raw.get("ADMIN_TOKEN") {
                Some(t) if t.trim().len() < 16 => {
                    return Err(Error::config(
                        "ADMIN_TOKEN",
                        "is shorter than 16 characters; use a long random string",
                    ));
                }
                _ => raw.secret("ADMIN_TOKEN"),
            },
            language,
            greeting_text: raw.parse(
                "KAV_GREETING_TEXT",
                DEFAULT_GREETING.to_owned(),
                parse_text,
            )?,
            fallback_text: raw.parse(
                "KAV_FALLBACK_TEXT",
                DEFAULT_FALLBACK.to_owned(),
                parse_text,
            )?,
            goodbye_text: raw.parse("KAV_GOODBYE_TEXT", DEFAULT_GOODBYE.to_owned(), parse_text)?,
            max_failed_turns: raw.parse("KAV_MAX_FAILED_TURNS", 3, |v| parse_number(v, 1, 20))?,
            say_voice: raw.parse("KAV_SAY_VOICE", DEFAULT_SAY_VOICE.to_owned(), |v| {
                let v = v.trim();
                if v.len() <= 64
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
                {
                    Ok(v.to_owned())
                } else {
                    Err(format!(
                        "{v:?} is not a voice name like Google.he-IL-Standard-A"
                    ))
                }
            })?,
            tts_enabled: raw.parse("KAV_TTS", true, |v| {
                match v.trim().to_ascii_lowercase().as_str() {
                    "auto" => Ok(true),
                    "off" => Ok(false),
                    _ => Err(format!("{v:?} is not auto or off")),
                }
            })?,
            turn_timeout: Duration::from_secs(
                raw.parse("KAV_TURN_TIMEOUT_SECS", 10, |v| parse_number(v, 1, 14))?,
            ),
            webhook_body_limit: raw.parse("KAV_WEBHOOK_BODY_LIMIT", 64 * 1024, |v| {
                parse_number(v, 1024, 16 * 1024 * 1024)
            })?,
            job_max_attempts: raw.parse("KAV_JOB_MAX_ATTEMPTS", 5, |v| parse_number(v, 1, 100))?,
            shutdown_grace: Duration::from_secs(
                raw.parse("KAV_SHUTDOWN_GRACE_SECS", 20, |v| parse_number(v, 0, 3600))?,
            ),
        })
    }

    /// The `<Say>` voice (`KAV_SAY_VOICE`, default `Google.he-IL-Standard-A`: Twilio has no
    /// Hebrew Polly voice).
    #[must_use]
    pub fn say_voice(&self) -> &str {
        &self.say_voice
    }

    /// Whether synthesized speech may be used (`KAV_TTS=auto`, the default: espeak-ng when it is
    /// installed); `off` always answers with `<Say>`.
    #[must_use]
    pub fn tts_enabled(&self) -> bool {
        self.tts_enabled
    }

    /// How long one caller turn may take (`KAV_TURN_TIMEOUT_SECS`, 1–14, default 10: well
    /// inside Twilio's 15 s) before the fallback phrase is answered.
    #[must_use]
    pub fn turn_timeout(&self) -> Duration {
        self.turn_timeout
    }

    /// Where the server listens (`LISTEN_ADDR`, or `127.0.0.1:PORT`, default `127.0.0.1:8080`).
    #[must_use]
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// The folder for the SQLite file and audio (`KAV_DATA_DIR`, default `./data`).
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The database URL (`DATABASE_URL`); it may hold a password.
    #[must_use]
    pub fn database_url(&self) -> &SecretString {
        &self.database_url
    }

    /// The database for humans: `sqlite:…` in full, PostgreSQL without user and password.
    #[must_use]
    pub fn database_display(&self) -> String {
        let url = self.database_url.expose_secret();
        if url.starts_with("sqlite:") {
            return url.to_owned();
        }
        match Url::parse(url) {
            Ok(u) => format!(
                "{}://{}{}{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port().map(|p| format!(":{p}")).unwrap_or_default(),
                u.path()
            ),
            Err(_) => "postgres (unparsable URL)".to_owned(),
        }
    }

    /// The conversation mode (`CALL_MODE`).
    #[must_use]
    pub fn call_mode(&self) -> CallMode {
        self.call_mode
    }

    /// The public base URL (`PUBLIC_BASE_URL`), if configured.
    #[must_use]
    pub fn public_base_url(&self) -> Option<&PublicBaseUrl> {
        self.public_base_url.as_ref()
    }

    /// Whether whole calls are recorded for post-call transcription (`KAV_RECORD_CALLS`,
    /// default false): `<Start><Recording>` on incoming calls, `Record=true` on outbound ones.
    #[must_use]
    pub fn record_calls(&self) -> bool {
        self.record_calls
    }

    /// Whether an inbound SMS gets the agent's reply as Messaging TwiML (`KAV_SMS_REPLY`, default
    /// true); when false it is stored and answered with an empty `<Response/>`.
    #[must_use]
    pub fn sms_reply(&self) -> bool {
        self.sms_reply
    }

    /// Whether `Forwarded`/`X-Forwarded-*` headers are trusted (`TRUST_PROXY_HEADERS`).
    #[must_use]
    pub fn trust_proxy_headers(&self) -> bool {
        self.trust_proxy_headers
    }

    /// How webhook signatures are checked against the public URL: the configured base URL,
    /// else trusted proxy headers, else the `Host` header over plain http (local use).
    #[must_use]
    pub fn url_source(&self) -> UrlSource {
        match (&self.public_base_url, self.trust_proxy_headers) {
            (Some(url), _) => UrlSource::Configured(url.clone()),
            (None, true) => UrlSource::TrustedProxy {
                fallback_scheme: Scheme::Https,
            },
            (None, false) => UrlSource::Request {
                scheme: Scheme::Http,
            },
        }
    }

    /// Whether webhook signatures are checked (`KAV_SIGNATURE_CHECK`, default on).
    #[must_use]
    pub fn signature_check(&self) -> bool {
        self.signature_check
    }

    /// `TWILIO_ACCOUNT_SID`.
    #[must_use]
    pub fn twilio_account_sid(&self) -> Option<&str> {
        self.twilio_account_sid.as_deref()
    }

    /// `TWILIO_AUTH_TOKEN`.
    #[must_use]
    pub fn twilio_auth_token(&self) -> Option<&SecretString> {
        self.twilio_auth_token.as_ref()
    }

    /// `TWILIO_AUTH_TOKEN_SECONDARY` (accepted too, for token rotation).
    #[must_use]
    pub fn twilio_auth_token_secondary(&self) -> Option<&SecretString> {
        self.twilio_auth_token_secondary.as_ref()
    }

    /// `TWILIO_PHONE_NUMBER` (E.164).
    #[must_use]
    pub fn twilio_phone_number(&self) -> Option<&str> {
        self.twilio_phone_number.as_deref()
    }

    /// `TWILIO_API_BASE_URL` (default `https://api.twilio.com`).
    #[must_use]
    pub fn twilio_api_base_url(&self) -> &Url {
        &self.twilio_api_base_url
    }

    /// `RECORDING_HOSTS` (default `api.twilio.com`).
    #[must_use]
    pub fn recording_hosts(&self) -> &[RecordingHost] {
        &self.recording_hosts
    }

    /// `OPENAI_API_KEY`.
    #[must_use]
    pub fn openai_api_key(&self) -> Option<&SecretString> {
        self.openai_api_key.as_ref()
    }

    /// `OPENAI_BASE_URL` (default `https://api.openai.com/v1`).
    #[must_use]
    pub fn openai_base_url(&self) -> &Url {
        &self.openai_base_url
    }

    /// The language model (`KAV_LLM`: `auto` picks OpenAI when `OPENAI_API_KEY` is set, else
    /// Gemini when `GEMINI_API_KEY` is set, else the scripted responder).
    #[must_use]
    pub fn llm(&self) -> LlmChoice {
        self.llm
    }

    /// Whether [`llm`](Self::llm) was chosen by `KAV_LLM=auto` (or `KAV_LLM` unset) from the
    /// keys that are set.
    #[must_use]
    pub fn llm_auto(&self) -> bool {
        self.llm_auto
    }

    /// `KAV_LLM_MODEL` (default: the provider's, `gpt-4o-mini` or `gemini-2.5-flash`).
    #[must_use]
    pub fn llm_model(&self) -> Option<&str> {
        self.llm_model.as_deref()
    }

    /// `GEMINI_API_KEY`.
    #[must_use]
    pub fn gemini_api_key(&self) -> Option<&SecretString> {
        self.gemini_api_key.as_ref()
    }

    /// `GEMINI_BASE_URL` (default `https://generativelanguage.googleapis.com`).
    #[must_use]
    pub fn gemini_base_url(&self) -> &Url {
        &self.gemini_base_url
    }

    /// `KAV_SYSTEM_PROMPT` (default [`DEFAULT_SYSTEM_PROMPT`]), sent to OpenAI and Gemini.
    #[must_use]
    pub fn system_prompt(&self) -> &str {
        &self.system_prompt
    }

    /// `KAV_RULES_FILE`: the scripted responder's rules (TOML), checked at start-up; without
    /// it, kav-llm's built-in Hebrew and English rules.
    #[must_use]
    pub fn rules_file(&self) -> Option<&Path> {
        self.rules_file.as_deref()
    }

    /// The service-account JSON (`GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON`: the JSON itself, or the
    /// path of a file holding it).
    #[must_use]
    pub fn google_service_account_json(&self) -> Option<&SecretString> {
        self.google_service_account_json.as_ref()
    }

    /// `GOOGLE_OAUTH_TOKEN_URL` (default `https://oauth2.googleapis.com/token`).
    #[must_use]
    pub fn google_oauth_token_url(&self) -> &Url {
        &self.google_oauth_token_url
    }

    /// `GOOGLE_TTS_BASE_URL` (default `https://texttospeech.googleapis.com`).
    #[must_use]
    pub fn google_tts_base_url(&self) -> &Url {
        &self.google_tts_base_url
    }

    /// `GOOGLE_STT_BASE_URL` (default `https://speech.googleapis.com`).
    #[must_use]
    pub fn google_stt_base_url(&self) -> &Url {
        &self.google_stt_base_url
    }

    /// `ADMIN_TOKEN` (at least 16 characters).
    #[must_use]
    pub fn admin_token(&self) -> Option<&SecretString> {
        self.admin_token.as_ref()
    }

    /// `KAV_LANGUAGE` (default `he-IL`).
    #[must_use]
    pub fn language(&self) -> &str {
        &self.language
    }

    /// `KAV_GREETING_TEXT`.
    #[must_use]
    pub fn greeting_text(&self) -> &str {
        &self.greeting_text
    }

    /// `KAV_FALLBACK_TEXT`.
    #[must_use]
    pub fn fallback_text(&self) -> &str {
        &self.fallback_text
    }

    /// `KAV_GOODBYE_TEXT`.
    #[must_use]
    pub fn goodbye_text(&self) -> &str {
        &self.goodbye_text
    }

    /// `KAV_MAX_FAILED_TURNS` (default 3).
    #[must_use]
    pub fn max_failed_turns(&self) -> u32 {
        self.max_failed_turns
    }

    /// `KAV_WEBHOOK_BODY_LIMIT` in bytes (default 65536).
    #[must_use]
    pub fn webhook_body_limit(&self) -> usize {
        self.webhook_body_limit
    }

    /// `KAV_JOB_MAX_ATTEMPTS` (default 5): a job failing this often is parked.
    #[must_use]
    pub fn job_max_attempts(&self) -> u32 {
        self.job_max_attempts
    }

    /// `KAV_SHUTDOWN_GRACE_SECS` (default 20): how long in-flight requests may take to finish
    /// after SIGTERM.
    #[must_use]
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }

    /// Which speech-to-text providers are configured, by name.
    #[must_use]
    pub fn stt_providers(&self) -> Vec<&'static str> {
        let mut providers = Vec::new();
        if self.openai_api_key.is_some() {
            providers.push("openai");
        }
        if self.google_service_account_json.is_some() {
            providers.push("google");
        }
        providers
    }

    /// One line per missing piece that limits what works, for the start-up summary.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if !self.signature_check {
            w.push(
                "KAV_SIGNATURE_CHECK=off: webhook signatures are NOT checked; anyone can call \
                 the webhooks. Use this only for development."
                    .to_owned(),
            );
        } else if self.twilio_auth_token.is_none() {
            w.push(
                "TWILIO_AUTH_TOKEN is not set: webhooks will be refused (403). Set it to the \
                 auth token of your Twilio account (console → Account info)."
                    .to_owned(),
            );
        }
        if self.public_base_url.is_none() {
            if self.trust_proxy_headers {
                w.push(
                    "PUBLIC_BASE_URL is not set: public URLs come from the proxy's Forwarded / \
                     X-Forwarded-* headers (TRUST_PROXY_HEADERS=true)."
                        .to_owned(),
                );
            } else {
                w.push(
                    "PUBLIC_BASE_URL is not set: signatures are checked against http://<Host>; \
                     behind an https proxy set PUBLIC_BASE_URL=https://your.host."
                        .to_owned(),
                );
            }
        }
        if self.openai_api_key.is_none() {
            w.push(
                "OPENAI_API_KEY is not set: no OpenAI speech-to-text or language model.".to_owned(),
            );
        }
        if self.google_service_account_json.is_none() {
            w.push(
                "GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON is not set: no Google speech-to-text."
                    .to_owned(),
            );
        }
        if self.twilio_account_sid.is_none() {
            w.push(
                "TWILIO_ACCOUNT_SID is not set: recordings cannot be downloaded and no call \
                 can be placed."
                    .to_owned(),
            );
        }
        if self.twilio_phone_number.is_none() {
            w.push(
                "TWILIO_PHONE_NUMBER is not set: no outbound call or SMS can be placed \
                 (POST /api/calls, POST /api/sms answer 503)."
                    .to_owned(),
            );
        }
        if self.admin_token.is_none() {
            w.push("ADMIN_TOKEN is not set: admin endpoints are disabled.".to_owned());
        }
        if self.record_calls
            && (self.stt_providers().is_empty() || self.twilio_account_sid.is_none())
        {
            w.push(
                "KAV_RECORD_CALLS=true, but recordings cannot be transcribed after the call \
                 without a speech-to-text provider (OPENAI_API_KEY or \
                 GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON) and TWILIO_ACCOUNT_SID: their jobs will \
                 fail and be parked."
                    .to_owned(),
            );
        }
        w
    }
}

fn sig_reason(error: &kav_twilio_sig::SigError) -> String {
    match error {
        kav_twilio_sig::SigError::InvalidBaseUrl { reason, .. } => (*reason).to_owned(),
        other => other.to_string(),
    }
}

fn read_service_account(value: &str) -> Result<SecretString, Error> {
    const NAME: &str = "GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON";
    let text = if value.trim_start().starts_with('{') {
        value.to_owned()
    } else {
        std::fs::read_to_string(value.trim()).map_err(|e| {
            Error::config(
                NAME,
                format!(
                    "is neither JSON nor a readable file ({}: {e})",
                    value.trim()
                ),
            )
        })?
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        // serde_json's message holds a position, never the content.
        Error::config(NAME, format!("is not valid JSON ({e})"))
    })?;
    for field in ["client_email", "private_key"] {
        if !json.get(field).is_some_and(serde_json::Value::is_string) {
            return Err(Error::config(
                NAME,
                format!("has no {field:?}; download a service-account key file"),
            ));
        }
    }
    Ok(SecretString::from(text))
}

fn read_file(path: &Path) -> Result<BTreeMap<&'static str, String>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigFile {
        path: path.to_owned(),
        source,
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        Error::config(
            "KAV_CONFIG",
            format!(
                "{} is not valid TOML: {}",
                path.display(),
                e.message().lines().next().unwrap_or("")
            ),
        )
    })?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        let name = VARIABLES
            .iter()
            .copied()
            .find(|n| n.eq_ignore_ascii_case(&key) && *n != "KAV_CONFIG")
            .ok_or_else(|| {
                Error::config(
                    "KAV_CONFIG",
                    format!("{}: unknown key {key:?}", path.display()),
                )
            })?;
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) if name == "RECORDING_HOSTS" => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Error::config(
                        "KAV_CONFIG",
                        format!("{}: recording_hosts must list strings", path.display()),
                    )
                })?
                .join(","),
            _ => {
                return Err(Error::config(
                    "KAV_CONFIG",
                    format!(
                        "{}: {key} must be a string, number or boolean",
                        path.display()
                    ),
                ));
            }
        };
        if !value.trim().is_empty() {
            values.insert(name, value);
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_call_recording_without_transcription_is_warned_about() {
        let warned = |vars: &[(&str, &str)]| {
            Config::from_vars(vars.to_vec())
                .unwrap()
                .warnings()
                .iter()
                .any(|w| w.starts_with("KAV_RECORD_CALLS=true"))
        };
        assert!(warned(&[("KAV_RECORD_CALLS", "true")]));
        assert!(warned(&[
            ("KAV_RECORD_CALLS", "true"),
            ("OPENAI_API_KEY", "sk-1")
        ]));
        assert!(!warned(&[
            ("KAV_RECORD_CALLS", "true"),
            ("OPENAI_API_KEY", "sk-1"),
            ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef")
        ]));
        assert!(!warned(&[]));
    }

    #[test]
    fn llm_auto_follows_the_keys() {
        let pick = |vars: &[(&str, &str)]| {
            let c = Config::from_vars(vars.to_vec()).unwrap();
            (c.llm(), c.llm_auto())
        };
        for auto in [None, Some("auto"), Some(" AUTO ")] {
            let with = |keys: &[(&'static str, &'static str)]| {
                let mut vars: Vec<(&str, &str)> = keys.to_vec();
                if let Some(v) = auto {
                    vars.push(("KAV_LLM", v));
                }
                pick(&vars)
            };
            assert_eq!(with(&[]), (LlmChoice::Scripted, true));
            assert_eq!(
                with(&[("OPENAI_API_KEY", "sk-1")]),
                (LlmChoice::OpenAi, true)
            );
            assert_eq!(
                with(&[("GEMINI_API_KEY", "g-1")]),
                (LlmChoice::Gemini, true)
            );
            assert_eq!(
                with(&[("GEMINI_API_KEY", "g-1"), ("OPENAI_API_KEY", "sk-1")]),
                (LlmChoice::OpenAi, true)
            );
            // A base URL alone is no key: still scripted.
            assert_eq!(
                with(&[("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")]),
                (LlmChoice::Scripted, true)
            );
        }
        assert_eq!(
            pick(&[("KAV_LLM", "scripted"), ("OPENAI_API_KEY", "sk-1")]),
            (LlmChoice::Scripted, false)
        );
        assert_eq!(
            pick(&[("KAV_LLM", "openai"), ("OPENAI_API_KEY", "sk-1")]),
            (LlmChoice::OpenAi, false)
        );
    }

    fn err(vars: &[(&str, &str)]) -> String {
        Config::from_vars(vars.iter().copied())
            .expect_err("should be refused")
            .to_string()
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.listen_addr(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.data_dir(), Path::new("./data"));
        assert_eq!(c.database_display(), "sqlite://./data/kav.db");
        assert_eq!(c.call_mode(), CallMode::Gather);
        assert!(c.signature_check());
        assert_eq!(c.language(), "he-IL");
        assert_eq!(c.recording_hosts()[0].to_string(), "api.twilio.com");
        assert_eq!(c.openai_base_url().as_str(), "https://api.openai.com/v1");
        assert!(
            c.warnings()
                .iter()
                .any(|w| w.starts_with("TWILIO_AUTH_TOKEN"))
        );
    }

    #[test]
    fn port_alone_listens_on_every_interface() {
        let c = Config::from_vars([("PORT", "9000")]).unwrap();
        assert_eq!(c.listen_addr(), "0.0.0.0:9000".parse().unwrap());
        for bad in ["0", "65536", "99999"] {
            let error = Config::from_vars([("PORT", bad)]).unwrap_err().to_string();
            assert!(error.contains("out of range"), "{error}");
        }
        let error = Config::from_vars([("PORT", "http")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a whole number"), "{error}");
        let c = Config::from_vars([("PORT", "9000"), ("LISTEN_ADDR", "0.0.0.0:7000")]).unwrap();
        assert_eq!(c.listen_addr(), "0.0.0.0:7000".parse().unwrap());
    }

    #[test]
    fn call_mode_follows_stt() {
        let c = Config::from_vars([("OPENAI_API_KEY", "sk-x")]).unwrap();
        assert_eq!(c.call_mode(), CallMode::Record);
        let c = Config::from_vars([("OPENAI_API_KEY", "sk-x"), ("CALL_MODE", "gather")]).unwrap();
        assert_eq!(c.call_mode(), CallMode::Gather);
        assert!(err(&[("CALL_MODE", "record")]).starts_with("CALL_MODE: record needs"));
        assert_eq!(
            err(&[("CALL_MODE", "stream!")]),
            r#"CALL_MODE: "stream!" is not record or gather"#
        );
    }

    #[test]
    fn public_base_url_rules() {
        assert_eq!(
            err(&[("PUBLIC_BASE_URL", "ai.example.com")]),
            r#"PUBLIC_BASE_URL: "ai.example.com": it has no scheme; write it as https://host"#
        );
        assert!(err(&[("PUBLIC_BASE_URL", "http://ai.example.com")]).contains("uses http"));
        for ok in [
            "https://ai.example.com",
            "http://127.0.0.1:8080",
            "http://localhost:3000/agent",
        ] {
            let c = Config::from_vars([("PUBLIC_BASE_URL", ok)]).unwrap();
            assert_eq!(c.public_base_url().unwrap().to_string(), ok);
        }
    }

    #[test]
    fn other_bad_values_name_the_variable() {
        for (name, value) in [
            ("LISTEN_ADDR", "localhost"),
            ("PORT", "99999"),
            ("DATABASE_URL", "mysql://u:hunter2@h/db"),
            ("TWILIO_ACCOUNT_SID", "AC123"),
            ("TWILIO_PHONE_NUMBER", "0501234567"),
            ("TWILIO_API_BASE_URL", "http://api.twilio.com"),
            ("OPENAI_BASE_URL", "api.openai.com"),
            ("RECORDING_HOSTS", "ftp://x"),
            ("TRUST_PROXY_HEADERS", "maybe"),
            ("KAV_SIGNATURE_CHECK", "disabled"),
            ("KAV_LANGUAGE", "he IL"),
            ("KAV_MAX_FAILED_TURNS", "0"),
            ("ADMIN_TOKEN", "tiny-secret"),
            ("GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON", "{\"client_email\": 1}"),
        ] {
            let message = err(&[(name, value)]);
            assert!(message.starts_with(&format!("{name}: ")), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
        // Secrets are never echoed.
        assert!(!err(&[("DATABASE_URL", "mysql://u:hunter2@h/db")]).contains("hunter2"));
        assert!(!err(&[("ADMIN_TOKEN", "tiny-secret")]).contains("tiny-secret"));
    }

    #[test]
    fn debug_hides_secrets() {
        let json =
            r#"{"client_email":"a@b.iam","private_key":"-----BEGIN PRIVATE KEY-----SECRETKEY"}"#;
        let c = Config::from_vars([
            ("TWILIO_AUTH_TOKEN", "tok-SECRET-1"),
            ("TWILIO_AUTH_TOKEN_SECONDARY", "tok-SECRET-2"),
            ("OPENAI_API_KEY", "sk-SECRET-3"),
            ("ADMIN_TOKEN", "admin-SECRET-4-long-enough"),
            (
                "DATABASE_URL",
                "postgres://kav:pw-SECRET-5@db.internal:5432/kav",
            ),
            ("GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON", json),
        ])
        .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("twilio_auth_token: \"[set]\""), "{debug}");
        assert!(debug.contains("postgres://db.internal:5432/kav"), "{debug}");
        assert_eq!(c.stt_providers(), ["openai", "google"]);
    }

    #[test]
    fn toml_file_and_env_precedence() {
        let dir = std::env::temp_dir().join(format!("kav-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kav.toml");
        std::fs::write(
            &path,
            "listen_addr = \"0.0.0.0:9001\"\nkav_language = \"en-US\"\n\
             recording_hosts = [\"api.twilio.com\", \"http://127.0.0.1:9\"]\n\
             trust_proxy_headers = true\nkav_max_failed_turns = 4\n",
        )
        .unwrap();
        let file = path.to_str().unwrap();
        let c = Config::from_vars([("KAV_CONFIG", file), ("KAV_LANGUAGE", "fr-FR")]).unwrap();
        assert_eq!(c.listen_addr(), "0.0.0.0:9001".parse().unwrap());
        assert_eq!(c.language(), "fr-FR");
        assert!(c.trust_proxy_headers());
        assert_eq!(c.max_failed_turns(), 4);
        assert_eq!(c.recording_hosts()[1].to_string(), "http://127.0.0.1:9");

        std::fs::write(&path, "bogus_key = 1\n").unwrap();
        let message = err(&[("KAV_CONFIG", file)]);
        assert!(message.starts_with("KAV_CONFIG: ") && message.contains("bogus_key"));
        std::fs::write(&path, "public_base_url = \"ai.example.com\"\n").unwrap();
        assert!(err(&[("KAV_CONFIG", file)]).starts_with("PUBLIC_BASE_URL: "));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
