//! # Lesson 10, reference solution: a worker owns the session
//!
//! tonic keeps a response stream for as long as the client reads it, on a
//! task of its own, long after `subscribe` has returned: the generated trait
//! asks for `Stream + Send + 'static`. So the stream may borrow nothing,
//! neither the service (`&self`) nor a local session. Each subscription gets
//! a worker task that owns the session: the upstream connection and the
//! buffer it is read into. The worker cuts each record off the front of the
//! buffer as a `Bytes` (an owned view of the memory the upstream wrote, not
//! a copy) and sends it down a bounded channel; the response stream is the
//! channel's receiving end, which owns everything it holds.
#![forbid(unsafe_code)]

mod wire;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

pub use wire::feed_client::FeedClient;
pub use wire::feed_server::{Feed, FeedServer};
pub use wire::{Snapshot, Subscription, WireCodec};

/// How many snapshots may wait for a slow client unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 64;

/// How many bytes a session asks its upstream for at a time (more when a
/// record is longer).
const READ_SIZE: usize = 16 * 1024;

/// The least room a read is given. `reserve` makes a new buffer only when
/// the one it has is left with less, not at every read while snapshots
/// still share it.
const MIN_READ: usize = 4096;

/// The gRPC service: one subscription per call, each on an upstream of its
/// own from `connect`, which gets the device's name (`None`: no such
/// device).
pub struct SnapshotFeed<C> {
    connect: C,
    record_len: usize,
    capacity: usize,
}

impl<C> SnapshotFeed<C> {
    /// A feed of records of `record_len` bytes (at least 1).
    pub fn new(record_len: usize, connect: C) -> Self {
        assert!(record_len > 0, "a record has at least one byte");
        SnapshotFeed {
            connect,
            record_len,
            capacity: DEFAULT_CAPACITY,
        }
    }

    /// At most `capacity` (at least 1) snapshots of a subscription wait in
    /// the server for a client that reads slowly.
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }
}

// ANCHOR: subscribe
#[tonic::async_trait]
impl<C, R> Feed for SnapshotFeed<C>
where
    C: Fn(&str) -> Option<R> + Send + Sync + 'static,
    R: AsyncRead + Unpin + Send + 'static,
{
    /// Owns its channel's receiving end and nothing else: no lifetime to
    /// name, so it meets tonic's `'static`.
    type SubscribeStream = ReceiverStream<Result<Snapshot, Status>>;

    async fn subscribe(
        &self,
        request: Request<Subscription>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let device = request.into_inner().device;
        let Some(upstream) = (self.connect)(&device) else {
            return Err(Status::not_found(format!("no device named {device:?}")));
        };
        let session = Session {
            upstream,
            buf: BytesMut::with_capacity(READ_SIZE.max(self.record_len)),
            record_len: self.record_len,
            next_seq: 0,
        };
        // Bounded: a client that stops reading fills the channel, `send`
        // waits, and the worker stops reading its upstream.
        let (tx, rx) = mpsc::channel(self.capacity);
        // The task owns the session; `subscribe` borrows nothing it keeps.
        tokio::spawn(session.run(tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
// ANCHOR_END: subscribe

/// One subscription: the device's connection and the buffer it is read into.
struct Session<R> {
    upstream: R,
    buf: BytesMut,
    record_len: usize,
    next_seq: u64,
}

impl<R> Session<R>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    // ANCHOR: worker
    /// The worker: reads, cuts records, sends them, until the upstream
    /// ends or fails, or the client goes away.
    async fn run(mut self, tx: mpsc::Sender<Result<Snapshot, Status>>) {
        loop {
            while self.buf.len() >= self.record_len {
                // A view of the front of the buffer, sharing its memory:
                // the record is not copied.
                let payload = self.buf.split_to(self.record_len).freeze();
                let snapshot = Snapshot {
                    seq: self.next_seq,
                    payload,
                };
                self.next_seq += 1;
                if tx.send(Ok(snapshot)).await.is_err() {
                    return; // the response stream was dropped
                }
            }
            // Room for a read, and for the rest of the unfinished record:
            // nothing happens while the buffer has that much left, so one
            // buffer serves many reads. Only the unfinished record at its
            // end can be moved by this, never a record a snapshot holds
            // (lesson 03 draws it).
            let room = MIN_READ.max(self.record_len.saturating_sub(self.buf.len()));
            self.buf.reserve(room);
            let read = tokio::select! {
                read = self.upstream.read_buf(&mut self.buf) => read,
                // tonic drops the response stream when the client goes
                // away; a silent upstream must not keep the worker (and the
                // connection) alive after that.
                () = tx.closed() => return,
            };
            let status = match read {
                Ok(0) if self.buf.is_empty() => return, // a clean end
                Ok(0) => {
                    let missing = self.record_len - self.buf.len();
                    Status::data_loss(format!(
                        "the upstream ended inside a record: {missing} bytes missing"
                    ))
                }
                Ok(_) => continue,
                Err(error) => Status::unavailable(format!("reading the upstream failed: {error}")),
            };
            // The stream ends with why, after the records before it.
            let _ = tx.send(Err(status)).await;
            return;
        }
    }
    // ANCHOR_END: worker
}
