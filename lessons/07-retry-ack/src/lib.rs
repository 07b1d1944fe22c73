//! # Lesson 07: retries, acknowledgements and dead letters
//!
//! A `Dispatcher` hands every message it accepts to every plugin plugged
//! in. A handler can fail: the database is busy, the downstream service
//! times out. Such a failure is usually *transient*, and the message must
//! not be lost because of it: it is retried after a wait that grows with
//! every failure, and given up (dead-lettered, with the last error) only
//! after `max_tries` tries. A message is done when every plugin it was
//! handed to has acknowledged it or given it up; until then its buffer
//! stays in lesson 05's `MessageArena`, because a retry needs it.
//!
//! This code compiles, and it is wrong. Run `cargo test` in this folder:
//! the checks in `tests/` fail, and each one's name and message say which
//! promise is broken. The chapter is `book/src/07-retry-ack.md`; `cargo
//! run -- hint 07` at the root gives one hint at a time.
//!
//! The doc comments below say what each piece of the public API promises.
//! Keep that API (`Plugin`, `HandlerError`, `RetryPolicy`, `Jitter`,
//! `DeadLetter`, `Reason`, `ShutdownReport`, `ShutDown`, `DeadLetters`, and
//! `Dispatcher` with `new`, `plug`, `unplug`, `send`, `in_flight` and
//! `shutdown`): the checks use it. Change everything else.
#![forbid(unsafe_code)]

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{FuturesUnordered, StreamExt};
use solution_05_message_arena::MessageArena;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Sleep;

/// How many commands may wait for the loop; a caller beyond that waits in
/// `send` (or `plug`, ...) until there is room.
const COMMAND_CAPACITY: usize = 64;

/// A plugin's report that it could not handle a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandlerError(pub String);

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler failed: {}", self.0)
    }
}

impl std::error::Error for HandlerError {}

/// A plugin. `Ok` acknowledges the message; an error asks for a retry. The
/// handler may be dropped half-way (when the plugin is unplugged, or at a
/// shutdown's deadline), and may be handed the same message again after
/// an error: delivery is *at least once*.
pub trait Plugin: Send + Sync {
    fn name(&self) -> &str;
    fn handle<'a>(&'a self, id: u64, payload: &'a [u8]) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// How often a plugin is handed a message, and how long to wait in between.
///
/// The wait before retry `n` (1 is the first retry, the second try) is
/// picked by the [`Jitter`] between zero and the retry's *ceiling*,
/// `min(cap, base * factor^(n - 1))`: exponential backoff with full jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The most tries of one message for one plugin, the first included.
    /// At least 1.
    pub max_tries: u32,
    /// The ceiling of the first retry's wait.
    pub base: Duration,
    /// Each retry's ceiling is `factor` times the one before...
    pub factor: u32,
    /// ...and never more than `cap`.
    pub cap: Duration,
}

/// Where the randomness of the waits comes from: `pick` returns a wait
/// between zero and `ceiling`, both included. A closure is one: a real
/// program passes a random source (`|c| c.mul_f64(rng.f64())` with
/// `fastrand`, say), a test a deterministic one.
pub trait Jitter: Send + 'static {
    fn pick(&mut self, ceiling: Duration) -> Duration;
}

impl<F: FnMut(Duration) -> Duration + Send + 'static> Jitter for F {
    fn pick(&mut self, ceiling: Duration) -> Duration {
        self(ceiling)
    }
}

/// A message one plugin never acknowledged, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: u64,
    /// The plugin's name.
    pub plugin: String,
    /// The message itself: the same bytes the plugin was handed, not a copy.
    pub payload: Bytes,
    /// How many times the plugin was handed the message.
    pub tries: u32,
    /// The error of the last try that failed; `None` if none did.
    pub last_error: Option<HandlerError>,
    pub reason: Reason,
}

/// Why a plugin never acknowledged a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Each of the policy's `max_tries` tries failed.
    OutOfTries,
    /// The plugin was unplugged first. A try that was running was dropped.
    Unplugged,
    /// A shutdown's deadline came first. A try that was running was dropped.
    Deadline,
}

/// What a shutdown could not finish before its deadline: one entry per
/// message and plugin, with [`Reason::Deadline`]. These are not also sent
/// to the dead-letter queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    pub unfinished: Vec<DeadLetter>,
}

/// The dispatcher has shut down, or is shutting down: it takes nothing new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutDown;

impl fmt::Display for ShutDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the dispatcher is shut down: it accepts nothing new")
    }
}

impl std::error::Error for ShutDown {}

/// The dead-letter queue: every message a plugin never acknowledged, as it
/// happens. It ends when the dispatcher's loop does. A caller that does not
/// read it may drop it: the letters then go nowhere, and the dispatcher goes
/// on.
pub type DeadLetters = mpsc::UnboundedReceiver<DeadLetter>;

/// Hands every message to every plugin plugged in when it is accepted,
/// retries failed tries, and dead-letters what cannot be delivered. Clones
/// are handles to the same dispatcher.
#[derive(Clone)]
pub struct Dispatcher {
    commands: mpsc::Sender<Command>,
}

enum Command {
    Plug(Arc<dyn Plugin>, oneshot::Sender<()>),
    Unplug(String, oneshot::Sender<()>),
    Send(Bytes, oneshot::Sender<u64>),
    InFlight(oneshot::Sender<usize>),
    Shutdown(Duration, oneshot::Sender<ShutdownReport>),
}

impl Dispatcher {
    /// A dispatcher with no plugin yet, and its dead-letter queue. Starts
    /// its loop on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or if `policy.max_tries` is 0.
    pub fn new(policy: RetryPolicy, jitter: impl Jitter) -> (Dispatcher, DeadLetters) {
        assert!(policy.max_tries >= 1, "a message is tried at least once");
        let (commands, inbox) = mpsc::channel(COMMAND_CAPACITY);
        let (dead_letters, queue) = mpsc::unbounded_channel();
        let dispatch = DispatchLoop {
            policy,
            jitter: Box::new(jitter),
            arena: MessageArena::new(),
            plugins: Vec::new(),
            next_id: 0,
            tries: FuturesUnordered::new(),
            dead_letters,
        };
        tokio::spawn(dispatch.run(inbox));
        (Dispatcher { commands }, queue)
    }

    /// Every message accepted from now on is handed to `plugin` too.
    pub async fn plug(&self, plugin: Arc<dyn Plugin>) -> Result<(), ShutDown> {
        self.ask(|reply| Command::Plug(plugin, reply)).await
    }

    /// Unplugs the plugins named `name`. Whatever they still owe (a try
    /// running, a retry waiting) is dead-lettered at once with
    /// [`Reason::Unplugged`] and its last error: nothing is lost, and
    /// nothing is retried to a plugin that is gone.
    pub async fn unplug(&self, name: &str) -> Result<(), ShutDown> {
        self.ask(|reply| Command::Unplug(name.to_owned(), reply))
            .await
    }

    /// Hands `payload` to every plugin plugged in. `Ok` means accepted:
    /// from then on each of those plugins acknowledges it or it is
    /// dead-lettered (or reported by a shutdown), exactly once. Refused
    /// at once with [`ShutDown`] once a shutdown has begun.
    pub async fn send(&self, payload: Bytes) -> Result<u64, ShutDown> {
        self.ask(|reply| Command::Send(payload, reply)).await
    }

    /// How many accepted messages are not done yet: some plugin they were
    /// handed to has neither acknowledged them nor given them up.
    pub async fn in_flight(&self) -> Result<usize, ShutDown> {
        self.ask(Command::InFlight).await
    }

    /// Stops taking messages at once, then lets every accepted message be
    /// acknowledged or dead-lettered, for at most `deadline`. What is left
    /// at the deadline is dropped and reported. Once it returns, the loop
    /// has ended and the dead-letter queue ends after its last letter.
    pub async fn shutdown(&self, deadline: Duration) -> Result<ShutdownReport, ShutDown> {
        self.ask(|reply| Command::Shutdown(deadline, reply)).await
    }

    /// Sends a command and waits for its reply. The loop drops the reply of
    /// a command that comes after a shutdown, and a closed channel refuses
    /// the command: either way the caller hears [`ShutDown`] at once.
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ShutDown> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| ShutDown)?;
        answer.await.map_err(|_| ShutDown)
    }
}

/// The shutdown in progress.
struct Closing {
    deadline: Pin<Box<Sleep>>,
    reply: oneshot::Sender<ShutdownReport>,
}

struct DispatchLoop {
    policy: RetryPolicy,
    jitter: Box<dyn Jitter>,
    arena: MessageArena,
    plugins: Vec<Arc<dyn Plugin>>,
    next_id: u64,
    /// The tries running now.
    tries: FuturesUnordered<BoxFuture<'static, ()>>,
    dead_letters: mpsc::UnboundedSender<DeadLetter>,
}

impl DispatchLoop {
    async fn run(mut self, mut inbox: mpsc::Receiver<Command>) {
        let mut closing: Option<Closing> = None;
        // False once every `Dispatcher` is dropped (or, after a shutdown,
        // once the commands sent before it was closed are answered).
        let mut intake = true;
        loop {
            if self.tries.is_empty() && (closing.is_some() || !intake) {
                if let Some(closing) = closing {
                    let _ = closing.reply.send(ShutdownReport::default());
                }
                return; // drops `inbox`: any command still in it is refused
            }
            tokio::select! {
                command = inbox.recv(), if intake => match command {
                    Some(command) => self.command(command, &mut inbox, &mut closing),
                    None => intake = false,
                },
                Some(()) = self.tries.next() => {}
                () = deadline(&mut closing), if closing.is_some() => {
                    // The tries still running are dropped with `self`.
                    if let Some(closing) = closing {
                        let _ = closing.reply.send(ShutdownReport::default());
                    }
                    return;
                }
            }
        }
    }

    fn command(
        &mut self,
        command: Command,
        inbox: &mut mpsc::Receiver<Command>,
        closing: &mut Option<Closing>,
    ) {
        if closing.is_some() {
            // Sent before the shutdown closed the channel: dropping the reply
            // refuses it (`ShutDown`), without waiting for the drain.
            return;
        }
        match command {
            Command::Plug(plugin, reply) => {
                self.plugins.push(plugin);
                let _ = reply.send(());
            }
            Command::Unplug(name, reply) => {
                self.plugins.retain(|plugin| plugin.name() != name);
                let _ = reply.send(());
            }
            Command::Send(payload, reply) => {
                let id = self.accept(payload);
                let _ = reply.send(id);
            }
            Command::InFlight(reply) => {
                let _ = reply.send(self.arena.len());
            }
            Command::Shutdown(deadline, reply) => {
                // No new command gets in; those already queued are refused.
                inbox.close();
                *closing = Some(Closing {
                    deadline: Box::pin(tokio::time::sleep(deadline)),
                    reply,
                });
            }
        }
    }

    // ANCHOR: accept
    /// Puts the message in the arena and hands it to every plugin.
    fn accept(&mut self, payload: Bytes) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let msg = self.arena.insert(payload);
        for plugin in &self.plugins {
            let plugin = Arc::clone(plugin);
            // A handle of the payload (a reference count, no copy) that the
            // try owns for as long as it runs.
            let payload = self.arena.get(msg).expect("just inserted").clone();
            self.tries.push(
                async move {
                    // The plugin logs its own errors; there is nothing more
                    // to do with them here.
                    let _ = plugin.handle(id, &payload).await;
                }
                .boxed(),
            );
        }
        // Every try owns its handle of the payload, so the arena can let go
        // of the message now that it is handed out.
        self.arena.release(msg);
        id
    }
    // ANCHOR_END: accept
}

/// Waits for the shutdown's deadline; forever while there is none.
async fn deadline(closing: &mut Option<Closing>) {
    match closing {
        Some(closing) => closing.deadline.as_mut().await,
        None => std::future::pending().await,
    }
}
