//! # Lesson 11, reference solution: the whole pipeline
//!
//! The seed's final structure, built from the layers of lessons 04 to 10 and
//! run over real sockets:
//!
//! ```text
//! TCP connections ──► ingest.rs      one task per connection: lesson 04's FrameReader
//!                        │ bounded queue (back pressure reaches the sockets)
//!                        ▼
//!                     event_loop.rs  one task owns lesson 05's arena, the plugin
//!                        │           table and the subscribers; nothing is shared
//!                        │ one bounded mailbox per plugin, owned `Message`s
//!                        ▼
//!                     actor.rs       one task per plugin: tries, waits, retries,
//!                        │           then reports the outcome (lessons 06, 07)
//!                        ▼ outcomes
//!                     event_loop.rs  a frame every plugin is done with is published,
//!                        │           in the order it arrived
//!                        ▼ one bounded channel per subscriber, owned `Snapshot`s
//!                     feed.rs        lesson 10's gRPC service: `'static` streams
//! ```
//!
//! Every arrow is a channel, and every channel but one is bounded: a slow
//! plugin or a slow subscriber makes the loop wait, the loop makes the
//! connections wait, and the connections stop reading their sockets. The
//! one unbounded channel carries the plugins' outcomes back to the loop; it
//! holds at most one outcome per message in a mailbox, so it is bounded by
//! the mailboxes, and it must not make an actor wait for the loop while the
//! loop waits for that actor's mailbox.
#![forbid(unsafe_code)]

mod actor;
mod event_loop;
mod feed;
mod ingest;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub use solution_10_tonic_snapshot::{FeedClient, Snapshot, Subscription};

use event_loop::{Command, EventLoop};

/// The one topic the feed publishes: every frame, once every plugin is done
/// with it.
pub const TOPIC: &str = "frames";

// ANCHOR: plugin
/// A frame as a plugin gets it: owned, so it may be kept across any
/// `.await`, sent anywhere, and outlive the connection it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its place in the pipeline, from 0: the order frames were taken in,
    /// and the `seq` subscribers see.
    pub id: u64,
    /// The connection it came from, numbered from 0 in the order accepted.
    pub connection: u64,
    /// The frame's bytes: a view of the buffer they were read into, shared
    /// by every plugin and subscriber, never copied on the way.
    pub payload: Bytes,
}

/// A plugin's report that it could not handle a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerError(pub String);

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler failed: {}", self.0)
    }
}

impl std::error::Error for HandlerError {}

/// A plugin. `Ok` acknowledges the message; an error (or a panic) asks for
/// a retry. Delivery is *at least once*: a handler may be handed the same
/// message again after an error, and may be dropped half-way when its
/// plugin is unplugged.
pub trait Plugin: Send + Sync + 'static {
    fn name(&self) -> &str;
    fn handle(&self, message: Message) -> BoxFuture<'_, Result<(), HandlerError>>;
}
// ANCHOR_END: plugin

/// How often a plugin is handed a message, and how long it waits in between:
/// before retry `n` (1 is the first retry), `min(cap, base * 2^(n - 1))`.
/// (Lesson 07 adds jitter; one process with few plugins can do without.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The most tries of one message for one plugin, the first included.
    pub max_tries: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    /// The wait before retry `n` (1 is the first retry).
    pub fn wait_before_retry(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .unwrap_or(self.cap)
            .min(self.cap)
    }
}

/// Where the pipeline listens, and how much it lets wait where.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where clients connect to send frames.
    pub ingest_addr: SocketAddr,
    /// Where gRPC subscribers connect.
    pub feed_addr: SocketAddr,
    /// Connections served at once. Past it, the next connections wait in
    /// the listener's backlog (the kernel completes their handshakes and
    /// keeps what they send) until one being served ends.
    pub max_connections: usize,
    /// A frame announcing more bytes than this closes its connection.
    pub max_frame_length: usize,
    /// Frames taken off the connections that may wait for the loop.
    pub ingest_capacity: usize,
    /// Messages that may wait for each plugin.
    pub mailbox_capacity: usize,
    /// Snapshots that may wait for each subscriber.
    pub subscriber_capacity: usize,
    pub retry: RetryPolicy,
}

impl Default for Config {
    fn default() -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            ingest_addr: loopback,
            feed_addr: loopback,
            max_connections: 256,
            max_frame_length: 64 * 1024,
            ingest_capacity: 256,
            mailbox_capacity: 64,
            subscriber_capacity: 256,
            retry: RetryPolicy {
                max_tries: 4,
                base: Duration::from_millis(10),
                cap: Duration::from_secs(1),
            },
        }
    }
}

/// A message one plugin never acknowledged. The payload is kept (the same
/// bytes, not a copy), so it can be looked at or sent again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: u64,
    pub connection: u64,
    /// The plugin's name.
    pub plugin: String,
    pub payload: Bytes,
    pub reason: Reason,
}

/// Why a plugin never acknowledged a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Every try failed; this is the last one's error.
    OutOfTries {
        tries: u32,
        last_error: HandlerError,
    },
    /// The plugin was unplugged first (a try that was running was dropped).
    Unplugged,
}

/// A connection the pipeline closed because of what it sent. Only that
/// connection is closed; its frames before the bad one went on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionError {
    pub connection: u64,
    pub peer: SocketAddr,
    /// What was wrong, in words (lesson 04's `FrameError`).
    pub error: String,
}

/// What the pipeline has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Connections accepted.
    pub connections: u64,
    /// Frames taken off the connections (and their bytes).
    pub frames_in: u64,
    pub bytes_in: u64,
    /// Frames every plugin is done with, published to the subscribers.
    pub published: u64,
    /// Tries after the first, over all plugins.
    pub retries: u64,
    pub dead_letters: Vec<DeadLetter>,
    pub connection_errors: Vec<ConnectionError>,
}

/// Counted by the connection tasks, read by the loop.
#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    frames_in: AtomicU64,
    bytes_in: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A running pipeline. `shutdown` drains it; dropping it stops it without
/// waiting (frames in flight are not published).
pub struct Pipeline {
    ingest_addr: SocketAddr,
    feed_addr: SocketAddr,
    commands: mpsc::Sender<Command>,
    acceptor: JoinHandle<()>,
    server: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Pipeline {
    /// Binds both listeners, then starts the loop, the acceptor and the
    /// gRPC server on the current tokio runtime. No plugin is plugged yet.
    pub async fn start(config: Config) -> io::Result<Pipeline> {
        let ingest_listener = TcpListener::bind(config.ingest_addr).await?;
        let feed_listener = TcpListener::bind(config.feed_addr).await?;
        let ingest_addr = ingest_listener.local_addr()?;
        let feed_addr = feed_listener.local_addr()?;

        let counters = Arc::new(Counters::default());
        let (ingest_tx, ingest_rx) = mpsc::channel(config.ingest_capacity.max(1));
        let (commands, commands_rx) = mpsc::channel(16);
        let (subscriptions, subscriptions_rx) = mpsc::channel(16);

        let event_loop = EventLoop::new(&config, Arc::clone(&counters));
        tokio::spawn(event_loop.run(ingest_rx, commands_rx, subscriptions_rx));
        let acceptor = tokio::spawn(ingest::accept(
            ingest_listener,
            ingest_tx,
            config.max_frame_length,
            config.max_connections,
            counters,
        ));

        let feed = feed::PipelineFeed::new(subscriptions, config.subscriber_capacity);
        let (stop, stopped) = oneshot::channel::<()>();
        // TCP_NODELAY: a snapshot goes out as soon as it is written. With
        // Nagle's algorithm, a small write waits while an earlier one is not
        // acknowledged yet, and the client delays its ACKs (40 ms on Linux).
        let feed_incoming = TcpIncoming::from(feed_listener).with_nodelay(Some(true));
        let server = tokio::spawn(async move {
            let serve = Server::builder().serve_with_incoming_shutdown(
                feed.into_server(),
                feed_incoming,
                async {
                    let _ = stopped.await;
                },
            );
            if let Err(error) = serve.await {
                eprintln!("the pipeline's gRPC server stopped: {error}");
            }
        });

        Ok(Pipeline {
            ingest_addr,
            feed_addr,
            commands,
            acceptor,
            server: Some((stop, server)),
        })
    }

    /// Where to connect to send frames.
    pub fn ingest_addr(&self) -> SocketAddr {
        self.ingest_addr
    }

    /// Where to connect to subscribe (gRPC, `snapshots.Feed/Subscribe`).
    pub fn feed_addr(&self) -> SocketAddr {
        self.feed_addr
    }

    /// Every frame taken from now on is handed to `plugin` too.
    pub async fn plug(&self, plugin: impl Plugin) {
        self.ask(|reply| Command::Plug(Box::new(plugin), reply))
            .await;
    }

    /// Unplugs the plugins named `name`, and returns how many there were.
    /// What they still owed is dead-lettered with [`Reason::Unplugged`] and
    /// goes on to the subscribers: nothing is lost, nothing waits for them.
    pub async fn unplug(&self, name: &str) -> usize {
        self.ask(|reply| Command::Unplug(name.to_owned(), reply))
            .await
    }

    /// What the pipeline has done so far.
    pub async fn summary(&self) -> Summary {
        self.ask(Command::Summary).await
    }

    // ANCHOR: shutdown
    /// Stops taking connections and frames, finishes every frame already
    /// taken (every plugin handles it or dead-letters it, and it is
    /// published), ends every subscriber's stream, stops the server, and
    /// says what was done.
    pub async fn shutdown(mut self) -> Summary {
        // Dropping the acceptor's task drops the connection tasks it owns,
        // each at an `.await`: between frames, or with a frame it has not
        // handed over yet, which was never counted as taken.
        self.acceptor.abort();
        let summary = self.ask(Command::Shutdown).await;
        if let Some((stop, server)) = self.server.take() {
            let _ = stop.send(());
            let _ = server.await;
        }
        summary
    }
    // ANCHOR_END: shutdown

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> T {
        let (reply, answer) = oneshot::channel();
        let gone = "the pipeline's loop stopped (did a plugin's name() panic?)";
        self.commands.send(command(reply)).await.expect(gone);
        answer.await.expect(gone)
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.acceptor.abort();
        if let Some((stop, _)) = self.server.take() {
            let _ = stop.send(());
        }
    }
}
