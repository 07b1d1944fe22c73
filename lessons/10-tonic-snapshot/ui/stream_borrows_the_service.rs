// Lesson 10: a response stream that lends the service's own buffer, against
// tonic's real `Feed` trait (the one tonic-build 0.14.9 generates from this
// lesson's build.rs; this case gets it from the reference solution's build,
// which has the same build.rs and src/wire.rs). `#[async_trait]` names the
// lifetime of `&self` `'life0`, and tonic's `'static` on `SubscribeStream`
// asks it to outlive everything: "lifetime may not live long enough".
// Recorded by `cargo test -p solution-10-tonic-snapshot --test tonic_diagnostics`.
use std::pin::Pin;

use bytes::Bytes;
use futures::stream::{self, Stream};
use solution_10_tonic_snapshot::{Feed, Snapshot, Subscription};
use tonic::{Request, Response, Status};

pub struct SnapshotFeed {
    /// Records of 2 bytes, one after the other.
    buf: Vec<u8>,
}

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<Snapshot, Status>> + Send>>;

#[tonic::async_trait]
impl Feed for SnapshotFeed {
    type SubscribeStream = SnapshotStream;

    async fn subscribe(
        &self,
        _request: Request<Subscription>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let records = self.buf.chunks(2).enumerate().map(|(seq, record)| {
            let payload = Bytes::copy_from_slice(record);
            Ok(Snapshot { seq: seq as u64, payload })
        });
        Ok(Response::new(Box::pin(stream::iter(records))))
    }
}

fn main() {}
