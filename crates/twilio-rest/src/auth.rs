//! Credentials.

use std::fmt;

use base64::Engine as _;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::types::{AccountSid, ApiKeySid};

/// Who this client is: the account whose resources it uses, and the Basic-auth pair Twilio
/// accepts (Account SID + auth token, or API key SID + API key secret).
///
/// `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    account_sid: AccountSid,
    username: String,
    secret: SecretString,
}

fn check_secret(what: &'static str, secret: &SecretString) -> Result<(), Error> {
    let s = secret.expose_secret();
    if s.is_empty() || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(
            what,
            "empty or containing whitespace/control characters",
        ));
    }
    Ok(())
}

impl Credentials {
    /// Account SID (`AC…`) and its auth token.
    pub fn auth_token(account_sid: AccountSid, auth_token: SecretString) -> Result<Self, Error> {
        check_secret("auth token", &auth_token)?;
        Ok(Self {
            username: account_sid.to_string(),
            account_sid,
            secret: auth_token,
        })
    }

    /// An API key (`SK…`) and its secret, acting on `account_sid`'s resources.
    pub fn api_key(
        account_sid: AccountSid,
        key_sid: &ApiKeySid,
        secret: SecretString,
    ) -> Result<Self, Error> {
        check_secret("API key secret", &secret)?;
        Ok(Self {
            account_sid,
            username: key_sid.to_string(),
            secret,
        })
    }

    /// Reads `TWILIO_ACCOUNT_SID` and either `TWILIO_API_KEY` + `TWILIO_API_SECRET` (when
    /// `TWILIO_API_KEY` is set) or `TWILIO_AUTH_TOKEN`.
    pub fn from_env() -> Result<Self, Error> {
        fn var(name: &'static str) -> Result<String, Error> {
            std::env::var(name).map_err(|_| Error::invalid(name, "not set (or not UTF-8)"))
        }
        let account_sid = AccountSid::new(var("TWILIO_ACCOUNT_SID")?)?;
        match std::env::var("TWILIO_API_KEY") {
            Ok(key) => Self::api_key(
                account_sid,
                &ApiKeySid::new(key)?,
                SecretString::from(var("TWILIO_API_SECRET")?),
            ),
            Err(_) => Self::auth_token(account_sid, SecretString::from(var("TWILIO_AUTH_TOKEN")?)),
        }
    }

    /// The account whose resources are used (in every request path).
    pub fn account_sid(&self) -> &AccountSid {
        &self.account_sid
    }

    /// The Basic-auth user name: the Account SID or the API key SID.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The `Authorization: Basic …` header value, marked sensitive.
    pub(crate) fn basic_auth_header(&self) -> HeaderValue {
        let raw = format!("{}:{}", self.username, self.secret.expose_secret());
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
        // Base64 output and "Basic " are visible ASCII, always a valid header value.
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
            .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
        value.set_sensitive(true);
        value
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("account_sid", &self.account_sid)
            .field("username", &self.username)
            .field("secret", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AC: &str = "AC0123456789abcdef0123456789abcdef";
    const SK: &str = "SK0123456789abcdef0123456789abcdef";

    #[test]
    fn debug_never_shows_secret() {
        let c = Credentials::auth_token(
            AccountSid::new(AC).unwrap(),
            SecretString::from("sup3r-secret-token"),
        )
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("sup3r"), "{dbg}");
        assert!(dbg.contains(AC));
        assert_eq!(c.username(), AC);
        let header = c.basic_auth_header();
        assert!(header.is_sensitive());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(format!("{AC}:sup3r-secret-token"));
        assert_eq!(header.to_str().unwrap(), format!("Basic {expected}"));
    }

    #[test]
    fn api_key_uses_key_sid_as_user() {
        let c = Credentials::api_key(
            AccountSid::new(AC).unwrap(),
            &ApiKeySid::new(SK).unwrap(),
            SecretString::from("k3y-secret"),
        )
        .unwrap();
        assert_eq!(c.username(), SK);
        assert_eq!(c.account_sid().as_str(), AC);
        assert!(!format!("{c:?}").contains("k3y"));
    }

    #[test]
    fn empty_secret_is_refused() {
        assert!(
            Credentials::auth_token(AccountSid::new(AC).unwrap(), SecretString::from("")).is_err()
        );
        assert!(
            Credentials::auth_token(AccountSid::new(AC).unwrap(), SecretString::from("a b"))
                .is_err()
        );
    }
}
