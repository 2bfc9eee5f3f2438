#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
#[cfg(feature = "axum")]
mod layer;
mod public_url;
mod signature;
mod urlparts;

pub use error::SigError;
#[cfg(feature = "axum")]
pub use layer::{DEFAULT_BODY_LIMIT, TwilioSignatureLayer, TwilioSignatureService};
pub use public_url::{
    ForwardedElement, PublicBaseUrl, Scheme, UrlSource, candidate_urls, is_websocket_upgrade,
    parse_forwarded,
};
pub use secrecy::SecretString;
pub use signature::{
    Algorithm, Payload, RequestValidator, SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, TokenSlot,
    Verified, body_sha256_hex, compute_signature, compute_signature_with,
};
pub use urlparts::{UrlVariants, url_variants};
