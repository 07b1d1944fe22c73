// Lesson 10, the starter's shape against tonic's real `Feed` trait: the one
// tonic-build 0.14.9 generates from this lesson's build.rs (this case gets
// it from the reference solution's build, which has the same build.rs and
// src/wire.rs). The stream type names the lifetime `'s` of the session it
// borrows; tonic's `'static` on `SubscribeStream` refuses it (E0477), `'s`
// is tied to nothing (E0207), and the stream borrows a local (E0515).
// Recorded by `cargo test -p solution-10-tonic-snapshot --test tonic_diagnostics`.
use std::pin::Pin;

use bytes::Bytes;
use futures::stream::{self, Stream};
use solution_10_tonic_snapshot::{Feed, Snapshot, Subscription};
use tonic::{Request, Response, Status};

struct Session {
    buf: Vec<u8>,
}

impl Session {
    fn records(&mut self) -> impl Stream<Item = Result<Snapshot, Status>> + Send + '_ {
        stream::iter(self.buf.chunks(2).enumerate().map(|(seq, record)| {
            let payload = Bytes::copy_from_slice(record);
            Ok(Snapshot { seq: seq as u64, payload })
        }))
    }
}

pub struct SnapshotFeed;

type SnapshotStream<'s> = Pin<Box<dyn Stream<Item = Result<Snapshot, Status>> + Send + 's>>;

#[tonic::async_trait]
impl<'s> Feed for SnapshotFeed {
    type SubscribeStream = SnapshotStream<'s>;

    async fn subscribe(
        &self,
        _request: Request<Subscription>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let mut session = Session { buf: vec![1, 2, 3, 4] };
        Ok(Response::new(Box::pin(session.records())))
    }
}

fn main() {}
