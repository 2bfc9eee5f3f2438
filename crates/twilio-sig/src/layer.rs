//! A tower layer for axum that refuses every request Twilio did not sign.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Request};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use tower_layer::Layer;
use tower_service::Service;

use crate::{
    Algorithm, Payload, RequestValidator, SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER, SigError,
    UrlSource, Verified, candidate_urls, is_websocket_upgrade,
};

/// The default body limit: 64 KiB, far above any Twilio webhook.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone)]
struct Config {
    validator: RequestValidator,
    source: UrlSource,
    body_limit: usize,
}

/// A tower [`Layer`] that validates `X-Twilio-Signature` before the inner service runs.
///
/// - Form requests (`application/x-www-form-urlencoded`): the signature covers the public URL
///   and the decoded parameters.
/// - JSON requests (`application/json`, `…+json`): the URL must carry `bodySHA256`, the hex
///   SHA-256 of the raw body, and the signature covers the URL.
/// - WebSocket handshakes (GET with `Upgrade: websocket`): the signature covers the `wss://` URL
///   (or the same with its trailing slash toggled), without parameters; the body is not read.
/// - Other requests with an empty body (GET webhooks): the URL alone.
///
/// The body is read up to [`body_limit`](Self::body_limit) (413 beyond it) and handed on
/// byte for byte to the inner service. The request gets the [`Verified`] result as an extension.
/// Anything else is answered `403 Forbidden` with a short plain-text reason; the response
/// carries the [`SigError`] as an extension, so an outer layer can map it. Each refusal is
/// logged (`tracing`, warn level) with the URLs that were tried and the reason, never with the
/// token or the expected signature.
///
/// Works on a sub-router: `Router::new().route("/webhook/x", post(h)).layer(layer)`. When that
/// router is nested, axum's `OriginalUri` gives the full path the signature covers.
#[derive(Debug, Clone)]
pub struct TwilioSignatureLayer {
    config: Arc<Config>,
}

impl TwilioSignatureLayer {
    /// A layer validating with `validator` against the URLs `source` rebuilds, with the default
    /// body limit ([`DEFAULT_BODY_LIMIT`]).
    #[must_use]
    pub fn new(validator: RequestValidator, source: UrlSource) -> Self {
        Self {
            config: Arc::new(Config {
                validator,
                source,
                body_limit: DEFAULT_BODY_LIMIT,
            }),
        }
    }

    /// Sets the largest body read, in bytes; larger requests are answered 413.
    #[must_use]
    pub fn body_limit(self, limit: usize) -> Self {
        let mut config = Arc::unwrap_or_clone(self.config);
        config.body_limit = limit;
        Self {
            config: Arc::new(config),
        }
    }
}

impl<S> Layer<S> for TwilioSignatureLayer {
    type Service = TwilioSignatureService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TwilioSignatureService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service [`TwilioSignatureLayer`] wraps around the inner service.
#[derive(Debug, Clone)]
pub struct TwilioSignatureService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> Service<Request<Body>> for TwilioSignatureService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone is not ready; keep the one that is (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        Box::pin(async move {
            match check(&config, request).await {
                Ok(request) => inner.call(request).await,
                Err(error) => Ok(reject(error)),
            }
        })
    }
}

fn reject(error: SigError) -> Response {
    let mut response = (error.status(), format!("{error}\n")).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.extensions_mut().insert(error);
    response
}

enum Kind {
    Form,
    Json,
    Other(Option<String>),
}

fn body_kind(headers: &http::HeaderMap) -> Kind {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Kind::Other(None);
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let media = text.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Kind::Form
    } else if media.eq_ignore_ascii_case("application/json")
        || media
            .rsplit_once('+')
            .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json"))
    {
        Kind::Json
    } else {
        Kind::Other(Some(text.into_owned()))
    }
}

async fn check(config: &Config, request: Request<Body>) -> Result<Request<Body>, SigError> {
    let (mut parts, body) = request.into_parts();
    let outcome = verify_parts(config, &parts, body).await;
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    match outcome {
        Ok((verified, body)) => {
            tracing::debug!(
                %method,
                %path,
                url = %verified.url,
                token = ?verified.token,
                "Twilio signature verified"
            );
            parts.extensions.insert(verified);
            Ok(Request::from_parts(parts, body))
        }
        Err(error) => {
            tracing::warn!(
                %method,
                %path,
                tried = ?error.tried_urls(),
                reason = %error,
                "rejected request: Twilio signature not valid"
            );
            Err(error)
        }
    }
}

async fn verify_parts(
    config: &Config,
    parts: &http::request::Parts,
    body: Body,
) -> Result<(Verified, Body), SigError> {
    let signature = match parts.headers.get(SIGNATURE_HEADER) {
        None => return Err(SigError::MissingSignature),
        Some(value) => value.to_str().map_err(|_| SigError::MalformedSignature {
            algorithm: Algorithm::HmacSha1,
        })?,
    };
    if signature.is_empty() {
        return Err(SigError::MissingSignature);
    }
    let settings = parts
        .headers
        .get(SIGNATURE_SETTINGS_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()));
    let algorithm = Algorithm::from_settings_header(settings.as_deref())?;
    let urls = candidate_urls(parts, &config.source)?;

    if is_websocket_upgrade(&parts.method, &parts.headers) {
        let verified = config
            .validator
            .verify(&urls, Payload::Empty, signature, algorithm)?;
        return Ok((verified, body));
    }

    let bytes = read_body(&parts.headers, body, config.body_limit).await?;
    let verified = match body_kind(&parts.headers) {
        Kind::Form => {
            let pairs: Vec<_> = form_urlencoded::parse(&bytes).collect();
            let params: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (&**k, &**v)).collect();
            config
                .validator
                .verify(&urls, Payload::Form(&params), signature, algorithm)?
        }
        Kind::Json => {
            config
                .validator
                .verify(&urls, Payload::Json(&bytes), signature, algorithm)?
        }
        Kind::Other(_) if bytes.is_empty() => {
            config
                .validator
                .verify(&urls, Payload::Empty, signature, algorithm)?
        }
        Kind::Other(content_type) => return Err(SigError::UnsupportedBody { content_type }),
    };
    Ok((verified, Body::from(bytes)))
}

async fn read_body(headers: &http::HeaderMap, body: Body, limit: usize) -> Result<Bytes, SigError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(SigError::BodyTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(SigError::BodyTooLarge { limit })
        }
        Err(_) => Err(SigError::BodyRead),
    }
}

// The layer never fails on its own: refusals are responses.
const _: fn() = || {
    fn assert_infallible<S>()
    where
        S: Service<Request<Body>, Error = Infallible>,
    {
    }
    assert_infallible::<TwilioSignatureService<axum::routing::Route>>();
};
