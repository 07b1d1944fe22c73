//! # Lesson 09: what a GraphQL schema keeps, and what a subscription may borrow
//!
//! The API layer of the pipeline: an async-graphql schema whose one
//! subscription, `messages(topic)`, streams the messages of a topic from the
//! pipeline's log (`src/log.rs`, given), the old ones first, then each new
//! one as it is appended, until the log is closed.
//!
//! This code does not compile. Run `cargo test` in this folder and read the
//! error; the chapter is `book/src/09-graphql-dto.md`, and `cargo run --
//! hint 09` at the root gives one hint at a time. When it compiles, the
//! checks in `tests/` say what a subscription must also promise: messages in
//! order, a subscriber that stops reading stops the copying, and one that
//! leaves takes its work with it.
//!
//! Change this file as you like; keep its public API (`build_schema`,
//! `FeedSchema`, `QueryRoot`, `SubscriptionRoot` and its `messages` field,
//! `MessageDto`, `SUBSCRIBER_QUEUE`, `MessageLog`), which is what the checks
//! use. Leave `src/log.rs` as it is: the checks count what is copied out of
//! the log through it.
#![forbid(unsafe_code)]

mod log;

use async_graphql::{Context, EmptyMutation, Object, Schema, SimpleObject, Subscription};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

pub use crate::log::MessageLog;

/// At most this many messages wait for a subscriber that does not read.
pub const SUBSCRIBER_QUEUE: usize = 16;

/// One message, as a subscriber receives it.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub struct MessageDto {
    pub seq: u64,
    pub topic: String,
    pub text: String,
}

/// The schema the server serves: queries, no mutations, one subscription.
pub type FeedSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// How many messages the log holds.
    async fn count(&self, ctx: &Context<'_>) -> u64 {
        ctx.data_unchecked::<&MessageLog>().len()
    }
}

// ANCHOR: build_schema
/// The schema, serving `log`.
pub fn build_schema(log: &MessageLog) -> FeedSchema {
    Schema::build(QueryRoot, EmptyMutation, SubscriptionRoot)
        // The resolvers read the log through the context. It is right
        // there, so they can borrow it.
        .data(log)
        .finish()
}
// ANCHOR_END: build_schema

pub struct SubscriptionRoot;

// ANCHOR: subscription
#[Subscription]
impl SubscriptionRoot {
    /// Every message of `topic`, oldest first, then each new one as it is
    /// appended, until the log is closed.
    async fn messages(&self, ctx: &Context<'_>, topic: String) -> impl Stream<Item = MessageDto> {
        let log: &MessageLog = ctx.data_unchecked::<&MessageLog>();
        let (tx, rx) = mpsc::unbounded_channel();
        // A worker forwards the log to the subscriber, as messages arrive.
        tokio::spawn(async move {
            let mut forwarded = 0;
            loop {
                // Owned copies, since they go through a channel.
                let messages = log.snapshot();
                for message in &messages[forwarded..] {
                    if message.topic == topic {
                        let _ = tx.send(message.clone());
                    }
                }
                forwarded = messages.len();
                if !log.wait_for(forwarded as u64).await {
                    return; // the log is closed
                }
            }
        });
        UnboundedReceiverStream::new(rx)
    }
}
// ANCHOR_END: subscription
