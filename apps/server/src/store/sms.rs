//! Inbound and outbound SMS messages, listed per phone number.
