//! # Lesson 07, reference solution: retries, acknowledgements, dead letters
//!
//! A message is done for a plugin when the plugin acknowledges it (its
//! handler returns `Ok`) or when it is dead-lettered; it is done when every
//! plugin it was handed to is done with it. Until then it stays in lesson
//! 05's arena, with one holder per plugin still owing an answer: a retry
//! reads it from there, so a slot freed too early would leave the retry
//! with nothing to deliver.
//!
//! One loop task owns everything: the arena, the plugins, and the state of
//! every delivery still owed (a message to one plugin). The tries and the
//! waits between them are small futures in one `FuturesUnordered`; each
//! ends with a step, which the loop applies to the delivery's state. Nothing
//! is shared, so nothing is locked, and the loop alone decides when a
//! message is done, dead-lettered or cut off by a shutdown.
//!
//! The retry policy is exponential backoff with *full jitter*: the wait
//! before retry `n` (the `n + 1`-th try) is picked at random between zero
//! and `min(cap, base * factor^(n - 1))`, both included.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::{AbortHandle, Abortable, BoxFuture, FutureExt, abortable};
use futures::stream::{FuturesUnordered, StreamExt};
use solution_05_message_arena::{MessageArena, MessageRef};
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
            next_plugin: 0,
            next_id: 0,
            owed: HashMap::new(),
            steps: FuturesUnordered::new(),
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

// ANCHOR: owed
/// A delivery: a message (its slot in the arena) to one plugin (its number).
type Key = (MessageRef, u64);

/// A delivery still owed: a try is running, or a wait before the next one.
struct Owed {
    id: u64,
    plugin: Arc<dyn Plugin>,
    tries: u32,
    /// The ceiling of the next retry's wait. Kept, and multiplied one step
    /// at a time, so that it stops at the cap instead of overflowing on the
    /// way there (with a factor of 2, `factor.pow(n - 1)` overflows a `u32`
    /// at the 33rd retry).
    ceiling: Duration,
    last_error: Option<HandlerError>,
    /// Stops the try or the wait in progress.
    step: AbortHandle,
}

/// What a try or a wait ends with.
enum Step {
    Tried(Key, Result<(), HandlerError>),
    /// The wait is over: time for the next try.
    Due(Key),
}
// ANCHOR_END: owed

/// The shutdown in progress.
struct Closing {
    deadline: Pin<Box<Sleep>>,
    reply: oneshot::Sender<ShutdownReport>,
}

struct DispatchLoop {
    policy: RetryPolicy,
    jitter: Box<dyn Jitter>,
    arena: MessageArena,
    plugins: Vec<(u64, Arc<dyn Plugin>)>,
    next_plugin: u64,
    next_id: u64,
    owed: HashMap<Key, Owed>,
    steps: FuturesUnordered<Abortable<BoxFuture<'static, Step>>>,
    dead_letters: mpsc::UnboundedSender<DeadLetter>,
}

impl DispatchLoop {
    // ANCHOR: run
    async fn run(mut self, mut inbox: mpsc::Receiver<Command>) {
        let mut closing: Option<Closing> = None;
        // False once every `Dispatcher` is dropped (or, after a shutdown,
        // once the commands sent before it was closed are answered).
        let mut intake = true;
        loop {
            if self.owed.is_empty() && (closing.is_some() || !intake) {
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
                Some(step) = self.steps.next() => {
                    // An aborted step's delivery was settled when it was aborted.
                    if let Ok(step) = step {
                        self.step(step);
                    }
                }
                () = deadline(&mut closing), if closing.is_some() => {
                    let report = self.cut_off();
                    if let Some(closing) = closing {
                        let _ = closing.reply.send(report);
                    }
                    return;
                }
            }
        }
    }
    // ANCHOR_END: run

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
                self.plugins.push((self.next_plugin, plugin));
                self.next_plugin += 1;
                let _ = reply.send(());
            }
            Command::Unplug(name, reply) => {
                self.unplug(&name);
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
    /// Puts the message in the arena with one holder per plugin, and starts
    /// its first try to each.
    fn accept(&mut self, payload: Bytes) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        // The loop holds the message while it hands it out; then each plugin
        // holds it until it has acknowledged it or it is dead-lettered.
        let msg = self.arena.insert(payload);
        for (number, plugin) in &self.plugins {
            self.arena.hold(msg);
            let key = (msg, *number);
            let step = start_try(&self.steps, &self.arena, key, id, plugin);
            let owed = Owed {
                id,
                plugin: Arc::clone(plugin),
                tries: 1,
                ceiling: self.policy.base.min(self.policy.cap),
                last_error: None,
                step,
            };
            self.owed.insert(key, owed);
        }
        // With no plugin plugged in, this frees the message at once.
        self.arena.release(msg);
        id
    }
    // ANCHOR_END: accept

    // ANCHOR: step
    fn step(&mut self, step: Step) {
        let (Step::Due(key) | Step::Tried(key, _)) = step;
        // A step of a delivery that was given up (unplugged) in the instant
        // its try or wait ended. An `abortable` future polled by this loop
        // never gets here once aborted, but a try that ran to its end before
        // its abort (on a task, say) would: applying it would release a
        // hold for the second time, or retry to a plugin that is gone.
        let Some(owed) = self.owed.get_mut(&key) else {
            return;
        };
        match step {
            Step::Due(_) => {
                owed.tries += 1;
                owed.step = start_try(&self.steps, &self.arena, key, owed.id, &owed.plugin);
            }
            Step::Tried(_, Ok(())) => {
                // The acknowledgement: this plugin lets go of the message. The
                // last one to let go frees its slot.
                self.owed.remove(&key);
                self.arena.release(key.0);
            }
            Step::Tried(_, Err(error)) => {
                owed.last_error = Some(error);
                if owed.tries >= self.policy.max_tries {
                    let letter = self.give_up(key, Reason::OutOfTries);
                    let _ = self.dead_letters.send(letter);
                    return;
                }
                // Full jitter: anywhere between zero and the ceiling, so
                // that plugins failing together do not retry together.
                let wait = self.jitter.pick(owed.ceiling).min(owed.ceiling);
                owed.ceiling = owed
                    .ceiling
                    .saturating_mul(self.policy.factor)
                    .min(self.policy.cap);
                let (step, abort) = abortable(
                    async move {
                        tokio::time::sleep(wait).await;
                        Step::Due(key)
                    }
                    .boxed(),
                );
                owed.step = abort;
                self.steps.push(step);
            }
        }
    }
    // ANCHOR_END: step

    // ANCHOR: give_up
    /// Settles a delivery that will not be acknowledged: stops its try or
    /// wait, lets go of the message, and says why, with the message.
    fn give_up(&mut self, key: Key, reason: Reason) -> DeadLetter {
        let owed = self
            .owed
            .remove(&key)
            .expect("only an owed delivery is given up");
        owed.step.abort();
        // A handle of the payload (a reference count) for the letter, then
        // this plugin's hold is released: the letter keeps the bytes alive,
        // the arena no longer does.
        let payload = self
            .arena
            .get(key.0)
            .expect("an owed message is held")
            .clone();
        self.arena.release(key.0);
        DeadLetter {
            id: owed.id,
            plugin: owed.plugin.name().to_owned(),
            payload,
            tries: owed.tries,
            last_error: owed.last_error,
            reason,
        }
    }

    fn unplug(&mut self, name: &str) {
        let mut gone = Vec::new();
        self.plugins.retain(|(number, plugin)| {
            let keep = plugin.name() != name;
            if !keep {
                gone.push(*number);
            }
            keep
        });
        let owed: Vec<Key> = self
            .owed
            .keys()
            .filter(|(_, plugin)| gone.contains(plugin))
            .copied()
            .collect();
        for key in owed {
            let letter = self.give_up(key, Reason::Unplugged);
            let _ = self.dead_letters.send(letter);
        }
    }

    /// The deadline has passed: everything still owed is dropped, and
    /// reported.
    fn cut_off(&mut self) -> ShutdownReport {
        let owed: Vec<Key> = self.owed.keys().copied().collect();
        let mut unfinished: Vec<DeadLetter> = owed
            .into_iter()
            .map(|key| self.give_up(key, Reason::Deadline))
            .collect();
        unfinished.sort_by(|a, b| (a.id, &a.plugin).cmp(&(b.id, &b.plugin)));
        // The aborted tries and waits, handlers included, are dropped here.
        self.steps.clear();
        ShutdownReport { unfinished }
    }
    // ANCHOR_END: give_up
}

// ANCHOR: start_try
/// Starts a try of a delivery, and returns what stops it. The try's future
/// owns a handle of the payload (a reference count, no copy) for as long as
/// it runs; between tries, only the arena holds the message.
fn start_try(
    steps: &FuturesUnordered<Abortable<BoxFuture<'static, Step>>>,
    arena: &MessageArena,
    key: Key,
    id: u64,
    plugin: &Arc<dyn Plugin>,
) -> AbortHandle {
    let payload = arena.get(key.0).expect("an owed message is held").clone();
    let plugin = Arc::clone(plugin);
    let (step, abort) = abortable(
        async move {
            let result = plugin.handle(id, &payload).await;
            Step::Tried(key, result)
        }
        .boxed(),
    );
    steps.push(step);
    abort
}
// ANCHOR_END: start_try

/// Waits for the shutdown's deadline; forever while there is none.
async fn deadline(closing: &mut Option<Closing>) {
    match closing {
        Some(closing) => closing.deadline.as_mut().await,
        None => std::future::pending().await,
    }
}
