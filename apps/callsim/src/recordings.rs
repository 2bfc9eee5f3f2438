//! The local recordings host: serves each caller turn as Twilio serves a recording, at
//! `/2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}` (and `….wav`), behind HTTP
//! Basic auth with the account SID and auth token, as Twilio's API demands.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use secrecy::ExposeSecret;

use crate::error::Error;

struct Shared {
    account_sid: String,
    /// `base64(AccountSid:AuthToken)`, the expected Basic credentials.
    expected: String,
    recordings: Mutex<HashMap<String, Vec<u8>>>,
    /// Paths of the `.mp3` requests answered 415, for the report.
    mp3_requests: Mutex<Vec<String>>,
    addr: Mutex<Option<SocketAddr>>,
}

/// A running recordings host; stops when dropped.
pub(crate) struct RecordingsHost {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingsHost {
    pub(crate) async fn start(
        account_sid: &str,
        auth_token: &secrecy::SecretString,
        addr: Option<SocketAddr>,
    ) -> Result<Self, Error> {
        let expected = base64::engine::general_purpose::STANDARD
            .encode(format!("{account_sid}:{}", auth_token.expose_secret()));
        let shared = Arc::new(Shared {
            account_sid: account_sid.to_owned(),
            expected,
            recordings: Mutex::new(HashMap::new()),
            mp3_requests: Mutex::new(Vec::new()),
            addr: Mutex::new(None),
        });
        let bind = addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(Error::RecordingsHost)?;
        let addr = listener.local_addr().map_err(Error::RecordingsHost)?;
        if let Ok(mut slot) = shared.addr.lock() {
            *slot = Some(addr);
        }
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Recordings/{file}",
                get(serve),
            )
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            // The host lives as long as the simulation; an accept error ends it, and the
            // agent then reports the recording as unreachable, which is what it would see.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { shared, addr, task })
    }

    /// Stores a recording and returns its URL (without extension, as Twilio sends it).
    pub(crate) fn add(&self, recording_sid: &str, wav: Vec<u8>) -> String {
        if let Ok(mut map) = self.shared.recordings.lock() {
            map.insert(recording_sid.to_owned(), wav);
        }
        self.url(recording_sid)
    }

    /// The URL a recording has (or will have) on this host, without extension.
    pub(crate) fn url(&self, recording_sid: &str) -> String {
        format!(
            "http://{}/2010-04-01/Accounts/{}/Recordings/{recording_sid}",
            self.addr, self.shared.account_sid
        )
    }

    /// The `….mp3` URLs requested so far (each answered 415).
    pub(crate) fn mp3_requests(&self) -> Vec<String> {
        self.shared
            .mp3_requests
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

impl Drop for RecordingsHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), shared.expected.as_bytes()));
    if !authorized {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            "{\"code\": 20003, \"message\": \"Authenticate\", \"status\": 401}",
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
        return response;
    }
    if account != shared.account_sid {
        return not_found();
    }
    let (sid, ext) = match file.rsplit_once('.') {
        Some((sid, ext)) => (sid, Some(ext)),
        None => (file.as_str(), None),
    };
    match ext {
        None | Some("wav") => {}
        Some("mp3") => {
            // Twilio would transcode to MP3; the simulator has no MP3 encoder. 415 says so
            // plainly (a 404 would read as "no such recording").
            let addr = shared.addr.lock().ok().and_then(|a| *a);
            let url = addr.map_or_else(
                || file.clone(),
                |a| format!("http://{a}/2010-04-01/Accounts/{account}/Recordings/{file}"),
            );
            if let Ok(mut log) = shared.mp3_requests.lock() {
                log.push(url);
            }
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                [(header::CONTENT_TYPE, "application/json")],
                format!(
                    "{{\"code\": 20415, \"message\": \"kav-callsim serves recordings as WAV only (it has no MP3 encoder): request /Recordings/{sid}.wav or /Recordings/{sid}\", \"status\": 415}}"
                ),
            )
                .into_response();
        }
        Some(_) => return not_found(),
    }
    let wav = shared
        .recordings
        .lock()
        .ok()
        .and_then(|map| map.get(sid).cloned());
    match wav {
        Some(bytes) => ([(header::CONTENT_TYPE, "audio/x-wav")], bytes).into_response(),
        None => not_found(),
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "{\"code\": 20404, \"message\": \"The requested resource was not found\", \"status\": 404}",
    )
        .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
