// Lesson 10, the starter's shape. The trait is the shape tonic-build
// generates for a server-streaming method: the response stream type must be
// `Send + 'static`. The stream type names the lifetime `'s` of the session
// it borrows: tonic's `'static` refuses it (E0477), `'s` is tied to nothing
// (E0207), and the stream borrows a local of `subscribe` (E0515).

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

type SnapshotStream<'s> = Pin<Box<dyn Stream<Item = Result<Snapshot, Status>> + Send + 's>>;

impl<'s> Feed for SnapshotFeed {
    type SubscribeStream = SnapshotStream<'s>;

    async fn subscribe(&self, _request: Subscription) -> Result<Self::SubscribeStream, Status> {
        let mut session = Session { buf: vec![1, 2, 3] };
        Ok(Box::pin(session.records()))
    }
}
// ANCHOR_END: case

fn main() {}
