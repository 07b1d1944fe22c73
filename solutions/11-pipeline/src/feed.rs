//! The gRPC side: lesson 10's `snapshots.Feed` service, served from the
//! pipeline. A subscription is a bounded channel the loop sends owned
//! snapshots into; the response stream is its receiving end, so it borrows
//! nothing and meets tonic's `'static`.

use solution_10_tonic_snapshot::{Feed, FeedServer};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::event_loop::Subscription as Registration;
use crate::{Snapshot, Subscription, TOPIC};

pub(crate) struct PipelineFeed {
    subscriptions: mpsc::Sender<Registration>,
    capacity: usize,
}

impl PipelineFeed {
    pub(crate) fn new(subscriptions: mpsc::Sender<Registration>, capacity: usize) -> Self {
        PipelineFeed {
            subscriptions,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn into_server(self) -> FeedServer<Self> {
        FeedServer::new(self)
    }
}

// ANCHOR: subscribe
#[tonic::async_trait]
impl Feed for PipelineFeed {
    type SubscribeStream = ReceiverStream<Result<Snapshot, Status>>;

    async fn subscribe(
        &self,
        request: Request<Subscription>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let topic = request.into_inner().device;
        if topic != TOPIC {
            return Err(Status::not_found(format!(
                "no topic named {topic:?}: the pipeline publishes {TOPIC:?}"
            )));
        }
        let (tx, rx) = mpsc::channel(self.capacity);
        let (registered, is_registered) = oneshot::channel();
        let closed = || Status::unavailable("the pipeline is shutting down");
        self.subscriptions
            .send((tx, registered))
            .await
            .map_err(|_| closed())?;
        // Answer once the loop has the subscriber: every frame published
        // after this call returns reaches it.
        is_registered.await.map_err(|_| closed())?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
// ANCHOR_END: subscribe
