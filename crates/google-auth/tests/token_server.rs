//! Drives `kav-google-auth` against a local OAuth token endpoint that verifies the JWT the way
//! Google's does (RS256 signature with the key's public half, claims, grant type).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kav_google_auth::{CLOUD_PLATFORM_SCOPE, Error, GoogleAuth, ServiceAccountAuth};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::Verifier as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;

const TEST_KEY_PEM: &str = include_str!("fixtures/test-key.pem");
const EMAIL: &str = "kav-test@kav-test-project.iam.gserviceaccount.com";
const KEY_ID: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Clone, Copy)]
enum Mode {
    Ok { expires_in: u64 },
    OAuthError,
    GoogleStyleError,
    HtmlError,
    Slow,
    Malformed,
    WrongTokenType,
}

struct Server {
    mode: Mutex<Mode>,
    calls: AtomicUsize,
    delay: Mutex<Duration>,
    verifying_key: VerifyingKey<Sha256>,
    expected_aud: Mutex<String>,
    last_claims: Mutex<Option<serde_json::Value>>,
}

async fn token(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let n = server.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let delay = *server.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    assert_eq!(
        headers["content-type"], "application/x-www-form-urlencoded",
        "token requests are form posts"
    );
    let bad = |msg: &str| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": "invalid_grant", "error_description": msg})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return bad("bad grant_type");
    }
    let Some(jwt) = form.get("assertion") else {
        return bad("no assertion");
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return bad("not a JWT");
    }
    let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice())
        .expect("signature bytes");
    let signed = format!("{}.{}", parts[0], parts[1]);
    if server
        .verifying_key
        .verify(signed.as_bytes(), &signature)
        .is_err()
    {
        return bad("Invalid JWT Signature.");
    }
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], KEY_ID);
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], EMAIL);
    if claims["scope"] != CLOUD_PLATFORM_SCOPE {
        return bad("Invalid OAuth scope or ID token audience provided.");
    }
    assert_eq!(claims["aud"], *server.expected_aud.lock().unwrap());
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap(), iat + 3600);
    *server.last_claims.lock().unwrap() = Some(claims);

    let mode = *server.mode.lock().unwrap();
    match mode {
        Mode::Ok { expires_in } => axum::Json(serde_json::json!({
            "access_token": format!("ya29.token-{n}"),
            "expires_in": expires_in,
            "token_type": "Bearer",
        }))
        .into_response(),
        Mode::OAuthError => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({
                "error": "invalid_grant",
                "error_description": "Invalid grant: account not found",
            })),
        )
            .into_response(),
        Mode::GoogleStyleError => (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({
                "error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}
            })),
        )
            .into_response(),
        Mode::HtmlError => (StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>").into_response(),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        Mode::Malformed => (
            [("content-type", "application/json")],
            "{\"access_token\": 12",
        )
            .into_response(),
        Mode::WrongTokenType => axum::Json(serde_json::json!({
            "access_token": "x", "expires_in": 3600, "token_type": "MAC",
        }))
        .into_response(),
    }
}

struct Harness {
    server: Arc<Server>,
    url: String,
    now: Arc<AtomicU64>,
}

impl Harness {
    async fn start(mode: Mode) -> Self {
        let private = RsaPrivateKey::from_pkcs8_pem(TEST_KEY_PEM).unwrap();
        let server = Arc::new(Server {
            mode: Mutex::new(mode),
            calls: AtomicUsize::new(0),
            delay: Mutex::new(Duration::ZERO),
            verifying_key: VerifyingKey::new(private.to_public_key()),
            expected_aud: Mutex::new(String::new()),
            last_claims: Mutex::new(None),
        });
        let app = Router::new()
            .route("/token", post(token))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        *server.expected_aud.lock().unwrap() = url.clone();
        Self {
            server,
            url,
            now: Arc::new(AtomicU64::new(1_700_000_000)),
        }
    }

    fn key_json(&self) -> String {
        key_json(&self.url)
    }

    fn auth(&self) -> GoogleAuth {
        let now = self.now.clone();
        GoogleAuth::from_service_account_json(&self.key_json(), reqwest::Client::new())
            .unwrap()
            .with_clock(move || UNIX_EPOCH + Duration::from_secs(now.load(Ordering::SeqCst)))
            .with_token_timeout(Duration::from_secs(5))
    }

    fn calls(&self) -> usize {
        self.server.calls.load(Ordering::SeqCst)
    }
}

fn key_json(token_uri: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": "kav-test-project",
        "private_key_id": KEY_ID,
        "private_key": TEST_KEY_PEM,
        "client_email": EMAIL,
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/kav-test",
        "universe_domain": "googleapis.com"
    })
    .to_string()
}

async fn bearer(auth: &GoogleAuth) -> Result<String, Error> {
    let req = auth
        .authorize(reqwest::Client::new().get("http://127.0.0.1:9/"))
        .await?
        .build()
        .unwrap();
    let value = &req.headers()["authorization"];
    assert!(
        value.is_sensitive(),
        "the Authorization header is marked sensitive"
    );
    Ok(value.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn signs_a_valid_jwt_and_caches_the_token() {
    let h = Harness::start(Mode::Ok { expires_in: 3599 }).await;
    let auth = h.auth();
    assert_eq!(auth.project_id(), Some("kav-test-project"));
    assert_eq!(bearer(&auth).await.unwrap(), "Bearer ya29.token-1");
    let claims = h.server.last_claims.lock().unwrap().clone().unwrap();
    assert_eq!(claims["iat"], 1_700_000_000);
    assert_eq!(claims["exp"], 1_700_003_600);
    // Cached: a second call and a clone reuse the token.
    assert_eq!(bearer(&auth).await.unwrap(), "Bearer ya29.token-1");
    assert_eq!(bearer(&auth.clone()).await.unwrap(), "Bearer ya29.token-1");
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn refreshes_a_minute_before_expiry() {
    let h = Harness::start(Mode::Ok { expires_in: 3600 }).await;
    let auth = h.auth();
    assert_eq!(bearer(&auth).await.unwrap(), "Bearer ya29.token-1");
    // 3539 s later the token is still good (it expires in 61 s).
    h.now.fetch_add(3539, Ordering::SeqCst);
    assert_eq!(bearer(&auth).await.unwrap(), "Bearer ya29.token-1");
    assert_eq!(h.calls(), 1);
    // One more second: within the refresh margin, so a new token is fetched.
    h.now.fetch_add(1, Ordering::SeqCst);
    assert_eq!(bearer(&auth).await.unwrap(), "Bearer ya29.token-2");
    let claims = h.server.last_claims.lock().unwrap().clone().unwrap();
    assert_eq!(claims["iat"], 1_700_003_540);
    assert_eq!(h.calls(), 2);
}

#[tokio::test]
async fn short_lived_tokens_are_not_reused_past_expiry() {
    let h = Harness::start(Mode::Ok { expires_in: 30 }).await;
    let auth = h.auth();
    bearer(&auth).await.unwrap();
    bearer(&auth).await.unwrap();
    assert_eq!(
        h.calls(),
        2,
        "a token shorter than the margin is refreshed each time"
    );
}

#[tokio::test]
async fn invalidate_forces_a_new_token() {
    let h = Harness::start(Mode::Ok { expires_in: 3600 }).await;
    let GoogleAuth::ServiceAccount(sa) = h.auth() else {
        panic!("service account expected")
    };
    assert_eq!(
        sa.access_token().await.unwrap().expose_secret(),
        "ya29.token-1"
    );
    sa.invalidate().await;
    assert_eq!(
        sa.access_token().await.unwrap().expose_secret(),
        "ya29.token-2"
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh() {
    let h = Harness::start(Mode::Ok { expires_in: 3600 }).await;
    *h.server.delay.lock().unwrap() = Duration::from_millis(100);
    let auth = h.auth();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { bearer(&auth).await.unwrap() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "Bearer ya29.token-1");
    }
    assert_eq!(h.calls(), 1);
}

#[tokio::test]
async fn a_cancelled_refresh_leaves_the_cache_usable() {
    let h = Harness::start(Mode::Ok { expires_in: 3600 }).await;
    *h.server.delay.lock().unwrap() = Duration::from_millis(200);
    let auth = h.auth();
    let cancelled = tokio::time::timeout(Duration::from_millis(20), bearer(&auth)).await;
    assert!(
        cancelled.is_err(),
        "the first call was cancelled mid-refresh"
    );
    *h.server.delay.lock().unwrap() = Duration::ZERO;
    let token = bearer(&auth).await.unwrap();
    assert!(token.starts_with("Bearer ya29.token-"), "{token}");
}

#[tokio::test]
async fn token_url_override_keeps_the_key_audience() {
    let h = Harness::start(Mode::Ok { expires_in: 3600 }).await;
    *h.server.expected_aud.lock().unwrap() = "https://oauth2.googleapis.com/token".to_owned();
    let auth = GoogleAuth::from_service_account_json(
        &key_json("https://oauth2.googleapis.com/token"),
        reqwest::Client::new(),
    )
    .unwrap()
    .with_token_url(&h.url)
    .unwrap();
    assert_eq!(bearer(&auth).await.unwrap(), "Bearer ya29.token-1");
}

#[tokio::test]
async fn custom_scopes_are_space_separated() {
    let h = Harness::start(Mode::Ok { expires_in: 3600 }).await;
    let sa = ServiceAccountAuth::from_json(&h.key_json(), reqwest::Client::new())
        .unwrap()
        .with_scopes([CLOUD_PLATFORM_SCOPE]);
    assert_eq!(
        sa.access_token().await.unwrap().expose_secret(),
        "ya29.token-1"
    );
    let sa = sa.with_scopes(["a", "b"]);
    // The server accepts only the cloud-platform scope: the configured scopes really are sent.
    let err = sa.access_token().await.unwrap_err();
    assert!(
        matches!(&err, Error::TokenEndpoint { status: 400, description: Some(d), .. } if d.contains("scope")),
        "{err:?}"
    );
}

#[tokio::test]
async fn oauth_errors_are_reported_with_status_and_description() {
    let h = Harness::start(Mode::OAuthError).await;
    let err = bearer(&h.auth()).await.unwrap_err();
    match &err {
        Error::TokenEndpoint {
            status,
            error,
            description,
        } => {
            assert_eq!(*status, 400);
            assert_eq!(error, "invalid_grant");
            assert_eq!(
                description.as_deref(),
                Some("Invalid grant: account not found")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "token endpoint answered HTTP 400: invalid_grant: Invalid grant: account not found"
    );
}

#[tokio::test]
async fn google_style_and_non_json_errors() {
    let h = Harness::start(Mode::GoogleStyleError).await;
    let err = bearer(&h.auth()).await.unwrap_err();
    assert!(
        matches!(&err, Error::TokenEndpoint { status: 403, error, description: Some(d) }
            if error == "PERMISSION_DENIED" && d == "The caller does not have permission"),
        "{err:?}"
    );
    *h.server.mode.lock().unwrap() = Mode::HtmlError;
    let err = bearer(&h.auth()).await.unwrap_err();
    assert!(
        matches!(&err, Error::TokenEndpoint { status: 502, error, description: None }
            if error.contains("502 Bad Gateway")),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_token_endpoint_times_out() {
    let h = Harness::start(Mode::Slow).await;
    let auth = h.auth().with_token_timeout(Duration::from_millis(500));
    let err = bearer(&auth).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out after 500ms"), "{err}");
}

#[tokio::test]
async fn malformed_token_responses_are_errors() {
    let h = Harness::start(Mode::Malformed).await;
    let err = bearer(&h.auth()).await.unwrap_err();
    assert!(matches!(err, Error::MalformedResponse(_)), "{err:?}");
    *h.server.mode.lock().unwrap() = Mode::WrongTokenType;
    let err = bearer(&h.auth()).await.unwrap_err();
    assert!(matches!(err, Error::MalformedResponse(_)), "{err:?}");
}

#[tokio::test]
async fn unreachable_endpoint_is_an_http_error() {
    // Bind then drop to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let auth = GoogleAuth::from_service_account_json(
        &key_json(&format!("http://127.0.0.1:{port}/token")),
        reqwest::Client::new(),
    )
    .unwrap();
    let err = bearer(&auth).await.unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn api_key_goes_in_x_goog_api_key() {
    let auth = GoogleAuth::api_key(SecretString::from("AIza-secret-key"));
    let req = auth
        .authorize(reqwest::Client::new().get("http://127.0.0.1:9/"))
        .await
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(req.headers()["x-goog-api-key"], "AIza-secret-key");
    assert!(req.headers()["x-goog-api-key"].is_sensitive());
    assert!(req.headers().get("authorization").is_none());
    assert!(!format!("{auth:?}").contains("AIza"));
    let bad = GoogleAuth::api_key(SecretString::from("bad\nkey"));
    let err = bad
        .authorize(reqwest::Client::new().get("http://127.0.0.1:9/"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidApiKey));
}

#[test]
fn debug_output_never_shows_the_private_key() {
    let auth = GoogleAuth::from_service_account_json(
        &key_json("https://oauth2.googleapis.com/token"),
        reqwest::Client::new(),
    )
    .unwrap();
    let debug = format!("{auth:?}");
    assert!(debug.contains(EMAIL), "{debug}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    let body: String = TEST_KEY_PEM
        .lines()
        .nth(1)
        .unwrap()
        .chars()
        .take(20)
        .collect();
    assert!(!debug.contains(&body), "{debug}");
}

#[test]
fn invalid_keys_are_rejected_with_reasons() {
    let http = reqwest::Client::new;
    let err = GoogleAuth::from_service_account_json("{not json", http()).unwrap_err();
    assert!(matches!(err, Error::KeyJson(_)), "{err:?}");

    let mut key: serde_json::Value =
        serde_json::from_str(&key_json("https://oauth2.googleapis.com/token")).unwrap();
    key["type"] = "authorized_user".into();
    let err = GoogleAuth::from_service_account_json(&key.to_string(), http()).unwrap_err();
    assert!(err.to_string().contains("authorized_user"), "{err}");

    let mut key: serde_json::Value =
        serde_json::from_str(&key_json("https://oauth2.googleapis.com/token")).unwrap();
    key.as_object_mut().unwrap().remove("client_email");
    let err = GoogleAuth::from_service_account_json(&key.to_string(), http()).unwrap_err();
    assert!(err.to_string().contains("client_email"), "{err}");

    let mut key: serde_json::Value =
        serde_json::from_str(&key_json("https://oauth2.googleapis.com/token")).unwrap();
    key["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into();
    let err = GoogleAuth::from_service_account_json(&key.to_string(), http()).unwrap_err();
    assert!(matches!(err, Error::PrivateKey(_)), "{err:?}");

    let err =
        GoogleAuth::from_service_account_json(&key_json("oauth2.googleapis.com/token"), http())
            .unwrap_err();
    assert!(matches!(err, Error::InvalidKey(_)), "{err:?}");

    let ok = GoogleAuth::from_service_account_json(
        &key_json("https://oauth2.googleapis.com/token"),
        http(),
    )
    .unwrap();
    assert!(ok.with_token_url("ftp://example.com/token").is_err());
}

#[test]
fn credentials_from_the_environment() {
    let http = reqwest::Client::new;
    let sa_json = key_json("https://oauth2.googleapis.com/token");
    let env = |sa: Option<&str>, key: Option<&str>| {
        let sa = sa.map(str::to_owned);
        let key = key.map(str::to_owned);
        move |name: &str| match name {
            "GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON" => sa.clone(),
            "GOOGLE_API_KEY" => key.clone(),
            _ => None,
        }
    };
    let auth = GoogleAuth::from_lookup(env(Some(&sa_json), Some("k")), http()).unwrap();
    assert!(
        matches!(auth, GoogleAuth::ServiceAccount(_)),
        "the JSON wins"
    );
    let auth = GoogleAuth::from_lookup(env(Some("  "), Some("AIza-k")), http()).unwrap();
    assert!(matches!(&auth, GoogleAuth::ApiKey(k) if k.expose_secret() == "AIza-k"));
    let err = GoogleAuth::from_lookup(env(None, Some("")), http()).unwrap_err();
    assert!(matches!(err, Error::MissingCredentials));
    assert!(
        err.to_string()
            .contains("GOOGLE_CLOUD_SERVICE_ACCOUNT_JSON")
    );
    let err = GoogleAuth::from_lookup(env(Some("{"), None), http()).unwrap_err();
    assert!(matches!(err, Error::KeyJson(_)));
}
