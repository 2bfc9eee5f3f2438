#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod allow;
mod auth;
mod client;
mod download;
mod error;
mod models;
mod params;
mod retry;
mod types;

pub use allow::HostAllowList;
pub use auth::Credentials;
pub use client::{
    DEFAULT_BASE_URL, PreparedRequest, TwilioClient, TwilioClientBuilder, http_client_builder,
};
pub use download::{DownloadOptions, RecordingMedia};
pub use error::{ApiError, Error, Result};
pub use models::{Call, Message, Recording};
pub use params::{
    CallInstructions, CreateCall, CreateMessage, MAX_BODY_CHARS, MAX_MEDIA_URLS, MAX_TWIML_LEN,
    Sender, UpdateCall,
};
pub use retry::RetryPolicy;
pub use secrecy::SecretString;
pub use types::{
    AccountSid, ApiKeySid, ApplicationSid, CallEvent, CallSid, CallStatus, CallUpdateStatus,
    Endpoint, HttpMethod, MachineDetection, MessageDirection, MessageSid, MessageStatus,
    MessagingServiceSid, PhoneNumber, RecordingFormat, RecordingSid, RecordingSource,
    RecordingStatus,
};
pub use url::Url;
