//! The loop: one task that owns the arena, the plugins' mailboxes, what
//! each plugin still owes, and the subscribers. Everything that changes
//! them arrives as a message (a frame, an outcome, a command), so nothing is
//! locked and the order of events is the order the loop sees them in.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use solution_05_message_arena::{MessageArena, MessageRef, Release};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::Status;

use crate::actor::{self, Outcome};
use crate::{
    Config, ConnectionError, Counters, DeadLetter, Message, Plugin, Reason, RetryPolicy, Snapshot,
    Summary,
};

/// What the connection tasks hand the loop, in the order they read it.
#[allow(dead_code)] // the starter never sends `Closed`
pub(crate) enum Ingest {
    Frame { connection: u64, payload: Bytes },
    Closed(ConnectionError),
}

/// What the `Pipeline` asks of the loop.
pub(crate) enum Command {
    Plug(Box<dyn Plugin>, oneshot::Sender<()>),
    Unplug(String, oneshot::Sender<usize>),
    Summary(oneshot::Sender<Summary>),
    Shutdown(oneshot::Sender<Summary>),
}

/// A subscriber's end of its channel, and the reply that says it is
/// registered (the feed answers the gRPC call only then).
pub(crate) type Subscriber = mpsc::Sender<Result<Snapshot, Status>>;
pub(crate) type Subscription = (Subscriber, oneshot::Sender<()>);

/// A plugged plugin, as the loop sees it.
struct Plugged {
    key: u64,
    name: String,
    mailbox: mpsc::Sender<Message>,
    /// What it was handed and has not settled, oldest first: an actor works
    /// through its mailbox in order, so its outcomes come in this order.
    owed: VecDeque<(u64, MessageRef)>,
    task: JoinHandle<()>,
}

/// A frame taken and not yet published.
struct Pending {
    id: u64,
    connection: u64,
    msg: MessageRef,
    /// Every plugin it was handed to has settled it.
    done: bool,
}

pub(crate) struct EventLoop {
    /// Every frame not yet published. The loop holds each once (until it is
    /// published), and each plugin that owes it once more.
    arena: MessageArena,
    plugins: Vec<Plugged>,
    next_key: u64,
    next_id: u64,
    /// Frames taken and not published yet, by id: contiguous, oldest first.
    pending: VecDeque<Pending>,
    subscribers: Vec<Subscriber>,
    mailbox_capacity: usize,
    retry: RetryPolicy,
    outcomes: mpsc::UnboundedSender<Outcome>,
    outcomes_rx: mpsc::UnboundedReceiver<Outcome>,
    counters: Arc<Counters>,
    published: u64,
    retries: u64,
    dead_letters: Vec<DeadLetter>,
    connection_errors: Vec<ConnectionError>,
}

impl EventLoop {
    pub(crate) fn new(config: &Config, counters: Arc<Counters>) -> Self {
        let (outcomes, outcomes_rx) = mpsc::unbounded_channel();
        EventLoop {
            arena: MessageArena::new(),
            plugins: Vec::new(),
            next_key: 0,
            next_id: 0,
            pending: VecDeque::new(),
            subscribers: Vec::new(),
            mailbox_capacity: config.mailbox_capacity.max(1),
            retry: config.retry,
            outcomes,
            outcomes_rx,
            counters,
            published: 0,
            retries: 0,
            dead_letters: Vec::new(),
            connection_errors: Vec::new(),
        }
    }

    // ANCHOR: run
    pub(crate) async fn run(
        mut self,
        mut ingest: mpsc::UnboundedReceiver<Ingest>,
        mut commands: mpsc::Receiver<Command>,
        mut subscriptions: mpsc::Receiver<Subscription>,
    ) {
        loop {
            tokio::select! {
                // Outcomes first: they free memory and publish frames.
                biased;
                Some(outcome) = self.outcomes_rx.recv() => self.settle(outcome),
                command = commands.recv() => match command {
                    Some(Command::Plug(plugin, reply)) => {
                        self.plug(plugin);
                        let _ = reply.send(());
                    }
                    Some(Command::Unplug(name, reply)) => {
                        let count = self.unplug(&name);
                        let _ = reply.send(count);
                    }
                    Some(Command::Summary(reply)) => {
                        let _ = reply.send(self.summary());
                    }
                    Some(Command::Shutdown(reply)) => {
                        let _ = reply.send(self.summary());
                        return;
                    }
                    None => return,
                },
                Some((subscriber, registered)) = subscriptions.recv() => {
                    self.subscribers.push(subscriber);
                    let _ = registered.send(());
                }
                Some(item) = ingest.recv() => match item {
                    Ingest::Frame { connection, payload } => {
                        self.take(connection, payload).await;
                    }
                    Ingest::Closed(error) => self.connection_errors.push(error),
                },
            }
        }
    }
    // ANCHOR_END: run

    // ANCHOR: take
    /// A frame off a connection: into the arena, then to every plugin's
    /// mailbox.
    async fn take(&mut self, connection: u64, payload: Bytes) {
        let id = self.next_id;
        self.next_id += 1;
        // One holder: the loop, until the frame is published.
        let msg = self.arena.insert(payload.clone());
        for plugin in &mut self.plugins {
            self.arena.hold(msg);
            plugin.owed.push_back((id, msg));
            // Each plugin gets a copy of its own: no plugin can disturb the
            // bytes another one is reading.
            let message = Message {
                id,
                connection,
                payload: Bytes::copy_from_slice(&payload),
            };
            let _ = plugin.mailbox.send(message).await;
        }
        let done = self.plugins.is_empty();
        self.pending.push_back(Pending {
            id,
            connection,
            msg,
            done,
        });
        self.publish_ready();
    }
    // ANCHOR_END: take

    // ANCHOR: settle
    /// A plugin is done with a message: it acknowledged it, or ran out of
    /// tries.
    fn settle(&mut self, outcome: Outcome) {
        // An outcome from a plugin unplugged since: what it owed was settled
        // then (dead-lettered), so this one is stale.
        let Some(plugin) = self.plugins.iter_mut().find(|p| p.key == outcome.key) else {
            return;
        };
        let (id, msg) = plugin
            .owed
            .pop_front()
            .expect("an actor settles only what it was handed");
        debug_assert_eq!(
            id, outcome.id,
            "an actor settles in the order it was handed"
        );
        let name = plugin.name.clone();
        self.retries += u64::from(outcome.tries - 1);
        if let Err(last_error) = outcome.result {
            let reason = Reason::OutOfTries {
                tries: outcome.tries,
                last_error,
            };
            self.dead_letter(id, msg, name, reason);
        }
        self.release(id, msg);
        self.publish_ready();
    }
    // ANCHOR_END: settle

    fn plug(&mut self, plugin: Box<dyn Plugin>) {
        let key = self.next_key;
        self.next_key += 1;
        let name = plugin.name().to_owned();
        let (mailbox, inbox) = mpsc::channel(self.mailbox_capacity);
        let task = tokio::spawn(actor::run(
            key,
            plugin,
            inbox,
            self.outcomes.clone(),
            self.retry,
        ));
        self.plugins.push(Plugged {
            key,
            name,
            mailbox,
            owed: VecDeque::new(),
            task,
        });
    }

    // ANCHOR: unplug
    /// Stops the plugins named `name` at once.
    fn unplug(&mut self, name: &str) -> usize {
        let before = self.plugins.len();
        self.plugins.retain(|plugin| {
            let unplugged = plugin.name == name;
            if unplugged {
                plugin.task.abort();
            }
            !unplugged
        });
        before - self.plugins.len()
    }
    // ANCHOR_END: unplug

    /// Takes one plugin's holder off `msg`; when only the loop's is left,
    /// the frame is done.
    fn release(&mut self, id: u64, msg: MessageRef) {
        match self.arena.release(msg) {
            Release::Held(1) => self.pending_mut(id).done = true,
            Release::Held(_) => {}
            Release::Freed(_) | Release::Stale => {
                unreachable!("the loop holds every frame until it is published")
            }
        }
    }

    fn dead_letter(&mut self, id: u64, msg: MessageRef, plugin: String, reason: Reason) {
        let payload = self.arena.get(msg).cloned().unwrap_or_default();
        let connection = self.pending_mut(id).connection;
        self.dead_letters.push(DeadLetter {
            id,
            connection,
            plugin,
            payload,
            reason,
        });
    }

    fn pending_mut(&mut self, id: u64) -> &mut Pending {
        let first = self.pending.front().expect("the frame is pending").id;
        &mut self.pending[(id - first) as usize]
    }

    // ANCHOR: publish
    /// Publishes the done frames at the front, in the order they were
    /// taken: a frame done early waits for the ones before it, so every
    /// subscriber sees each connection's frames in the order it sent them.
    fn publish_ready(&mut self) {
        while self.pending.front().is_some_and(|p| p.done) {
            let pending = self.pending.pop_front().expect("checked above");
            let Release::Freed(payload) = self.arena.release(pending.msg) else {
                unreachable!("a done frame's last holder is the loop");
            };
            let snapshot = Snapshot {
                seq: pending.id,
                payload,
            };
            // Never wait for a subscriber: one slow client must not hold up
            // the pipeline for everyone.
            for subscriber in &self.subscribers {
                let _ = subscriber.try_send(Ok(snapshot.clone()));
            }
            self.published += 1;
        }
    }
    // ANCHOR_END: publish

    fn summary(&self) -> Summary {
        Summary {
            connections: Counters::read(&self.counters.connections),
            frames_in: Counters::read(&self.counters.frames_in),
            bytes_in: Counters::read(&self.counters.bytes_in),
            published: self.published,
            retries: self.retries,
            dead_letters: self.dead_letters.clone(),
            connection_errors: self.connection_errors.clone(),
        }
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        // Unplugged or not, no actor outlives the loop.
        for plugin in &self.plugins {
            plugin.task.abort();
        }
    }
}
