//! Typed resources answered by Twilio.
//!
//! Field names and types follow the OpenAPI schemas `api.v2010.account.call`,
//! `api.v2010.account.message` and `api.v2010.account.recording`. Every field Twilio documents
//! as nullable is an `Option`; fields this crate does not model are ignored. Dates stay in
//! Twilio's RFC 2822 text form (`"Tue, 31 Aug 2010 20:36:28 +0000"`), as do the decimal
//! strings Twilio uses for durations and prices.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::{
    AccountSid, CallSid, CallStatus, MessageDirection, MessageSid, MessageStatus,
    MessagingServiceSid, RecordingSid, RecordingSource, RecordingStatus,
};

/// A call (`api.v2010.account.call`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Call {
    /// The call's SID.
    pub sid: Option<CallSid>,
    /// The account that created the call.
    pub account_sid: Option<AccountSid>,
    /// The SID of the call that created this leg, if any.
    pub parent_call_sid: Option<CallSid>,
    /// Creation date (RFC 2822).
    pub date_created: Option<String>,
    /// Last update (RFC 2822).
    pub date_updated: Option<String>,
    /// Callee (phone number, `client:` or `sip:` address).
    pub to: Option<String>,
    /// Callee, formatted for display.
    pub to_formatted: Option<String>,
    /// Caller.
    pub from: Option<String>,
    /// Caller, formatted for display.
    pub from_formatted: Option<String>,
    /// The SID of the Twilio number used (`PN…`).
    pub phone_number_sid: Option<String>,
    /// Current status.
    pub status: Option<CallStatus>,
    /// When the call was answered (RFC 2822).
    pub start_time: Option<String>,
    /// When the call ended (RFC 2822).
    pub end_time: Option<String>,
    /// Duration in seconds, as text.
    pub duration: Option<String>,
    /// Price (a negative decimal), as text.
    pub price: Option<String>,
    /// Currency of `price`.
    pub price_unit: Option<String>,
    /// `inbound`, `outbound-api` or `outbound-dial`.
    pub direction: Option<String>,
    /// Answering-machine detection result (`human`, `machine_start`, …).
    pub answered_by: Option<String>,
    /// API version, `2010-04-01`.
    pub api_version: Option<String>,
    /// The number the call was forwarded from.
    pub forwarded_from: Option<String>,
    /// Group SID (`GP…`).
    pub group_sid: Option<String>,
    /// Caller name lookup result.
    pub caller_name: Option<String>,
    /// Milliseconds the call waited in the queue, as text.
    pub queue_time: Option<String>,
    /// Trunk SID (`TK…`).
    pub trunk_sid: Option<String>,
    /// This resource's path.
    pub uri: Option<String>,
    /// Paths of sub-resources.
    pub subresource_uris: Option<BTreeMap<String, String>>,
}

/// A message (`api.v2010.account.message`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Message {
    /// The message's SID.
    pub sid: Option<MessageSid>,
    /// The account that created it.
    pub account_sid: Option<AccountSid>,
    /// The Messaging Service used, if any.
    pub messaging_service_sid: Option<MessagingServiceSid>,
    /// Text.
    pub body: Option<String>,
    /// Number of segments, as text.
    pub num_segments: Option<String>,
    /// Number of media items, as text.
    pub num_media: Option<String>,
    /// Direction.
    pub direction: Option<MessageDirection>,
    /// Sender.
    pub from: Option<String>,
    /// Recipient.
    pub to: Option<String>,
    /// Status.
    pub status: Option<MessageStatus>,
    /// Error code when failed or undelivered.
    pub error_code: Option<i64>,
    /// Error description.
    pub error_message: Option<String>,
    /// Price, as text.
    pub price: Option<String>,
    /// Currency of `price`.
    pub price_unit: Option<String>,
    /// Creation date (RFC 2822).
    pub date_created: Option<String>,
    /// Last update (RFC 2822).
    pub date_updated: Option<String>,
    /// When it was sent (RFC 2822).
    pub date_sent: Option<String>,
    /// API version.
    pub api_version: Option<String>,
    /// This resource's path.
    pub uri: Option<String>,
    /// Paths of sub-resources.
    pub subresource_uris: Option<BTreeMap<String, String>>,
}

/// A recording's metadata (`api.v2010.account.recording`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Recording {
    /// The recording's SID.
    pub sid: Option<RecordingSid>,
    /// The account that owns it.
    pub account_sid: Option<AccountSid>,
    /// The call it belongs to.
    pub call_sid: Option<CallSid>,
    /// The conference it belongs to (`CF…`).
    pub conference_sid: Option<String>,
    /// API version.
    pub api_version: Option<String>,
    /// Creation date (RFC 2822).
    pub date_created: Option<String>,
    /// Last update (RFC 2822).
    pub date_updated: Option<String>,
    /// Start of recording (RFC 2822).
    pub start_time: Option<String>,
    /// Length in seconds, as text.
    pub duration: Option<String>,
    /// Price, as text.
    pub price: Option<String>,
    /// Currency of `price`.
    pub price_unit: Option<String>,
    /// Status.
    pub status: Option<RecordingStatus>,
    /// Number of channels (1 or 2).
    pub channels: Option<i64>,
    /// How the recording was made.
    pub source: Option<RecordingSource>,
    /// Error code when failed.
    pub error_code: Option<i64>,
    /// This resource's path.
    pub uri: Option<String>,
    /// Encryption details, when the recording is encrypted.
    pub encryption_details: Option<serde_json::Value>,
    /// Paths of sub-resources.
    pub subresource_uris: Option<BTreeMap<String, String>>,
    /// URL of the media (without extension); pass it to
    /// [`TwilioClient::download_recording`](crate::TwilioClient::download_recording).
    pub media_url: Option<String>,
}
