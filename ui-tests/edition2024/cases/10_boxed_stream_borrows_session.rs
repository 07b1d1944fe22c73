// Lesson 10. The trait is the shape tonic-build generates for a
// server-streaming method (without tonic's `Request`/`Response` wrappers and
// `#[async_trait]`): the response stream type must be `Send + 'static`. The
// stream type is tonic's examples' boxed `dyn Stream + Send`, which names no
// lifetime, and the stream borrows a session made inside `subscribe`: E0515.

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

struct Session {
    buf: Vec<u8>,
}

impl Session {
    fn records(&mut self) -> impl Stream<Item = Result<Snapshot, Status>> + Send + '_ {
        stream::iter(self.buf.iter().map(|byte| Ok(Snapshot { seq: u64::from(*byte) })))
    }
}

pub struct SnapshotFeed;

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<Snapshot, Status>> + Send>>;

impl Feed for SnapshotFeed {
    type SubscribeStream = SnapshotStream;

    async fn subscribe(&self, _request: Subscription) -> Result<Self::SubscribeStream, Status> {
        let mut session = Session { buf: vec![1, 2, 3] };
        Ok(Box::pin(session.records()))
    }
}
// ANCHOR_END: case

fn main() {}
