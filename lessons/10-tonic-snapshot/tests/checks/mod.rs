//! What a gRPC snapshot feed promises. Each file is one promise; a failing
//! test's name says which one is broken.
//!
//! Two kinds of checks. Those in `order`, `back_pressure` and `disconnect`
//! start a real tonic server on 127.0.0.1 (port 0: any free port) and talk
//! to it with a real tonic client, on tokio's current-thread runtime with
//! real time: sockets and paused time do not mix (with nothing to do, a
//! paused clock jumps ahead while bytes are still on their way). Every wait
//! there is bounded by [`within_real`], and no check sleeps to let things
//! happen: each waits for an event (a message, a dropped upstream) or
//! counts events (another subscription's messages). Those in `zero_copy`,
//! `queue`, `cancellation` and `owned` call `Feed::subscribe` directly, with paused
//! time, as lesson 03's checks do.

mod back_pressure;
mod cancellation;
mod disconnect;
mod order;
mod owned;
mod queue;
mod zero_copy;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use lesson::{Feed, FeedClient, FeedServer, Snapshot, SnapshotFeed, Subscription};
use lesson_support::{ReaderProbe, ScriptedReader, Then};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::oneshot;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status, Streaming};

/// How long a check over a real socket waits for one step, in real time,
/// before calling it a hang. Everything here takes milliseconds.
pub const REAL_PATIENCE: Duration = Duration::from_secs(10);

/// Awaits `future`, or panics with `what` after [`REAL_PATIENCE`] of real
/// time. No check may hang.
async fn within_real<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(REAL_PATIENCE, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {REAL_PATIENCE:?} (real time) waiting for: {what}"),
    }
}

/// Record `n` of a device: `len` bytes that differ from its neighbours'.
fn record(n: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (n.wrapping_mul(31).wrapping_add(i) % 251) as u8)
        .collect()
}

/// An upstream connection of `count` records of `len` bytes, one record
/// per read, then `then`.
fn records_upstream(count: usize, len: usize, then: Then) -> Upstream {
    Upstream::new(ScriptedReader::new(
        (0..count).map(|n| record(n, len)),
        then,
    ))
}

/// An upstream connection (a [`ScriptedReader`]) that also tells, as an
/// event a check can await, when it is dropped: when the feed's worker
/// has stopped and let go of it.
pub struct Upstream {
    reader: ScriptedReader,
    probe: Arc<ReaderProbe>,
    on_drop: Option<oneshot::Sender<()>>,
    dropped: Option<oneshot::Receiver<()>>,
}

impl Upstream {
    fn new((reader, probe): (ScriptedReader, Arc<ReaderProbe>)) -> Self {
        let (on_drop, dropped) = oneshot::channel();
        Upstream {
            reader,
            probe,
            on_drop: Some(on_drop),
            dropped: Some(dropped),
        }
    }

    /// Reads counted, addresses written, dropped or not.
    fn probe(&self) -> Arc<ReaderProbe> {
        Arc::clone(&self.probe)
    }

    /// Completes when this upstream is dropped (call before handing it over).
    fn dropped(&mut self) -> impl Future<Output = ()> + use<> {
        let dropped = self.dropped.take().expect("dropped() is called once");
        async move {
            let _ = dropped.await;
        }
    }
}

impl AsyncRead for Upstream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, out)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(on_drop) = self.on_drop.take() {
            let _ = on_drop.send(());
        }
    }
}

/// The devices a check's feed can connect to: `connect` hands out the next
/// upstream given for the named device (each once, in the order given),
/// `None` when it has none left or for any other name.
#[derive(Clone, Default)]
struct Devices(Arc<Mutex<HashMap<String, VecDeque<Upstream>>>>);

impl Devices {
    /// Adds an upstream for `name`: for its next subscription, or, if
    /// `name` already has one, for the one after.
    fn with(self, name: &str, upstream: Upstream) -> Self {
        self.0
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default()
            .push_back(upstream);
        self
    }

    /// A feed of `record_len`-byte records over these devices.
    fn feed(
        &self,
        record_len: usize,
    ) -> SnapshotFeed<impl Fn(&str) -> Option<Upstream> + Send + Sync + 'static + use<>> {
        // `use<>`: the feed holds a clone of the devices, not a borrow.
        let devices = self.clone();
        SnapshotFeed::new(record_len, move |name: &str| {
            devices.0.lock().unwrap().get_mut(name)?.pop_front()
        })
    }
}

/// A feed served on 127.0.0.1 until this value is dropped.
struct Served {
    addr: SocketAddr,
    _shutdown: oneshot::Sender<()>,
}

/// Serves `feed` with tonic on a free port of 127.0.0.1, on this runtime.
async fn serve<F: Feed>(feed: F) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port on 127.0.0.1");
    let addr = listener.local_addr().expect("the listener's address");
    let (shutdown, signal) = oneshot::channel::<()>();
    // `serve_with_incoming` ignores the builder's `tcp_nodelay`: without it
    // on the accepted sockets, a small response waits for the client's
    // delayed ACK (40 ms of real time, every time).
    tokio::spawn(Server::builder().serve_with_incoming_shutdown(
        FeedServer::new(feed),
        TcpIncoming::from(listener).with_nodelay(Some(true)),
        async {
            let _ = signal.await;
        },
    ));
    Served {
        addr,
        _shutdown: shutdown,
    }
}

/// HTTP/2 flow control, as the checks' client sets it: the server may send
/// at most this many bytes of one response that the client has not read
/// yet (65,535 is HTTP/2's own default; hyper's client asks for 2 MiB).
pub const STREAM_WINDOW: u32 = 65_535;

/// A tonic client on its own connection to `served`, with a fixed
/// [`STREAM_WINDOW`] (and no adaptive window, which would grow it).
async fn connect(served: &Served) -> FeedClient<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{}", served.addr))
        .expect("a valid address")
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(4 * STREAM_WINDOW)
        .http2_adaptive_window(false);
    let channel = within_real("the client to connect", endpoint.connect())
        .await
        .expect("the client connects to the server");
    FeedClient::new(channel)
}

/// Calls `Subscribe` for `device` over the network.
async fn subscribe(
    client: &mut FeedClient<Channel>,
    device: &str,
) -> Result<Streaming<Snapshot>, Status> {
    let request = Subscription {
        device: device.to_owned(),
    };
    within_real("the response to Subscribe", client.subscribe(request))
        .await
        .map(Response::into_inner)
}

/// Reads the next message of `stream`.
async fn next(stream: &mut Streaming<Snapshot>) -> Result<Option<Snapshot>, Status> {
    within_real("the next snapshot", stream.message()).await
}

/// Reads `stream` to its end: the snapshots, then how it ended.
async fn drain(stream: &mut Streaming<Snapshot>) -> (Vec<Snapshot>, Result<(), Status>) {
    let mut snapshots = Vec::new();
    loop {
        match next(stream).await {
            Ok(Some(snapshot)) => snapshots.push(snapshot),
            Ok(None) => return (snapshots, Ok(())),
            Err(status) => return (snapshots, Err(status)),
        }
    }
}

/// Asserts that `snapshots` are records `0..` of `len` bytes, in order.
fn assert_in_order(snapshots: &[Snapshot], len: usize) {
    for (n, snapshot) in snapshots.iter().enumerate() {
        assert_eq!(
            snapshot.seq, n as u64,
            "snapshot {n} has seq {}",
            snapshot.seq
        );
        assert!(
            snapshot.payload[..] == record(n, len)[..],
            "snapshot {n} does not hold record {n} of the upstream"
        );
    }
}

/// Calls `subscribe` on `feed` directly, without a network: the response
/// stream as tonic would get it.
async fn subscribe_directly<F: Feed>(feed: &F, device: &str) -> Result<F::SubscribeStream, Status> {
    let request = Request::new(Subscription {
        device: device.to_owned(),
    });
    feed.subscribe(request).await.map(Response::into_inner)
}
