//! RS256 JWT assertion for the OAuth 2.0 JWT-bearer grant (RFC 7523).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde::Serialize;
use sha2::Sha256;

use crate::Error;

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

/// What goes into one assertion.
pub(crate) struct Assertion<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) key_id: Option<&'a str>,
    pub(crate) scope: &'a str,
    pub(crate) audience: &'a str,
    pub(crate) issued_at: u64,
    pub(crate) lifetime_secs: u64,
}

impl Assertion<'_> {
    /// `base64url(header).base64url(claims).base64url(RS256 signature)`.
    pub(crate) fn sign(&self, key: &SigningKey<Sha256>) -> Result<String, Error> {
        let header = Header {
            alg: "RS256",
            typ: "JWT",
            kid: self.key_id,
        };
        let claims = Claims {
            iss: self.issuer,
            scope: self.scope,
            aud: self.audience,
            iat: self.issued_at,
            exp: self.issued_at + self.lifetime_secs,
        };
        // Serializing these plain structs cannot fail.
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let claims = serde_json::to_vec(&claims).unwrap_or_default();
        let mut token = String::with_capacity(1024);
        URL_SAFE_NO_PAD.encode_string(header, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = key.try_sign(token.as_bytes()).map_err(Error::Sign)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }
}

pub(crate) fn signing_key(key: RsaPrivateKey) -> SigningKey<Sha256> {
    SigningKey::<Sha256>::new(key)
}
