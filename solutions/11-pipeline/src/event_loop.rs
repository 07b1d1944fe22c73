//! The loop: one task that owns the arena, the plugins' mailboxes, what
//! each plugin still owes, and the subscribers. Everything that changes
//! them arrives as a message (a frame, an outcome, a command), so nothing is
//! locked and the order of events is the order the loop sees them in.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use solution_05_message_arena::{MessageArena, MessageRef, Release};
use tokio::sync::mpsc::OwnedPermit;
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::Status;

use crate::actor::{self, Outcome};
use crate::{
    Config, ConnectionError, Counters, DeadLetter, Message, Plugin, Reason, RetryPolicy, Snapshot,
    Summary,
};

/// What the connection tasks hand the loop, in the order they read it.
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
    /// Messages for plugins whose mailbox was full, oldest first. While
    /// any waits, the loop takes no new frame.
    parked: VecDeque<(u64, Message)>,
    /// The published frame still waiting for room at some subscribers,
    /// and which. While it waits, nothing else is published and the loop
    /// takes no new frame.
    outgoing: Option<(Snapshot, VecDeque<Subscriber>)>,
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
            parked: VecDeque::new(),
            outgoing: None,
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
        mut ingest: mpsc::Receiver<Ingest>,
        mut commands: mpsc::Receiver<Command>,
        mut subscriptions: mpsc::Receiver<Subscription>,
    ) {
        let mut ingest_open = true;
        // Set by a shutdown: who waits for the summary.
        let mut shutting_down: Option<oneshot::Sender<Summary>> = None;
        loop {
            // Drained: the connections are gone and every frame they handed
            // over is published, the last one too: it may still wait for
            // room at a full subscriber.
            if shutting_down.is_some()
                && !ingest_open
                && self.pending.is_empty()
                && self.outgoing.is_none()
            {
                break;
            }
            // The loop never waits inside a step: a full mailbox or a full
            // subscriber is one more thing to wait for here, next to the
            // others, so a stuck plugin can still be unplugged, and asked
            // about. What it waits for it cannot lose: `reserve` takes room,
            // and the message stays parked until the room is there.
            let room_for_plugin = self.parked.front().map(|(key, _)| self.mailbox(*key));
            let room_for_subscriber = self.outgoing.as_ref().map(|(_, to)| to[0].clone());
            let (waits_for_plugin, waits_for_subscriber) =
                (room_for_plugin.is_some(), room_for_subscriber.is_some());
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
                    Some(Command::Shutdown(reply)) => shutting_down = Some(reply),
                    // The `Pipeline` was dropped: stop at once, as it says,
                    // without waiting for a plugin that may never finish.
                    None => break,
                },
                Some((subscriber, registered)) = subscriptions.recv() => {
                    self.subscribers.push(subscriber);
                    let _ = registered.send(());
                }
                room = reserve(room_for_plugin), if waits_for_plugin => {
                    let (_, message) = self.parked.pop_front().expect("parked");
                    if let Ok(room) = room {
                        room.send(message);
                    }
                    self.deliver_parked();
                }
                room = reserve(room_for_subscriber), if waits_for_subscriber => {
                    match room {
                        Ok(room) => self.publish_outgoing(Some(room)),
                        Err(_) => self.drop_waiting_subscriber(),
                    }
                    self.publish_ready();
                }
                // The shutdown does not stop this branch: the frames already
                // taken are still in the queue, and are finished like the rest.
                // The queue closes when the last connection task is gone.
                item = ingest.recv(), if ingest_open && !waits_for_plugin && !waits_for_subscriber => match item {
                    Some(Ingest::Frame { connection, payload }) => {
                        self.take(connection, payload);
                    }
                    Some(Ingest::Closed(error)) => self.connection_errors.push(error),
                    None => ingest_open = false,
                },
            }
        }
        // Every subscriber's stream ends here, after its last snapshot.
        let summary = self.summary();
        drop(self);
        if let Some(reply) = shutting_down {
            let _ = reply.send(summary);
        }
    }
    // ANCHOR_END: run

    // ANCHOR: take
    /// A frame off a connection: into the arena, then to every plugin's
    /// mailbox. A full mailbox parks the message, and the loop takes no
    /// frame until it is delivered: the connections' queue fills, so they
    /// stop reading their sockets. That is the back pressure.
    fn take(&mut self, connection: u64, payload: Bytes) {
        let id = self.next_id;
        self.next_id += 1;
        // One holder: the loop, until the frame is published.
        let msg = self.arena.insert(payload.clone());
        for plugin in &mut self.plugins {
            self.arena.hold(msg);
            plugin.owed.push_back((id, msg));
            let message = Message {
                id,
                connection,
                payload: payload.clone(), // a reference count, not a copy
            };
            self.parked.push_back((plugin.key, message));
        }
        let done = self.plugins.is_empty();
        self.pending.push_back(Pending {
            id,
            connection,
            msg,
            done,
        });
        self.deliver_parked();
        self.publish_ready();
    }

    /// Hands parked messages to mailboxes with room, oldest first, until
    /// one is full.
    fn deliver_parked(&mut self) {
        while let Some((key, message)) = self.parked.pop_front() {
            match self.mailbox(key).try_send(message) {
                Ok(()) => {}
                Err(TrySendError::Full(message)) => {
                    self.parked.push_front((key, message));
                    return;
                }
                // An actor never ends while its plugin is plugged (a
                // panicking handler is a failed try).
                Err(TrySendError::Closed(_)) => unreachable!("a plugged actor is running"),
            }
        }
    }

    fn mailbox(&self, key: u64) -> mpsc::Sender<Message> {
        let plugin = self.plugins.iter().find(|p| p.key == key);
        plugin.expect("parked for a plugged plugin").mailbox.clone()
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
    /// Stops the plugins named `name` at once, and dead-letters what they
    /// owed: the frames go on to the subscribers, and the dead letters say
    /// which of them those plugins may not have handled.
    fn unplug(&mut self, name: &str) -> usize {
        let mut count = 0;
        while let Some(at) = self.plugins.iter().position(|p| p.name == name) {
            let plugin = self.plugins.remove(at);
            plugin.task.abort();
            self.parked.retain(|(key, _)| *key != plugin.key);
            for (id, msg) in plugin.owed {
                self.dead_letter(id, msg, plugin.name.clone(), Reason::Unplugged);
                self.release(id, msg);
            }
            count += 1;
        }
        self.deliver_parked();
        self.publish_ready();
        count
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
        while self.outgoing.is_none() && self.pending.front().is_some_and(|p| p.done) {
            let pending = self.pending.pop_front().expect("checked above");
            let Release::Freed(payload) = self.arena.release(pending.msg) else {
                unreachable!("a done frame's last holder is the loop");
            };
            let snapshot = Snapshot {
                seq: pending.id,
                payload,
            };
            self.published += 1;
            let to = self.subscribers.iter().cloned().collect();
            self.outgoing = Some((snapshot, to));
            self.publish_outgoing(None);
        }
    }

    /// Sends the outgoing snapshot to every subscriber that has room (the
    /// first one into `room`, when it waited for it). A subscriber with no
    /// room stops the publishing until it has; a gone one is dropped.
    fn publish_outgoing(&mut self, mut room: Option<OwnedPermit<Result<Snapshot, Status>>>) {
        let Some((snapshot, to)) = &mut self.outgoing else {
            return;
        };
        while let Some(subscriber) = to.pop_front() {
            let sent = match room.take() {
                Some(permit) => {
                    permit.send(Ok(snapshot.clone()));
                    Ok(())
                }
                None => subscriber.try_send(Ok(snapshot.clone())),
            };
            match sent {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    to.push_front(subscriber);
                    return;
                }
                Err(TrySendError::Closed(_)) => {
                    self.subscribers.retain(|s| !s.same_channel(&subscriber));
                }
            }
        }
        self.outgoing = None;
    }

    /// The subscriber the outgoing snapshot waited for is gone.
    fn drop_waiting_subscriber(&mut self) {
        if let Some((_, to)) = &mut self.outgoing
            && let Some(gone) = to.pop_front()
        {
            self.subscribers.retain(|s| !s.same_channel(&gone));
        }
        self.publish_outgoing(None);
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

/// Room for one message in `mailbox`, when there is.
async fn reserve<T>(mailbox: Option<mpsc::Sender<T>>) -> Result<OwnedPermit<T>, SendError<()>> {
    mailbox
        .expect("only awaited when set")
        .reserve_owned()
        .await
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        // Unplugged or not, no actor outlives the loop.
        for plugin in &self.plugins {
            plugin.task.abort();
        }
    }
}
