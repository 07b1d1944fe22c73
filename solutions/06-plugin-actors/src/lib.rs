//! # Lesson 06, reference solution: one actor per plugin
//!
//! A trait with an `async fn` cannot be `dyn` (E0038), and the host does not
//! need it to be. Each plugin goes to a task of its own, spawned by a
//! function generic over the plugin's type, so the compiler knows every
//! handler's future exactly. What the host keeps is the same for every
//! plugin: the sender of a bounded mailbox and a task handle. The task is
//! the type erasure.
//!
//! The task (the actor) owns its plugin, so a plugin keeps its state in
//! `&mut self`, with no lock, and handles its messages one at a time, in
//! the order they were dispatched. The bounded mailbox is the back pressure:
//! a slow plugin's full mailbox makes `dispatch` wait, so memory stays
//! bounded by the mailboxes' sizes, and the plugin's siblings run on
//! meanwhile, up to that bound. The actor is its plugin's supervisor too: a
//! panic in the handler unwinds to the actor, not through the host; the
//! plugin, which may be half-updated, is dropped and a fresh one is made; too
//! many panics in a short time and the actor gives up and says so.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// One message, as the pipeline hands it on. Cloning it bumps the payload's
/// reference count; no byte is copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its place in the stream of messages.
    pub seq: u64,
    pub payload: Bytes,
}

// ANCHOR: plugin
/// A plugin. It owns its state (`&mut self`): its actor hands it one message
/// at a time, in the order they were dispatched.
///
/// Implement it with `async fn handle(&mut self, msg: Message)`. The trait
/// spells the method as a function returning `impl Future + Send` so that it
/// can promise what an `async fn` in a trait cannot say: the future is
/// `Send`, so the actor that awaits it can be spawned.
pub trait Plugin: Send + 'static {
    fn handle(&mut self, msg: Message) -> impl Future<Output = ()> + Send;
}
// ANCHOR_END: plugin

/// Names a plugin in a [`PluginHost`]. Never reused by the same host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PluginId(u64);

/// When a supervisor stops restarting: at the `panics`-th panic within any
/// span shorter than `within` (on tokio's clock), that is, at a panic less
/// than `within` after the `panics - 1`-th panic before it. With 3 in 1 s,
/// panics at 0, 0.9, 1.1 and 1.2 s put the plugin down at 1.2 s: the last
/// three come less than a second after the first of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartLimit {
    pub panics: u32,
    pub within: Duration,
}

impl Default for RestartLimit {
    /// Three panics within five seconds.
    fn default() -> Self {
        RestartLimit {
            panics: 3,
            within: Duration::from_secs(5),
        }
    }
}

/// How a [`PluginHost`] treats its plugins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// How many messages may wait for a plugin (at least 1). A full mailbox
    /// makes `dispatch` wait.
    pub mailbox_capacity: usize,
    pub restart_limit: RestartLimit,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            mailbox_capacity: 64,
            restart_limit: RestartLimit::default(),
        }
    }
}

/// What became of a plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginReport {
    /// The name it was plugged in under.
    pub name: String,
    /// How many times its handler panicked. Each panic but the last of a
    /// plugin that gave up was followed by a restart.
    pub panics: u32,
    /// It panicked too often ([`RestartLimit`]) and stays down: it gets no
    /// more messages, and the ones waiting in its mailbox were dropped.
    pub gave_up: bool,
}

/// Why [`PluginHost::ask`] got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AskError {
    /// No plugin of this host has that id (any more).
    NoSuchPlugin,
    /// The plugin gave up after too many panics.
    Down,
    /// The handler panicked on this message (the plugin was restarted, or
    /// gave up).
    Panicked,
}

impl fmt::Display for AskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AskError::NoSuchPlugin => "no such plugin",
            AskError::Down => "the plugin panicked too often and is down",
            AskError::Panicked => "the plugin panicked on this message",
        })
    }
}

impl std::error::Error for AskError {}

// ANCHOR: host
/// Plugins, each run by an actor: a task that owns the plugin and reads its
/// mailbox. Dropping the host aborts every actor: what is queued is dropped
/// with the mailboxes, and a plugin stuck in its handler is dropped too.
pub struct PluginHost {
    config: HostConfig,
    next_id: u64,
    /// In the order they were plugged in.
    plugins: Vec<Plugged>,
}

/// What the host keeps of a plugin. The plugin itself is not here: its type
/// is known only to its actor's task.
struct Plugged {
    id: PluginId,
    mailbox: mpsc::Sender<Letter>,
    actor: JoinHandle<()>,
    /// Written by the actor when its plugin panics; read by the host.
    report: Arc<Mutex<PluginReport>>,
}

/// A message in a mailbox, with somewhere to answer if it was an `ask`.
struct Letter {
    msg: Message,
    reply: Option<oneshot::Sender<Result<(), AskError>>>,
}
// ANCHOR_END: host

impl PluginHost {
    pub fn new(config: HostConfig) -> Self {
        PluginHost {
            config,
            next_id: 0,
            plugins: Vec::new(),
        }
    }

    // ANCHOR: plug
    /// Plugs in the plugin that `make` makes, under `name`, and starts its
    /// actor on the current tokio runtime. `make` is kept to make a fresh
    /// plugin after a panic. The plugin gets every message dispatched from
    /// now on, until it is unplugged.
    pub fn plug<P, F>(&mut self, name: &str, mut make: F) -> PluginId
    where
        P: Plugin,
        F: FnMut() -> P + Send + 'static,
    {
        let id = PluginId(self.next_id);
        self.next_id += 1;
        let (mailbox, letters) = mpsc::channel(self.config.mailbox_capacity.max(1));
        let report = Arc::new(Mutex::new(PluginReport {
            name: name.to_owned(),
            panics: 0,
            gave_up: false,
        }));
        let actor = PluginActor {
            plugin: make(),
            make,
            letters,
            limit: self.config.restart_limit,
            recent_panics: VecDeque::new(),
            report: Arc::clone(&report),
        };
        // Generic over `P` here, one concrete future per plugin type there:
        // no `dyn Plugin` anywhere.
        let actor = tokio::spawn(actor.run());
        self.plugins.push(Plugged {
            id,
            mailbox,
            actor,
            report,
        });
        id
    }
    // ANCHOR_END: plug

    // ANCHOR: dispatch
    /// Hands `msg` to every plugged plugin that is not down: into its
    /// mailbox, in the order the plugins were plugged in. Waits while a
    /// mailbox is full (back pressure), so the dispatcher never runs more
    /// than a mailbox ahead of its slowest plugin.
    pub async fn dispatch(&mut self, msg: Message) {
        for plugged in &self.plugins {
            let letter = Letter {
                msg: msg.clone(),
                reply: None,
            };
            // An error means the mailbox is closed: the plugin gave up,
            // which its report says. The others still get the message.
            let _ = plugged.mailbox.send(letter).await;
        }
    }
    // ANCHOR_END: dispatch

    // ANCHOR: ask
    /// Hands `msg` to one plugin, after what is already in its mailbox, and
    /// waits until the plugin has handled it.
    pub async fn ask(&mut self, id: PluginId, msg: Message) -> Result<(), AskError> {
        let plugged = self.find(id).ok_or(AskError::NoSuchPlugin)?;
        let (reply, answer) = oneshot::channel();
        let letter = Letter {
            msg,
            reply: Some(reply),
        };
        plugged
            .mailbox
            .send(letter)
            .await
            .map_err(|_| AskError::Down)?;
        // No answer at all: the actor gave up with the letter still queued.
        answer.await.unwrap_or(Err(AskError::Down))
    }
    // ANCHOR_END: ask

    // ANCHOR: unplug
    /// Unplugs a plugin: it gets no message dispatched from now on, handles
    /// every message already in its mailbox (drain), and is dropped; then
    /// its report is returned. `None` if no plugin has this id.
    pub async fn unplug(&mut self, id: PluginId) -> Option<PluginReport> {
        let index = self.plugins.iter().position(|p| p.id == id)?;
        let Plugged {
            mailbox,
            actor,
            report,
            ..
        } = self.plugins.remove(index);
        // The last sender gone, the actor's `recv` returns what is queued,
        // then `None`, and the actor ends, dropping the plugin.
        drop(mailbox);
        // An error here is a `make` that panicked while restarting: the
        // actor is over either way.
        let _ = actor.await;
        let report = report.lock().unwrap().clone();
        Some(report)
    }
    // ANCHOR_END: unplug

    /// How a plugin is doing: its panics so far, and whether it gave up.
    /// `None` if no plugin has this id.
    pub fn report(&self, id: PluginId) -> Option<PluginReport> {
        let plugged = self.find(id)?;
        Some(plugged.report.lock().unwrap().clone())
    }

    fn find(&self, id: PluginId) -> Option<&Plugged> {
        self.plugins.iter().find(|p| p.id == id)
    }
}

impl Drop for PluginHost {
    /// Closing the mailboxes would end only the actors that come back to
    /// them: one stuck in its plugin's handler would outlive the host, with
    /// its plugin. Aborting ends each actor at the `.await` it waits in (or
    /// its next one), and drops its plugin.
    fn drop(&mut self) {
        for Plugged { actor, .. } in &self.plugins {
            actor.abort();
        }
    }
}

// ANCHOR: actor
/// One plugin's task: it owns the plugin, reads its mailbox, and restarts
/// the plugin after a panic.
struct PluginActor<P, F> {
    plugin: P,
    make: F,
    letters: mpsc::Receiver<Letter>,
    limit: RestartLimit,
    /// When the recent panics happened, oldest first: those less than
    /// `limit.within` before the latest.
    recent_panics: VecDeque<Instant>,
    report: Arc<Mutex<PluginReport>>,
}

impl<P, F> PluginActor<P, F>
where
    P: Plugin,
    F: FnMut() -> P + Send + 'static,
{
    /// By value: the task owns the actor (a `&mut self` method could not be
    /// spawned, the task would borrow a local).
    async fn run(mut self) {
        while let Some(Letter { msg, reply }) = self.letters.recv().await {
            // A panic in the handler unwinds to here, not through the task:
            // the mailbox, and what is queued in it, survive. The call is
            // inside too: a `handle` written as a `fn` that returns a future
            // may panic before it returns one.
            let handled = AssertUnwindSafe(async { self.plugin.handle(msg).await })
                .catch_unwind()
                .await
                .map_err(|_| AskError::Panicked);
            if let Some(reply) = reply {
                // The asker may have stopped waiting; that is its business.
                let _ = reply.send(handled);
            }
            if handled.is_err() {
                if self.gives_up() {
                    // Returning drops the mailbox: senders see it closed,
                    // and what was queued is dropped with it.
                    return;
                }
                // The panic may have left the plugin half-updated: start
                // over with a fresh one.
                self.plugin = (self.make)();
            }
        }
    }

    /// Counts a panic that happened now; `true` if it was one too many.
    fn gives_up(&mut self) -> bool {
        let now = Instant::now();
        self.recent_panics.push_back(now);
        while let Some(&first) = self.recent_panics.front() {
            if now - first < self.limit.within {
                break;
            }
            self.recent_panics.pop_front();
        }
        let gave_up = self.recent_panics.len() >= self.limit.panics as usize;
        let mut report = self.report.lock().unwrap();
        report.panics += 1;
        report.gave_up = gave_up;
        gave_up
    }
}
// ANCHOR_END: actor
