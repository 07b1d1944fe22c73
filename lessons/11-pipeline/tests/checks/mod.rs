//! What the pipeline promises, over real sockets: a real TCP client sends
//! frames, a real tonic client subscribes. Each file is one promise; a
//! failing test's name says which one is broken.
//!
//! The checks run on tokio's current-thread runtime with real time (sockets
//! and paused time do not mix: with nothing to do, a paused clock jumps
//! ahead while bytes are still on their way). Every wait is bounded by
//! [`within_real`]. No check sleeps to let a right design do something; a
//! few sleep to give a wrong design the time to do what it must not (read
//! on past its bounds), and say so.

mod back_pressure;
mod connections;
mod order;
mod plugins;
mod shutdown;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use lesson::{
    Config, FeedClient, HandlerError, Message, Pipeline, Plugin, RetryPolicy, Snapshot,
    Subscription, Summary, TOPIC,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use tonic::{Response, Streaming};

/// How long a check waits for one step, in real time, before calling it a
/// hang. Everything here takes milliseconds (a few hundred at most, in a
/// debug build on two cores).
pub const REAL_PATIENCE: Duration = Duration::from_secs(3);

/// Awaits `future`, or panics with `what` after [`REAL_PATIENCE`] of real
/// time. No check may hang.
async fn within_real<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(REAL_PATIENCE, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {REAL_PATIENCE:?} (real time) waiting for: {what}"),
    }
}

/// A config for the checks: no waits between retries worth the name.
fn config() -> Config {
    Config {
        retry: RetryPolicy {
            max_tries: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
        },
        ..Config::default()
    }
}

async fn start(config: Config) -> Pipeline {
    within_real("the pipeline to start", Pipeline::start(config))
        .await
        .expect("the pipeline binds two ports on 127.0.0.1")
}

/// Frame `n` of client `client`: its numbers, then `len - 8` bytes that
/// differ from frame to frame.
fn frame(client: u32, n: u32, len: usize) -> Vec<u8> {
    assert!(len >= 8);
    let mut bytes = Vec::with_capacity(len);
    bytes.extend_from_slice(&client.to_be_bytes());
    bytes.extend_from_slice(&n.to_be_bytes());
    bytes.extend((8..len).map(|i| (i as u32 ^ n ^ client.wrapping_mul(7)) as u8));
    bytes
}

/// The client and the number a frame says it is.
fn origin(payload: &[u8]) -> (u32, u32) {
    let client = u32::from_be_bytes(payload[0..4].try_into().unwrap());
    let n = u32::from_be_bytes(payload[4..8].try_into().unwrap());
    (client, n)
}

/// `frames` as they go on the wire: each after its length, a `u32`
/// big-endian (lesson 04's format).
fn wire(frames: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for frame in frames {
        bytes.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&frame);
    }
    bytes
}

async fn connect_ingest(pipeline: &Pipeline) -> TcpStream {
    within_real(
        "a connection to the ingest port",
        TcpStream::connect(pipeline.ingest_addr()),
    )
    .await
    .expect("the pipeline accepts connections")
}

/// A client on a task of its own: connects, writes `bytes`, and closes its
/// side. The task ends when all of it is written.
fn send(pipeline: &Pipeline, bytes: Vec<u8>) -> JoinHandle<()> {
    let addr = pipeline.ingest_addr();
    tokio::spawn(async move {
        let mut socket = TcpStream::connect(addr).await.expect("connects");
        socket.write_all(&bytes).await.expect("writes its frames");
        socket.shutdown().await.expect("closes its side");
        // Wait for the server to close too, so no byte is cut off by a reset.
        let mut rest = Vec::new();
        let _ = socket.read_to_end(&mut rest).await;
    })
}

/// `n` frames of `len` bytes from client `client`, sent on a task.
fn send_frames(pipeline: &Pipeline, client: u32, n: u32, len: usize) -> JoinHandle<()> {
    send(pipeline, wire((0..n).map(|i| frame(client, i, len))))
}

/// Completes when the server has closed `socket` (a clean close, or a
/// reset); anything it might send first is read and dropped.
async fn closed_by_server(socket: &mut TcpStream) {
    let mut buf = [0u8; 64];
    loop {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// HTTP/2 flow control, as the checks' client sets it: the server may send
/// at most this many bytes of one response that the client has not read
/// yet (65,535 is HTTP/2's own default; hyper's client asks for 2 MiB).
pub const STREAM_WINDOW: u32 = 65_535;

/// A tonic client, on a connection of its own, subscribed to the pipeline's
/// frames.
async fn subscribe(pipeline: &Pipeline) -> Streaming<Snapshot> {
    let endpoint =
        Endpoint::from_shared(format!("http://{}", pipeline.feed_addr())).expect("a valid address");
    subscribe_on(endpoint).await
}

/// A client like [`subscribe`]'s, with a small, fixed [`STREAM_WINDOW`]: a
/// few hundred snapshots it has not read stop the server sending.
async fn subscribe_with_small_window(pipeline: &Pipeline) -> Streaming<Snapshot> {
    let endpoint = Endpoint::from_shared(format!("http://{}", pipeline.feed_addr()))
        .expect("a valid address")
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(4 * STREAM_WINDOW)
        .http2_adaptive_window(false);
    subscribe_on(endpoint).await
}

async fn subscribe_on(endpoint: Endpoint) -> Streaming<Snapshot> {
    let channel: Channel = within_real("the gRPC client to connect", endpoint.connect())
        .await
        .expect("the feed accepts connections");
    let mut client = FeedClient::new(channel);
    let request = Subscription {
        device: TOPIC.to_owned(),
    };
    within_real("the answer to Subscribe", client.subscribe(request))
        .await
        .map(Response::into_inner)
        .expect("the feed publishes its topic")
}

/// The next `n` snapshots of `stream`.
async fn receive(stream: &mut Streaming<Snapshot>, n: usize) -> Vec<Snapshot> {
    let mut snapshots = Vec::with_capacity(n);
    while snapshots.len() < n {
        let what = format!("snapshot {} of {n}", snapshots.len() + 1);
        match within_real(&what, stream.message()).await {
            Ok(Some(snapshot)) => snapshots.push(snapshot),
            Ok(None) => panic!(
                "the stream ended after {} of {n} snapshots",
                snapshots.len()
            ),
            Err(status) => panic!(
                "the stream failed after {} of {n} snapshots: {status:?}",
                snapshots.len()
            ),
        }
    }
    snapshots
}

/// Asserts each client's frames are all there, once, in the order sent,
/// and that `seq` only grows.
fn assert_complete_and_in_order(snapshots: &[Snapshot], clients: &[(u32, u32)]) {
    let mut next: HashMap<u32, u32> = HashMap::new();
    let mut last_seq = None;
    for snapshot in snapshots {
        let (client, n) = origin(&snapshot.payload);
        let expected = next.entry(client).or_default();
        assert_eq!(
            n, *expected,
            "client {client}'s frames out of order, or one lost or repeated: \
             frame {n} arrived when frame {expected} was due"
        );
        *expected += 1;
        assert!(
            last_seq.is_none_or(|last| snapshot.seq > last),
            "seq {} after seq {last_seq:?}: seq numbers the frames in the order published",
            snapshot.seq
        );
        last_seq = Some(snapshot.seq);
    }
    for (client, count) in clients {
        assert_eq!(
            next.get(client).copied().unwrap_or(0),
            *count,
            "client {client}: {count} frames sent"
        );
    }
}

/// Polls the pipeline's summary until `done` says yes.
async fn until(pipeline: &Pipeline, what: &str, done: impl Fn(&Summary) -> bool) -> Summary {
    within_real(what, async {
        loop {
            let summary = pipeline.summary().await;
            if done(&summary) {
                return summary;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

/// How long nothing may change for the pipeline to count as quiet. A
/// wrong design that has work ready (a client waiting in the backlog, a
/// frame in a queue) does it in well under a millisecond.
const QUIET: Duration = Duration::from_millis(50);

/// Waits until the pipeline's summary has not changed for [`QUIET`], and
/// returns it: what the pipeline does when it is left alone.
async fn quiet(pipeline: &Pipeline) -> Summary {
    within_real("the pipeline to go quiet", async {
        let mut last = pipeline.summary().await;
        let mut since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let now = pipeline.summary().await;
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= QUIET {
                return now;
            }
        }
    })
    .await
}

/// What a test plugin saw: every message it acknowledged, in order.
type Seen = Arc<Mutex<Vec<Message>>>;

/// Acknowledges everything, and records it.
struct Recorder {
    name: &'static str,
    seen: Seen,
}

impl Recorder {
    fn new(name: &'static str) -> (Self, Seen) {
        let seen = Seen::default();
        let recorder = Recorder {
            name,
            seen: Arc::clone(&seen),
        };
        (recorder, seen)
    }
}

impl Plugin for Recorder {
    fn name(&self) -> &str {
        self.name
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        Box::pin(async move {
            self.seen.lock().unwrap().push(message);
            Ok(())
        })
    }
}

/// Lets a message through only with a permit: a plugin the check can hold
/// up and let go. Records what it acknowledged.
struct Gated {
    name: &'static str,
    gate: Arc<Semaphore>,
    seen: Seen,
}

impl Gated {
    /// A plugin behind a closed gate: open it with `gate.add_permits(n)`.
    fn new(name: &'static str) -> (Self, Arc<Semaphore>, Seen) {
        let gate = Arc::new(Semaphore::new(0));
        let seen = Seen::default();
        let plugin = Gated {
            name,
            gate: Arc::clone(&gate),
            seen: Arc::clone(&seen),
        };
        (plugin, gate, seen)
    }
}

impl Plugin for Gated {
    fn name(&self) -> &str {
        self.name
    }

    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>> {
        Box::pin(async move {
            self.gate.acquire().await.expect("the gate stays").forget();
            self.seen.lock().unwrap().push(message);
            Ok(())
        })
    }
}

fn ids(seen: &Seen) -> Vec<u64> {
    seen.lock().unwrap().iter().map(|m| m.id).collect()
}
