//! A minimal axum app whose Twilio webhook is protected by `kav-twilio-sig`.
//!
//! ```text
//! TWILIO_AUTH_TOKEN=… PUBLIC_BASE_URL=https://ai.example.com cargo run -p verify-webhook
//! cargo run -p verify-webhook -- sign <url> [<form body>]   # prints the X-Twilio-Signature
//! ```
//!
//! Environment: `TWILIO_AUTH_TOKEN` (required), `PUBLIC_BASE_URL` (required, absolute, the URL
//! Twilio reaches this app with), `TWILIO_AUTH_TOKEN_SECONDARY` (optional, during a token
//! rotation), `BIND` (default `127.0.0.1:3000`).

use std::process::ExitCode;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::post;
use kav_twilio_sig::{
    RequestValidator, SecretString, TwilioSignatureLayer, UrlSource, compute_signature,
};

/// The TwiML the webhook answers with.
const TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<Response><Say>Hello from kav. This webhook was signed by Twilio.</Say></Response>";

async fn incoming_call() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/xml; charset=utf-8")], TWIML)
}

/// The app: one POST route behind the signature layer.
fn app(layer: TwilioSignatureLayer) -> Router {
    Router::new()
        .route("/webhook/incoming_call", post(incoming_call))
        .layer(layer)
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn layer_from_env() -> Result<TwilioSignatureLayer, String> {
    let token = SecretString::from(env("TWILIO_AUTH_TOKEN")?);
    let base = env("PUBLIC_BASE_URL")?;
    let source = UrlSource::configured(&base).map_err(|e| format!("PUBLIC_BASE_URL: {e}"))?;
    let mut validator = RequestValidator::new(token);
    if let Ok(secondary) = std::env::var("TWILIO_AUTH_TOKEN_SECONDARY") {
        validator = validator.with_secondary(SecretString::from(secondary));
    }
    Ok(TwilioSignatureLayer::new(validator, source))
}

/// `sign <url> [<form body>]`: the signature Twilio would send, for trying the app with curl.
fn sign(args: &[String]) -> Result<(), String> {
    let [url, rest @ ..] = args else {
        return Err("usage: verify-webhook sign <url> [<form body>]".into());
    };
    let body = rest.first().map_or("", String::as_str);
    let params: Vec<_> = form_urlencoded::parse(body.as_bytes()).collect();
    let token = SecretString::from(env("TWILIO_AUTH_TOKEN")?);
    println!("{}", compute_signature(&token, url, &params));
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("sign") {
        return match sign(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("verify-webhook: {e}");
                ExitCode::FAILURE
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kav_twilio_sig=debug".into()),
        )
        .init();
    let layer = match layer_from_env() {
        Ok(layer) => layer,
        Err(e) => {
            eprintln!("verify-webhook: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = match tokio::net::TcpListener::bind(&bind).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("verify-webhook: cannot listen on {bind}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("verify-webhook: listening on http://{bind}/webhook/incoming_call");
    if let Err(e) = axum::serve(listener, app(layer)).await {
        eprintln!("verify-webhook: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

    fn layer() -> TwilioSignatureLayer {
        TwilioSignatureLayer::new(
            RequestValidator::new(SecretString::from("12345".to_owned())),
            UrlSource::configured("https://ai.example.com").unwrap(),
        )
    }

    fn request(signature: &str) -> Request<Body> {
        Request::post("/webhook/incoming_call")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(Body::from("CallSid=CA123&From=%2B15005550006"))
            .unwrap()
    }

    #[tokio::test]
    async fn signed_requests_get_twiml_and_others_403() {
        let token = SecretString::from("12345".to_owned());
        let params: Vec<_> = form_urlencoded::parse(b"CallSid=CA123&From=%2B15005550006").collect();
        let signature = compute_signature(
            &token,
            "https://ai.example.com/webhook/incoming_call",
            &params,
        );
        let response = app(layer()).oneshot(request(&signature)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, TWIML.as_bytes());

        let response = app(layer())
            .oneshot(request("AAAAAAAAAAAAAAAAAAAAAAAAAAA="))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
}
