//! A Twilio Media Streams WebSocket server that plays the caller's audio back after one second.
//!
//! ```sh
//! PUBLIC_BASE_URL=https://<your tunnel host> cargo run -p media-echo
//! ```
//!
//! It prints the `<Connect><Stream>` TwiML that reaches it and serves the same TwiML on
//! `POST /incoming-call`, so a Twilio number's voice webhook can point straight at it. See the
//! README for the whole set-up.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use media_echo::{WS_PATH, app, connect_stream_twiml};

const ECHO_DELAY: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let listen = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listen: SocketAddr = match listen.parse() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("LISTEN_ADDR={listen:?} is not an address like 127.0.0.1:8080: {e}");
            return ExitCode::from(2);
        }
    };
    let base = std::env::var("PUBLIC_BASE_URL").unwrap_or_else(|_| format!("http://{listen}"));
    let twiml = match connect_stream_twiml(&base) {
        Ok(twiml) => twiml,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };

    println!("media-echo listening on {listen}; WebSocket at {WS_PATH}");
    println!("TwiML to connect a call (also served on POST /incoming-call):\n{twiml}");

    let app = app(twiml, ECHO_DELAY);
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
