//! Computing and validating `X-Twilio-Signature`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::SigError;
use crate::urlparts::{body_sha256_param, url_variants};

/// The header Twilio puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The header Twilio adds to webhooks signed with a SharedKey (`key=<id>,algorithm=<algorithm>`).
pub const SIGNATURE_SETTINGS_HEADER: &str = "X-Twilio-Webhooks-Signature-Settings";

/// The MAC a webhook is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA1: the account Auth Token signature, and what Twilio uses unless a Webhook
    /// Setting says otherwise.
    #[default]
    HmacSha1,
    /// HMAC-SHA256, for webhooks signed with a SharedKey whose setting asks for it.
    HmacSha256,
}

impl Algorithm {
    /// The name Twilio uses (`HMAC_SHA1`, `HMAC_SHA256`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha1 => "HMAC_SHA1",
            Self::HmacSha256 => "HMAC_SHA256",
        }
    }

    /// Parses an algorithm name case-insensitively, as twilio-python does (`.upper()`).
    ///
    /// # Errors
    ///
    /// [`SigError::UnsupportedAlgorithm`] for any other name.
    pub fn from_name(name: &str) -> Result<Self, SigError> {
        match name.to_uppercase().as_str() {
            "HMAC_SHA1" => Ok(Self::HmacSha1),
            "HMAC_SHA256" => Ok(Self::HmacSha256),
            _ => Err(SigError::UnsupportedAlgorithm(name.to_owned())),
        }
    }

    /// The algorithm named by an `X-Twilio-Webhooks-Signature-Settings` header value: the
    /// non-empty `algorithm=` entry of its comma-separated list, or HMAC-SHA1 when the header is
    /// missing, empty or names no algorithm (the legacy Auth Token signature).
    ///
    /// # Errors
    ///
    /// [`SigError::UnsupportedAlgorithm`] when it names an algorithm this crate does not know;
    /// the request must then be refused (twilio-python fails validation too).
    pub fn from_settings_header(value: Option<&str>) -> Result<Self, SigError> {
        let named = value.unwrap_or_default().split(',').find_map(|part| {
            let (name, value) = part.split_once('=')?;
            (name.trim() == "algorithm" && !value.trim().is_empty()).then(|| value.trim())
        });
        named.map_or(Ok(Self::HmacSha1), Self::from_name)
    }

    fn output_len(self) -> usize {
        match self {
            Self::HmacSha1 => 20,
            Self::HmacSha256 => 32,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request's signature covers besides its URL.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Payload<'a> {
    /// Nothing: a GET webhook (its parameters are in the URL) or a WebSocket handshake.
    Empty,
    /// The decoded `application/x-www-form-urlencoded` body, in any order, repeated names
    /// allowed.
    Form(&'a [(&'a str, &'a str)]),
    /// A raw JSON body: the URL must carry its hex SHA-256 as the `bodySHA256` query parameter,
    /// and the signature covers the URL alone.
    Json(&'a [u8]),
}

/// Which configured token a request was signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSlot {
    /// The primary token.
    Primary,
    /// The secondary token (during a rotation).
    Secondary,
}

/// A successful validation: which URL and which token matched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The URL (one of the candidates, with or without its port) the signature was made over.
    pub url: String,
    /// The token that matched. A request signed with [`TokenSlot::Secondary`] means Twilio has
    /// not switched to the new token yet (or the old one is still configured as secondary).
    pub token: TokenSlot,
}

/// Both MACs of one token, keyed once so that every validation only hashes the message.
#[derive(Clone)]
struct Keyed {
    sha1: Hmac<Sha1>,
    sha256: Hmac<Sha256>,
}

impl Keyed {
    fn new(token: &SecretString) -> Self {
        let key = token.expose_secret().as_bytes();
        Self {
            sha1: Hmac::new_from_slice(key).expect("HMAC accepts keys of any length"),
            sha256: Hmac::new_from_slice(key).expect("HMAC accepts keys of any length"),
        }
    }

    /// MAC of `url` followed by each `name` + `value` of the sorted, deduplicated params,
    /// checked against `expected` in constant time.
    fn verify(
        &self,
        algorithm: Algorithm,
        url: &str,
        params: &[(&str, &str)],
        expected: &[u8],
    ) -> bool {
        fn run<M: Mac + Clone>(
            mac: &M,
            url: &str,
            params: &[(&str, &str)],
            expected: &[u8],
        ) -> bool {
            let mut mac = mac.clone();
            feed(&mut mac, url, params);
            mac.verify_slice(expected).is_ok()
        }
        match algorithm {
            Algorithm::HmacSha1 => run(&self.sha1, url, params, expected),
            Algorithm::HmacSha256 => run(&self.sha256, url, params, expected),
        }
    }

    fn sign(&self, algorithm: Algorithm, url: &str, params: &[(&str, &str)]) -> String {
        fn run<M: Mac + Clone>(mac: &M, url: &str, params: &[(&str, &str)]) -> String {
            let mut mac = mac.clone();
            feed(&mut mac, url, params);
            STANDARD.encode(mac.finalize().into_bytes())
        }
        match algorithm {
            Algorithm::HmacSha1 => run(&self.sha1, url, params),
            Algorithm::HmacSha256 => run(&self.sha256, url, params),
        }
    }
}

fn feed<M: Mac>(mac: &mut M, url: &str, sorted: &[(&str, &str)]) {
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
}

/// Sorts by name then value and drops exact duplicates: twilio-python iterates
/// `sorted(set(names))` and, for each name, `sorted(set(values))`. Rust orders `str` by UTF-8
/// bytes, which is the same order as Python's code points.
fn canonical<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Vec<(&str, &str)> {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (name.as_ref(), value.as_ref()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

fn is_canonical(params: &[(&str, &str)]) -> bool {
    params.windows(2).all(|pair| pair[0] < pair[1])
}

/// Computes the signature Twilio sends for a request to `url` with these POST parameters
/// (HMAC-SHA1 keyed with `token`, base64), exactly as twilio-python's
/// `RequestValidator(token).compute_signature(url, params)`.
///
/// `url` is used as given: no port is added or removed. Parameters may come in any order and
/// names may repeat; pairs are sorted by name then value and exact duplicates are dropped.
#[must_use]
pub fn compute_signature<K: AsRef<str>, V: AsRef<str>>(
    token: &SecretString,
    url: &str,
    params: &[(K, V)],
) -> String {
    compute_signature_with(token, Algorithm::HmacSha1, url, params)
}

/// [`compute_signature`] with a chosen [`Algorithm`].
#[must_use]
pub fn compute_signature_with<K: AsRef<str>, V: AsRef<str>>(
    token: &SecretString,
    algorithm: Algorithm,
    url: &str,
    params: &[(K, V)],
) -> String {
    Keyed::new(token).sign(algorithm, url, &canonical(params))
}

/// The lower-case hex SHA-256 of a body: the value Twilio puts in the `bodySHA256` query
/// parameter of a JSON webhook.
#[must_use]
pub fn body_sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Validates `X-Twilio-Signature` with a primary and an optional secondary token.
///
/// Sans-IO: it reads no clock and does no I/O; give it the URL, the parameters or body and the
/// header value. Comparisons are constant-time (`Mac::verify_slice`). The tokens never appear in
/// `Debug` output.
#[derive(Clone)]
pub struct RequestValidator {
    primary: Keyed,
    secondary: Option<Keyed>,
}

impl std::fmt::Debug for RequestValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestValidator")
            .field("primary", &"[REDACTED]")
            .field("secondary", &self.secondary.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl RequestValidator {
    /// A validator for requests signed with `token` (the account Auth Token, or the secret of
    /// the SharedKey the Webhook Setting names).
    #[must_use]
    #[expect(
        clippy::needless_pass_by_value,
        reason = "taking the secret means the caller's copy is dropped (and zeroized) here"
    )]
    pub fn new(token: SecretString) -> Self {
        Self {
            primary: Keyed::new(&token),
            secondary: None,
        }
    }

    /// Also accepts requests signed with `token`, for rotating the Auth Token: keep the old
    /// token as secondary until Twilio signs with the new one.
    #[must_use]
    #[expect(
        clippy::needless_pass_by_value,
        reason = "taking the secret means the caller's copy is dropped (and zeroized) here"
    )]
    pub fn with_secondary(mut self, token: SecretString) -> Self {
        self.secondary = Some(Keyed::new(&token));
        self
    }

    /// The signature of a request to `url` with these parameters under the primary token
    /// (HMAC-SHA1), as twilio-python's `compute_signature`.
    #[must_use]
    pub fn compute_signature<K: AsRef<str>, V: AsRef<str>>(
        &self,
        url: &str,
        params: &[(K, V)],
    ) -> String {
        self.primary
            .sign(Algorithm::HmacSha1, url, &canonical(params))
    }

    /// Validates a form (or GET) request to `url`, as twilio-python's
    /// `validate(url, params, signature)`: the signature must match the URL without its port or
    /// with its default port, under the primary or the secondary token.
    ///
    /// # Errors
    ///
    /// [`SigError::MissingSignature`], [`SigError::MalformedSignature`], [`SigError::Mismatch`],
    /// or [`SigError::InvalidUrl`] when `url` is not an absolute http(s)/ws(s) URL.
    pub fn validate<K: AsRef<str>, V: AsRef<str>>(
        &self,
        url: &str,
        params: &[(K, V)],
        signature: &str,
    ) -> Result<Verified, SigError> {
        let sorted = canonical(params);
        self.verify(
            &[url],
            Payload::Form(&sorted),
            signature,
            Algorithm::HmacSha1,
        )
    }

    /// Validates a JSON request: `url` must carry `bodySHA256` = hex SHA-256 of `body`, and the
    /// signature covers the URL alone (twilio-python's `validate(url, body_str, signature)`).
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate), plus [`SigError::MissingBodyHash`] and
    /// [`SigError::BodyHashMismatch`].
    pub fn validate_json(
        &self,
        url: &str,
        body: &[u8],
        signature: &str,
    ) -> Result<Verified, SigError> {
        self.verify(&[url], Payload::Json(body), signature, Algorithm::HmacSha1)
    }

    /// The general form: the signature must match one of `urls` (each tried without its port
    /// and with its default port) with the payload, under either token.
    ///
    /// The layer calls this with the candidate URLs of
    /// [`candidate_urls`](crate::candidate_urls) and the algorithm of
    /// [`Algorithm::from_settings_header`].
    ///
    /// # Errors
    ///
    /// See [`validate`](Self::validate) and [`validate_json`](Self::validate_json).
    pub fn verify<U: AsRef<str>>(
        &self,
        urls: &[U],
        payload: Payload<'_>,
        signature: &str,
        algorithm: Algorithm,
    ) -> Result<Verified, SigError> {
        let mut tried = Vec::with_capacity(urls.len() * 2);
        for url in urls {
            let variants = url_variants(url.as_ref())?;
            for candidate in [variants.without_port, variants.with_port] {
                if !tried.contains(&candidate) {
                    tried.push(candidate);
                }
            }
        }

        if signature.is_empty() {
            return Err(SigError::MissingSignature);
        }
        let mut expected = [0u8; 48];
        let expected = match STANDARD.decode_slice(signature.as_bytes(), &mut expected) {
            Ok(n) if n == algorithm.output_len() && signature.len() <= 64 => &expected[..n],
            _ => return Err(SigError::MalformedSignature { algorithm }),
        };

        let sorted_params;
        let (params, body_hash): (&[(&str, &str)], _) = match payload {
            Payload::Empty => (&[], None),
            // `validate` passes them sorted already; callers of `verify` may pass request order.
            Payload::Form(params) if is_canonical(params) => (params, None),
            Payload::Form(params) => {
                sorted_params = canonical(params);
                (&sorted_params[..], None)
            }
            Payload::Json(body) => (&[], Some(body_sha256_hex(body))),
        };

        let mut saw_body_hash = false;
        let mut body_hash_ok = false;
        for (slot, keyed) in std::iter::once((TokenSlot::Primary, &self.primary))
            .chain(self.secondary.as_ref().map(|k| (TokenSlot::Secondary, k)))
        {
            for candidate in &tried {
                if let Some(computed) = &body_hash {
                    match body_sha256_param(candidate)? {
                        None => continue,
                        Some(given) => {
                            saw_body_hash = true;
                            if !bool::from(given.as_bytes().ct_eq(computed.as_bytes())) {
                                continue;
                            }
                            body_hash_ok = true;
                        }
                    }
                }
                if keyed.verify(algorithm, candidate, params, expected) {
                    return Ok(Verified {
                        url: candidate.clone(),
                        token: slot,
                    });
                }
            }
        }
        Err(match body_hash {
            Some(_) if !saw_body_hash => SigError::MissingBodyHash { tried },
            Some(_) if !body_hash_ok => SigError::BodyHashMismatch { tried },
            _ => SigError::Mismatch { tried },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn settings_header_selects_the_algorithm() {
        let parse = Algorithm::from_settings_header;
        assert_eq!(parse(None), Ok(Algorithm::HmacSha1));
        assert_eq!(parse(Some("")), Ok(Algorithm::HmacSha1));
        assert_eq!(parse(Some("key=KS1")), Ok(Algorithm::HmacSha1));
        assert_eq!(parse(Some("key=KS1,algorithm=")), Ok(Algorithm::HmacSha1));
        assert_eq!(
            parse(Some("key=KS1, algorithm = hmac_sha256")),
            Ok(Algorithm::HmacSha256)
        );
        assert_eq!(
            parse(Some("algorithm=HMAC_MD5")),
            Err(SigError::UnsupportedAlgorithm("HMAC_MD5".into()))
        );
    }

    #[test]
    fn debug_never_shows_the_token() {
        let v = RequestValidator::new(token("supersecret")).with_secondary(token("othersecret"));
        let shown = format!("{v:?}");
        assert!(
            !shown.contains("supersecret") && !shown.contains("othersecret"),
            "{shown}"
        );
    }

    #[test]
    fn malformed_signatures_are_named() {
        let v = RequestValidator::new(token("12345"));
        let params: [(&str, &str); 0] = [];
        for bad in [
            "not base64!",
            "AAAA",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8",
            " RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        ] {
            assert_eq!(
                v.validate("https://h/x", &params, bad),
                Err(SigError::MalformedSignature {
                    algorithm: Algorithm::HmacSha1
                }),
                "{bad}"
            );
        }
        assert_eq!(
            v.validate("https://h/x", &params, ""),
            Err(SigError::MissingSignature)
        );
    }
}
