//! Full-call recordings and their post-call transcripts.
