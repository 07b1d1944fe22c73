// Lesson 10. The trait is the shape tonic-build generates for a
// server-streaming method: the response stream type must be `Send +
// 'static`. Here the buffer is the service's own, and the stream lends its
// bytes: `&self` lives only as long as the call, so rustc says "lifetime may
// not live long enough" (no error code).

// ANCHOR: case
use std::pin::Pin;

use futures::stream::{self, Stream};

pub struct Status;
pub struct Subscription;
pub struct Snapshot {
    pub seq: u64,
}

/// What tonic-build generates for `rpc Subscribe(Subscription) returns (stream Snapshot)`.
pub trait Feed: Send + Sync + 'static {
    type SubscribeStream: Stream<Item = Result<Snapshot, Status>> + Send + 'static;

    async fn subscribe(&self, request: Subscription) -> Result<Self::SubscribeStream, Status>;
}

pub struct SnapshotFeed {
    buf: Vec<u8>,
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<Snapshot, Status>> + Send>>;

impl Feed for SnapshotFeed {
    type SubscribeStream = SnapshotStream;

    async fn subscribe(&self, _request: Subscription) -> Result<Self::SubscribeStream, Status> {
        let records = self.buf.iter().map(|byte| Ok(Snapshot { seq: u64::from(*byte) }));
        Ok(Box::pin(stream::iter(records)))
    }
}
// ANCHOR_END: case

fn main() {}
