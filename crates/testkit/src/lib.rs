#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
//!
//! ```no_run
//! # async fn run() {
//! use kav_testkit::{FakeServer, Reply};
//!
//! let server = FakeServer::replying(Reply::json(429, &serde_json::json!({"error": "slow down"}))
//!     .with_retry_after("2"))
//! .await;
//! // Point the client under test at `server.base()`, call it, then look at what it sent:
//! let sent = server.requests();
//! # drop(sent);
//! # }
//! ```

mod body;
mod raw;
mod server;

pub use body::{Ending, broken_body, dripping, slow_body, split_at_bytes, sse};
pub use raw::{Misbehaviour, closed_port, raw_server, read_request, stalling_server};
pub use server::{FakeServer, FormField, Recorded, Reply};
