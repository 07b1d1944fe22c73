//! Lesson 10: the reference `SnapshotFeed` (a worker per subscription owns
//! the upstream and its buffer; records go out as `Bytes` views over a
//! bounded channel) served by tonic on 127.0.0.1 and read by a tonic client
//! in the same process: snapshots per second at 256 bytes. Against the same
//! server and client with a response stream of ready-made snapshots (no
//! upstream, no worker, no channel): what tonic, HTTP/2 and loopback TCP
//! cost on their own, the floor under any design.
//!
//! The server runs on a thread of its own (a current-thread runtime), the
//! client on the bench's thread: two cores, one process.

use std::io::Cursor;
use std::pin::Pin;
use std::sync::Arc;
use std::thread;

use benches::{mean_ns, print_ratios};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use futures::{Stream, StreamExt as _};
use solution_10_tonic_snapshot::{
    Feed, FeedClient, FeedServer, Snapshot, SnapshotFeed, Subscription,
};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};

const GROUP: &str = "tonic_snapshots";
const RECORD_LEN: usize = 256;
const PARAMETER: &str = "256B";
/// Snapshots per subscription: 25.6 MB of records.
const RECORDS: usize = 100_000;
/// The target for the feed on a 2-core machine.
const TARGET_PER_SECOND: f64 = 0.8e6;

/// Snapshots that exist before anyone subscribes: the response stream only
/// hands out clones (a reference count each).
struct ReadyMade {
    snapshots: Arc<Vec<Snapshot>>,
}

#[tonic::async_trait]
impl Feed for ReadyMade {
    type SubscribeStream = Pin<Box<dyn Stream<Item = Result<Snapshot, Status>> + Send>>;

    async fn subscribe(
        &self,
        _request: Request<Subscription>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let snapshots = Arc::clone(&self.snapshots);
        let stream =
            futures::stream::iter(0..snapshots.len()).map(move |n| Ok(snapshots[n].clone()));
        Ok(Response::new(Box::pin(stream)))
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Serves `feed` on 127.0.0.1 from a thread of its own until the returned
/// sender is dropped; returns the address to connect to.
fn serve<F: Feed>(feed: F) -> (String, oneshot::Sender<()>, thread::JoinHandle<()>) {
    let (shutdown, signal) = oneshot::channel::<()>();
    let (address, listening) = std::sync::mpsc::channel();
    let server = thread::spawn(move || {
        runtime().block_on(async move {
            let incoming = TcpIncoming::bind("127.0.0.1:0".parse().expect("an address"))
                .expect("a free port on 127.0.0.1");
            let addr = incoming.local_addr().expect("the listener's address");
            address
                .send(format!("http://{addr}"))
                .expect("the bench waits");
            Server::builder()
                .serve_with_incoming_shutdown(FeedServer::new(feed), incoming, async {
                    let _ = signal.await;
                })
                .await
                .expect("the server runs");
        })
    });
    let address = listening.recv().expect("the server starts");
    (address, shutdown, server)
}

/// One subscription, read to its end; returns how many snapshots came.
async fn subscribe_all(client: &mut FeedClient<Channel>) -> usize {
    let request = Subscription {
        device: "bench".to_owned(),
    };
    let mut stream = client
        .subscribe(request)
        .await
        .expect("a subscription")
        .into_inner();
    let mut count = 0;
    while let Some(snapshot) = stream.message().await.expect("no error") {
        std::hint::black_box(snapshot);
        count += 1;
    }
    count
}

fn bench_design<F: Feed>(c: &mut Criterion, function: &str, feed: F) {
    let (address, shutdown, server) = serve(feed);
    let client_runtime = runtime();
    let mut client = client_runtime.block_on(async {
        FeedClient::connect(address)
            .await
            .expect("the client connects")
    });
    let mut group = c.benchmark_group(GROUP);
    group.sample_size(10);
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function(BenchmarkId::new(function, PARAMETER), |b| {
        b.iter(|| assert_eq!(client_runtime.block_on(subscribe_all(&mut client)), RECORDS))
    });
    group.finish();
    // The client's connection lives on its runtime: dropping both closes
    // it, and the server's graceful shutdown waits for that.
    drop(client);
    drop(client_runtime);
    drop(shutdown);
    server.join().expect("the server thread ends");
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let input: Bytes = (0..RECORDS)
        .flat_map(|n| (0..RECORD_LEN).map(move |i| (n + i) as u8))
        .collect::<Vec<u8>>()
        .into();

    let upstream = input.clone();
    let feed = SnapshotFeed::new(RECORD_LEN, move |_: &str| {
        Some(Cursor::new(upstream.clone()))
    });
    bench_design(&mut criterion, "feed", feed);

    let snapshots = (0..RECORDS)
        .map(|n| Snapshot {
            seq: n as u64,
            payload: input.slice(n * RECORD_LEN..(n + 1) * RECORD_LEN),
        })
        .collect();
    let ready_made = ReadyMade {
        snapshots: Arc::new(snapshots),
    };
    bench_design(&mut criterion, "ready_made", ready_made);

    criterion.final_summary();
    print_ratios(GROUP, "feed", "ready_made", &[PARAMETER]);
    for function in ["feed", "ready_made"] {
        if let Some(ns) = mean_ns(GROUP, function, PARAMETER) {
            let per_second = RECORDS as f64 / (ns * 1e-9);
            println!(
                "{GROUP}/{PARAMETER}: {function} streams {:.2} M snapshots/s over loopback \
                 (target for the feed: {:.1} M/s)",
                per_second / 1e6,
                TARGET_PER_SECOND / 1e6,
            );
        }
    }
}
