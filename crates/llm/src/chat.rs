//! The provider trait.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

use crate::{Error, Message, Provider, Reply};

/// A stream of reply text fragments (tokens, roughly), in order.
///
/// The stream ends after the last fragment when the provider signalled the end of the reply.
/// If anything goes wrong — including a stream that is cut off before the provider said it was
/// done — the last item is an `Err`, so a truncated reply is never mistaken for a complete one.
pub type TokenStream<'a> = BoxStream<'a, Result<String, Error>>;

/// A chat model: answers a conversation, whole or as a token stream.
///
/// `messages` is the conversation so far: optional system message(s) first, then the history,
/// usually ending with the caller's latest [`Role::User`](crate::Role::User) message (see
/// [`Conversation::messages`](crate::Conversation::messages)).
///
/// The trait is object-safe (`Arc<dyn ChatModel>`, `Box<dyn ChatModel>` implement it too).
/// Futures and streams are cancel-safe: dropping one aborts the HTTP request and leaves the
/// model usable for the next call.
pub trait ChatModel: Send + Sync {
    /// Which provider this is (for logs and metrics).
    fn provider(&self) -> Provider;

    /// The complete reply.
    fn reply<'a>(&'a self, messages: &'a [Message]) -> BoxFuture<'a, Result<Reply, Error>>;

    /// The reply as a stream of text fragments.
    fn reply_stream<'a>(&'a self, messages: &'a [Message]) -> TokenStream<'a>;
}

macro_rules! forward_chat_model {
    ($($ty:ty),*) => {$(
        impl<T: ChatModel + ?Sized> ChatModel for $ty {
            fn provider(&self) -> Provider {
                (**self).provider()
            }

            fn reply<'a>(&'a self, messages: &'a [Message]) -> BoxFuture<'a, Result<Reply, Error>> {
                (**self).reply(messages)
            }

            fn reply_stream<'a>(&'a self, messages: &'a [Message]) -> TokenStream<'a> {
                (**self).reply_stream(messages)
            }
        }
    )*};
}

forward_chat_model!(Box<T>, Arc<T>, &T);
