//! # Lesson 09, reference solution: the API layer sees only owned data
//!
//! A schema is shared by every request and kept for as long as the server
//! runs, and `Schema::execute_stream` returns a `BoxStream<'static, _>`: so
//! whatever the schema keeps, in its roots or in its data, may hold no
//! borrow. The schema keeps a handle to the log (an `Arc` inside). Each
//! subscription clones that handle into a worker task of its own, which
//! copies one message at a time out of the log into an owned `MessageDto`
//! and sends it down a bounded channel: a subscriber that does not read
//! stops the worker, and one that leaves ends it.
#![forbid(unsafe_code)]

mod log;

use async_graphql::{Context, EmptyMutation, Object, Schema, SimpleObject, Subscription};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

pub use crate::log::MessageLog;

/// At most this many messages wait for a subscriber that does not read.
pub const SUBSCRIBER_QUEUE: usize = 16;

/// One message, as a subscriber receives it. It owns its text: it crosses
/// a channel from a worker task, and the response is built from it later,
/// on whatever task polls the subscription.
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
        ctx.data_unchecked::<MessageLog>().len()
    }
}

// ANCHOR: build_schema
/// The schema, serving `log`.
pub fn build_schema(log: &MessageLog) -> FeedSchema {
    Schema::build(QueryRoot, EmptyMutation, SubscriptionRoot)
        // The schema keeps its data as `Box<dyn Any + Send + Sync>` for as
        // long as it lives, so the data must own what it holds: a clone of
        // the handle, not a borrow of the caller's.
        .data(log.clone())
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
        // The context lends `&MessageLog` for this call; the worker outlives
        // the call, so it gets a handle of its own (and `topic`, by move).
        let log = ctx.data_unchecked::<MessageLog>().clone();
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        tokio::spawn(forward(log, topic, tx));
        ReceiverStream::new(rx)
    }
}
// ANCHOR_END: subscription

// ANCHOR: worker
/// The worker of one subscription: copies the messages of `topic` out of
/// the log, one at a time, and sends them, until the log is closed or the
/// subscriber is gone.
async fn forward(log: MessageLog, topic: String, tx: mpsc::Sender<MessageDto>) {
    let mut seq = 0;
    loop {
        let arrived = tokio::select! {
            // The subscriber first: one who left as messages came is seen
            // before another message is copied out for nobody.
            biased;
            // Waiting for the next message, the worker would never try a
            // `send` and so never learn that the subscriber left.
            () = tx.closed() => return,
            arrived = log.wait_for(seq) => arrived,
        };
        if !arrived {
            return; // closed: dropping `tx` ends the subscriber's stream
        }
        let Some(message) = log.get(seq) else { return };
        seq += 1;
        // A full queue makes `send` wait: the worker copies no more than
        // the subscriber takes, plus the queue.
        if message.topic == topic && tx.send(message).await.is_err() {
            return; // the response stream was dropped
        }
    }
}
// ANCHOR_END: worker
