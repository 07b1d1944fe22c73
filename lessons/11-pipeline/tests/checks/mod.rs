//! What the pipeline promises, over real sockets: a real TCP client sends
//! frames, a real tonic client subscribes. Each file is one promise; a
//! failing test's name says which one is broken.
//!
//! The checks run on tokio's current-thread runtime with real time (sockets
//! and paused time do not mix: with nothing to do, a paused clock jumps
//! ahead while bytes are still on their way). No wait has a fixed time
//! limit: [`watched`] fails a wait once what it watches (the pipeline's
//! counters, a test plugin's, or the wait itself) has not moved for
//! [`STALL`], so a pipeline that stops fails in a quarter of a second, and
//! one that is slow but getting somewhere is given the time. No check
//! sleeps to let a right design do something; the checks of bounds wait
//! for the pipeline to go [`quiet`], to give a wrong design the time to do
//! what it must not (read on past its bounds).

mod back_pressure;
mod connections;
mod order;
mod over_time;
mod plugins;
mod shutdown;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt;
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

/// How long nothing may move before a wait is called a stall. A right
/// pipeline here moves every millisecond or so while it has work; one that
/// has stopped does not move again.
pub const STALL: Duration = Duration::from_millis(250);

/// How often a wait looks at what moved.
const TICK: Duration = Duration::from_millis(20);

/// The longest any one wait may take, moving or not: a pipeline that stays
/// busy and never gets there (retrying for ever, say) fails too.
pub const CEILING: Duration = Duration::from_secs(5);

/// What a wait looks at to tell a pipeline that is getting somewhere from
/// one that has stopped.
#[derive(Clone, Copy)]
enum Look<'a> {
    /// The pipeline's counters, as its loop reports them.
    Pipeline(&'a Pipeline),
    /// What a test plugin has handled: during a shutdown, the pipeline
    /// itself can no longer be asked.
    Handled(&'a Seen),
    /// Nothing: the wait needs no work from the pipeline (a port to close,
    /// a stream to end), so it may take [`STALL`] at most.
    Nothing,
}

/// How far things had got when a wait looked.
#[derive(Debug, PartialEq)]
enum Mark {
    Progress(Progress),
    /// The loop did not answer within a tick: it waits inside a step.
    NoAnswer,
    Handled(usize),
    Nothing,
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mark::Progress(p) => write!(
                f,
                "the pipeline's summary: {} connections, {} frames taken, {} published, \
                 {} retries, {} dead letters, {} connection errors",
                p.connections,
                p.frames_in,
                p.published,
                p.retries,
                p.dead_letters,
                p.connection_errors
            ),
            Mark::NoAnswer => write!(
                f,
                "the pipeline's loop does not answer a summary: does it wait inside a step?"
            ),
            Mark::Handled(n) => write!(f, "the plugin has handled {n} messages"),
            Mark::Nothing => write!(f, "nothing else to wait for"),
        }
    }
}

/// The pipeline's counters, without the payloads of its dead letters.
#[derive(Debug, PartialEq)]
struct Progress {
    connections: u64,
    frames_in: u64,
    published: u64,
    retries: u64,
    dead_letters: usize,
    connection_errors: usize,
}

impl From<&Summary> for Progress {
    fn from(summary: &Summary) -> Self {
        Progress {
            connections: summary.connections,
            frames_in: summary.frames_in,
            published: summary.published,
            retries: summary.retries,
            dead_letters: summary.dead_letters.len(),
            connection_errors: summary.connection_errors.len(),
        }
    }
}

impl Look<'_> {
    /// How far things have got; `None` when the pipeline's loop is gone.
    async fn mark(self) -> Option<Mark> {
        match self {
            Look::Pipeline(pipeline) => {
                let asked = AssertUnwindSafe(pipeline.summary()).catch_unwind();
                match tokio::time::timeout(TICK, asked).await {
                    Ok(Ok(summary)) => Some(Mark::Progress(Progress::from(&summary))),
                    // `summary` panics when the loop has stopped.
                    Ok(Err(_)) => None,
                    Err(_) => Some(Mark::NoAnswer),
                }
            }
            Look::Handled(seen) => Some(Mark::Handled(seen.lock().unwrap().len())),
            Look::Nothing => Some(Mark::Nothing),
        }
    }
}

/// Awaits `future`, watching `look` (and `moved`, a count the future may
/// bump as it gets somewhere). Panics, naming `what`, once neither has
/// moved for [`STALL`], at once if the pipeline's loop is gone, and after
/// [`CEILING`] in any case. No check may hang.
async fn watched_counting<F: Future>(
    look: Look<'_>,
    what: &str,
    moved: &Cell<u64>,
    future: F,
) -> F::Output {
    let started = Instant::now();
    let mut future = pin!(future);
    let mut last = None;
    let mut still = Duration::ZERO;
    let mut looked = Instant::now();
    loop {
        let mark = tokio::select! {
            biased;
            output = &mut future => return output,
            mark = async {
                tokio::time::sleep(TICK).await;
                look.mark().await
            } => mark,
        };
        let Some(mark) = mark else {
            panic!(
                "the pipeline's loop has stopped (it panicked, or returned) while waiting for: {what}"
            );
        };
        // Time this process was not running is not time the pipeline stood
        // still: a look that comes late counts as two ticks at most.
        let waited = looked.elapsed().min(2 * TICK);
        looked = Instant::now();
        let now = (mark, moved.get());
        if last.as_ref() == Some(&now) {
            still += waited;
        } else {
            still = Duration::ZERO;
            last = Some(now);
        }
        if still >= STALL {
            let (mark, moved) = last.expect("set above");
            let so_far = if moved > 0 {
                format!(" ({moved} so far)")
            } else {
                String::new()
            };
            panic!("nothing moved for {STALL:?} while waiting for: {what}{so_far}; {mark}");
        }
        if started.elapsed() >= CEILING {
            panic!("still not done after {CEILING:?} waiting for: {what}");
        }
    }
}

/// Awaits `future`, failing it once `look` has not moved for [`STALL`].
async fn watched<F: Future>(look: Look<'_>, what: &str, future: F) -> F::Output {
    watched_counting(look, what, &Cell::new(0), future).await
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

/// The checks' [`config`], with a queue into the loop of `ingest` and
/// mailboxes of `mailbox`: the two bounds a stuck plugin fills.
fn stuck_config(ingest: usize, mailbox: usize) -> Config {
    let mut config = config();
    config.ingest_capacity = ingest;
    config.mailbox_capacity = mailbox;
    config
}

async fn start(config: Config) -> Pipeline {
    watched(
        Look::Nothing,
        "the pipeline to start",
        Pipeline::start(config),
    )
    .await
    .expect("the pipeline binds two ports on 127.0.0.1")
}

/// The pipeline, with `config`, on a current-thread runtime that the
/// check drives with `block_on`: everything the pipeline does then runs on
/// the check's thread, where `count_allocations` counts it.
fn start_on_this_thread(config: Config) -> (tokio::runtime::Runtime, Pipeline) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the check");
    let pipeline = runtime.block_on(start(config));
    (runtime, pipeline)
}

/// A runtime of the pipeline's own, with two worker threads, that nothing
/// waits for when it is dropped. A task that never returns to its runtime
/// (a loop that finds a closed channel ready every time it asks) stops
/// every other task of that runtime, the check's clock too if it is the
/// check's runtime: there, the check would hang. Here, only the pipeline
/// stops, and the check fails it as a stall.
struct Elsewhere(Option<tokio::runtime::Runtime>);

impl Drop for Elsewhere {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Starts the pipeline on a runtime of its own (see [`Elsewhere`]); the
/// check's clients stay on the check's runtime.
async fn start_elsewhere(config: Config) -> (Elsewhere, Pipeline) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the pipeline");
    let starting = runtime.spawn(Pipeline::start(config));
    let elsewhere = Elsewhere(Some(runtime));
    let pipeline = watched(Look::Nothing, "the pipeline to start", starting)
        .await
        .expect("Pipeline::start does not panic")
        .expect("the pipeline binds two ports on 127.0.0.1");
    (elsewhere, pipeline)
}

/// The pipeline's clock, on a runtime of its own whose time is paused:
/// whenever the pipeline has nothing to do, its clock jumps to the next
/// timer. Minutes pass on it in microseconds, while the check's clients and
/// its watches, on the check's runtime, keep real time (a paused clock and
/// sockets do not mix on one runtime: see the top of this file).
struct PausedClock {
    runtime: tokio::runtime::Handle,
    /// Dropped with the clock: the runtime's thread then ends, and drops
    /// every task the pipeline left on it.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl PausedClock {
    /// Lets `time` pass on the pipeline's clock; the pipeline's own timers
    /// that fall due meanwhile fire first, in order.
    async fn pass(&self, time: Duration) {
        let what = format!("{time:?} to pass on the pipeline's clock");
        watched(
            Look::Nothing,
            &what,
            // Made on the pipeline's runtime: a sleep is on the clock of
            // the runtime it is created on.
            self.runtime
                .spawn(async move { tokio::time::sleep(time).await }),
        )
        .await
        .expect("a sleep does not panic");
    }
}

/// Starts the pipeline on a paused clock of its own (see [`PausedClock`]).
async fn start_paused(config: Config) -> (PausedClock, Pipeline) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime for the pipeline");
    let handle = runtime.handle().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        runtime.block_on(async {
            let _ = stopped.await;
        })
    });
    let starting = handle.spawn(Pipeline::start(config));
    let pipeline = watched(Look::Nothing, "the pipeline to start", starting)
        .await
        .expect("Pipeline::start does not panic")
        .expect("the pipeline binds two ports on 127.0.0.1");
    let clock = PausedClock {
        runtime: handle,
        _stop: stop,
    };
    (clock, pipeline)
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
    watched(
        Look::Pipeline(pipeline),
        "a connection to the ingest port",
        TcpStream::connect(pipeline.ingest_addr()),
    )
    .await
    .expect("the pipeline accepts connections")
}

/// A client on a task of its own: connects, writes `bytes`, and closes its
/// side. The task ends when all of it is written.
fn send(pipeline: &Pipeline, bytes: impl AsRef<[u8]> + Send + 'static) -> JoinHandle<()> {
    let addr = pipeline.ingest_addr();
    tokio::spawn(async move {
        let mut socket = TcpStream::connect(addr).await.expect("connects");
        socket
            .write_all(bytes.as_ref())
            .await
            .expect("writes its frames");
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

/// Client `client` sends `n` frames of `len` bytes; returns once it has
/// written them all and the pipeline has taken all `n` (its first frames).
async fn all_taken(pipeline: &Pipeline, client: u32, n: u32, len: usize) {
    let sending = send_frames(pipeline, client, n, len);
    watched(Look::Pipeline(pipeline), "the client to finish", sending)
        .await
        .unwrap();
    until(pipeline, "every frame to be taken", |s| {
        s.frames_in == u64::from(n)
    })
    .await;
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
    subscribe_on(pipeline, endpoint).await
}

/// A client like [`subscribe`]'s, with a small, fixed [`STREAM_WINDOW`]: a
/// few hundred snapshots it has not read stop the server sending.
async fn subscribe_with_small_window(pipeline: &Pipeline) -> Streaming<Snapshot> {
    let endpoint = Endpoint::from_shared(format!("http://{}", pipeline.feed_addr()))
        .expect("a valid address")
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(4 * STREAM_WINDOW)
        .http2_adaptive_window(false);
    subscribe_on(pipeline, endpoint).await
}

async fn subscribe_on(pipeline: &Pipeline, endpoint: Endpoint) -> Streaming<Snapshot> {
    let look = Look::Pipeline(pipeline);
    let channel: Channel = watched(look, "the gRPC client to connect", endpoint.connect())
        .await
        .expect("the feed accepts connections");
    let mut client = FeedClient::new(channel);
    let request = Subscription {
        device: TOPIC.to_owned(),
    };
    watched(look, "the answer to Subscribe", client.subscribe(request))
        .await
        .map(Response::into_inner)
        .expect("the feed publishes its topic")
}

impl<'a> From<&'a Pipeline> for Look<'a> {
    fn from(pipeline: &'a Pipeline) -> Self {
        Look::Pipeline(pipeline)
    }
}

/// The next `n` snapshots of `stream`, watching `look` (and the snapshots
/// as they come).
async fn receive<'a>(
    look: impl Into<Look<'a>>,
    stream: &mut Streaming<Snapshot>,
    n: usize,
) -> Vec<Snapshot> {
    let received = Cell::new(0);
    let what = format!("{n} snapshots");
    let receiving = async {
        let mut snapshots = Vec::with_capacity(n);
        while snapshots.len() < n {
            match stream.message().await {
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
            received.set(snapshots.len() as u64);
        }
        snapshots
    };
    watched_counting(look.into(), &what, &received, receiving).await
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

/// Plugs `plugin` in, failing if the pipeline's loop stops answering.
async fn plug(pipeline: &Pipeline, plugin: impl Plugin) {
    let what = "the pipeline to plug a plugin in";
    watched(pipeline.into(), what, pipeline.plug(plugin)).await;
}

/// Unplugs the plugins named `name`, failing if the pipeline's loop stops
/// answering (or waits for a stuck plugin).
async fn unplug(pipeline: &Pipeline, name: &str) -> usize {
    let what = format!("the pipeline to unplug {name:?}");
    watched(pipeline.into(), &what, pipeline.unplug(name)).await
}

/// The pipeline's summary, failing if its loop stops answering.
async fn summary(pipeline: &Pipeline) -> Summary {
    let what = "the pipeline's summary";
    watched(pipeline.into(), what, pipeline.summary()).await
}

/// Polls the pipeline's summary until `done` says yes.
async fn until(pipeline: &Pipeline, what: &str, done: impl Fn(&Summary) -> bool) -> Summary {
    watched(Look::Pipeline(pipeline), what, async {
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

/// How long nothing may change for the pipeline to count as quiet, and in
/// how many looks at least, each after letting every task run: a wrong
/// design that has work ready (a client waiting in the backlog, a frame in
/// a queue) does some of it in well under a millisecond, and a process
/// that was not running for a while has not had that chance.
const QUIET: Duration = Duration::from_millis(30);
const QUIET_LOOKS: u32 = 10;

/// Waits until what the pipeline has taken, published and reported has
/// not changed for [`QUIET`], and returns its summary: what the pipeline
/// does when it is left alone. Retries are not looked at: a plugin that
/// keeps failing retries for as long as it is left, and a pipeline may
/// count a retry as it starts. Fails after [`CEILING`] if it never goes
/// quiet.
async fn quiet(pipeline: &Pipeline) -> Summary {
    let what = "the pipeline to go quiet";
    let started = Instant::now();
    let mut last: Option<Progress> = None;
    let mut since = Instant::now();
    let mut looks = 0;
    loop {
        let asked = AssertUnwindSafe(pipeline.summary()).catch_unwind();
        let summary = match tokio::time::timeout(STALL, asked).await {
            Ok(Ok(summary)) => summary,
            Ok(Err(_)) => panic!("the pipeline's loop has stopped while waiting for: {what}"),
            Err(_) => panic!(
                "the pipeline's loop did not answer for {STALL:?} (it waits inside a step?) \
                 while waiting for: {what}"
            ),
        };
        let now = Progress {
            retries: 0,
            ..Progress::from(&summary)
        };
        if last.as_ref() != Some(&now) {
            last = Some(now);
            since = Instant::now();
            looks = 0;
        } else if since.elapsed() >= QUIET && looks >= QUIET_LOOKS {
            return summary;
        }
        assert!(
            started.elapsed() < CEILING,
            "still not quiet after {CEILING:?}: the pipeline goes on taking, publishing or \
             reporting with nothing new coming in ({:?})",
            last.expect("set above")
        );
        looks += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
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

/// One client's frames through one plugin to one subscriber: plugs
/// `plugin`, subscribes, sends `frames` frames of `len` bytes as client
/// `client`, and returns what the subscriber got, after checking it is
/// complete and in order and the client is done.
async fn through(
    pipeline: &Pipeline,
    plugin: impl Plugin,
    client: u32,
    frames: u32,
    len: usize,
) -> Vec<Snapshot> {
    plug(pipeline, plugin).await;
    let mut stream = subscribe(pipeline).await;
    let sending = send_frames(pipeline, client, frames, len);
    let snapshots = receive(pipeline, &mut stream, frames as usize).await;
    watched(Look::Pipeline(pipeline), "the client to finish", sending)
        .await
        .unwrap();
    assert_complete_and_in_order(&snapshots, &[(client, frames)]);
    snapshots
}

/// A pipeline whose only plugin, a [`Gated`] one named "stuck", is stuck,
/// with a subscriber and clients that send far more than the queue into
/// the loop and the plugin's mailbox hold.
struct Stuck {
    gate: Arc<Semaphore>,
    seen: Seen,
    stream: Streaming<Snapshot>,
    /// A task for each client, and what it sends: (client, frames).
    sending: Vec<JoinHandle<()>>,
    sent: Vec<(u32, u32)>,
    /// The queue, the mailbox, and a frame in the hands of each of the
    /// tasks on the way (the connection's, the loop, the plugin's), one
    /// more for another design: every right design tried takes 1 to 3
    /// frames more than the queue and the mailbox hold. A slack of the
    /// pipeline's own (a few messages kept back per plugin) shows here.
    bound: u64,
}

impl Stuck {
    /// Plugs the stuck plugin, subscribes, starts client `client` sending
    /// `frames` frames of 64 bytes, and waits until the queue (`ingest`)
    /// and the mailbox (`mailbox`, both as configured) are full and the
    /// pipeline is quiet; returns the quiet pipeline's summary too.
    async fn start(
        pipeline: &Pipeline,
        ingest: usize,
        mailbox: usize,
        client: u32,
        frames: u32,
    ) -> (Stuck, Summary) {
        let bytes = wire((0..frames).map(|i| frame(client, i, 64)));
        Stuck::start_with(pipeline, ingest, mailbox, &[(client, frames, bytes.into())]).await
    }

    /// [`Stuck::start`], for every client of `clients` at once, each
    /// `(client, frames, bytes)` with its frames already on the `wire`: a
    /// check that counts allocations makes them before it counts.
    async fn start_with(
        pipeline: &Pipeline,
        ingest: usize,
        mailbox: usize,
        clients: &[(u32, u32, Bytes)],
    ) -> (Stuck, Summary) {
        let (stuck, gate, seen) = Gated::new("stuck");
        plug(pipeline, stuck).await;
        let stream = subscribe(pipeline).await;
        let sending = clients
            .iter()
            .map(|(_, _, bytes)| send(pipeline, bytes.clone()))
            .collect();
        until(pipeline, "the queues to fill", |s| {
            s.frames_in >= (ingest + mailbox) as u64
        })
        .await;
        // A right design is stopped for good; a wrong one reads on, and
        // loopback moves megabytes before the pipeline goes quiet.
        let held = quiet(pipeline).await;
        let stuck = Stuck {
            gate,
            seen,
            stream,
            sending,
            sent: clients
                .iter()
                .map(|&(client, frames, _)| (client, frames))
                .collect(),
            bound: (ingest + mailbox + 4) as u64,
        };
        (stuck, held)
    }

    /// Asserts that `held`, the summary of a quiet pipeline, shows it
    /// stopped by the stuck plugin: at most [`Stuck::bound`] frames taken
    /// off the socket, none published.
    fn assert_held(&self, held: &Summary, when: &str) {
        assert!(
            held.frames_in <= self.bound,
            "{when}, with its only plugin stuck, the pipeline took {} frames off the socket \
             (at most {}): some queue on the way is unbounded",
            held.frames_in,
            self.bound
        );
        assert_eq!(held.published, 0, "nothing got past the stuck plugin");
    }

    /// Lets the plugin go: every frame arrives, complete and in order, and
    /// every client finishes. Returns what the plugin handled.
    async fn let_go(mut self, pipeline: &Pipeline) -> Seen {
        let total = self.sent.iter().map(|&(_, frames)| frames as usize).sum();
        self.gate.add_permits(total);
        let snapshots = receive(pipeline, &mut self.stream, total).await;
        for client in self.sending {
            watched(Look::Pipeline(pipeline), "the clients to finish", client)
                .await
                .unwrap();
        }
        assert_complete_and_in_order(&snapshots, &self.sent);
        self.seen
    }
}
