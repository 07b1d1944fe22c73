//! What a fixed plugin host promises. Each file is one promise; a failing
//! test's name says which one is broken.

mod ask;
mod back_pressure;
mod delivery;
mod supervision;
mod unplug;

#[test]
fn no_shortcut_fakes_static() {
    lesson_support::assert_no_shortcuts(env!("CARGO_MANIFEST_DIR"));
}

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use lesson::{HostConfig, Message, Plugin, PluginHost, PluginId, RestartLimit};
use tokio::sync::Semaphore;

/// What a test plugin does with a message once it has recorded it.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Nothing more.
    Record,
    /// Panics on the messages whose `seq % every == at`.
    PanicEvery { every: u64, at: u64 },
    /// Panics on every message.
    PanicAlways,
}

/// The check's side of a test plugin: what every instance of it saw, and
/// how many instances were made and are still alive. Shared by all the
/// instances one factory makes, so it outlives restarts.
#[derive(Default)]
struct Probe {
    /// `(instance, seq)` of every message handed to a handler, in the order
    /// the handlers got them. Instances count from 1.
    seen: Mutex<Vec<(usize, u64)>>,
    made: AtomicUsize,
    alive: AtomicUsize,
}

impl Probe {
    fn new() -> Arc<Probe> {
        Arc::new(Probe::default())
    }

    /// The seq of every message handed to a handler, in order.
    fn seqs(&self) -> Vec<u64> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|&(_, seq)| seq)
            .collect()
    }

    fn seen(&self) -> Vec<(usize, u64)> {
        self.seen.lock().unwrap().clone()
    }

    /// How many plugins the factory has made (the first and every restart).
    fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    /// How many of them have not been dropped yet.
    fn alive(&self) -> usize {
        self.alive.load(Ordering::SeqCst)
    }

    /// A factory of plugins that record into this probe.
    fn factory(
        self: &Arc<Self>,
        behaviour: Behaviour,
    ) -> impl FnMut() -> TestPlugin + Send + 'static {
        self.gated_factory(behaviour, None)
    }

    /// A factory of plugins that wait for a permit of `gate` before they
    /// look at each message: the check decides when messages are handled.
    fn gated_factory(
        self: &Arc<Self>,
        behaviour: Behaviour,
        gate: Option<Arc<Semaphore>>,
    ) -> impl FnMut() -> TestPlugin + Send + 'static {
        let probe = Arc::clone(self);
        move || {
            let instance = probe.made.fetch_add(1, Ordering::SeqCst) + 1;
            probe.alive.fetch_add(1, Ordering::SeqCst);
            TestPlugin {
                probe: Arc::clone(&probe),
                instance,
                behaviour,
                gate: gate.clone(),
            }
        }
    }
}

/// A plugin, written as plugin authors write them: `async fn`.
struct TestPlugin {
    probe: Arc<Probe>,
    instance: usize,
    behaviour: Behaviour,
    gate: Option<Arc<Semaphore>>,
}

impl Plugin for TestPlugin {
    async fn handle(&mut self, msg: Message) {
        if let Some(gate) = &self.gate {
            gate.acquire().await.expect("the gate stays open").forget();
        }
        self.probe
            .seen
            .lock()
            .unwrap()
            .push((self.instance, msg.seq));
        match self.behaviour {
            Behaviour::Record => {}
            Behaviour::PanicEvery { every, at } if msg.seq % every == at => self.panic(msg.seq),
            Behaviour::PanicEvery { .. } => {}
            Behaviour::PanicAlways => self.panic(msg.seq),
        }
    }
}

impl TestPlugin {
    fn panic(&self, seq: u64) -> ! {
        lesson_support::panic_on_purpose(format!(
            "plugin instance {} panics on message {seq} on purpose (when this \
             message fails a check, the panic got out of the host to the caller)",
            self.instance
        ))
    }
}

impl Drop for TestPlugin {
    fn drop(&mut self) {
        self.probe.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A host whose mailboxes hold `mailbox_capacity` messages, and whose
/// plugins stay down at the third panic within a second.
fn host(mailbox_capacity: usize) -> PluginHost {
    PluginHost::new(HostConfig {
        mailbox_capacity,
        restart_limit: RestartLimit {
            panics: 3,
            within: Duration::from_secs(1),
        },
    })
}

/// Message number `seq`. The payload is static: making it costs nothing,
/// so long runs measure the host, not the check.
fn message(seq: u64) -> Message {
    Message {
        seq,
        payload: Bytes::from_static(b"a small message"),
    }
}

/// A plugin stuck on its first message until the check opens its gate,
/// alone in a host whose mailboxes hold `capacity` messages.
struct StuckPlugin {
    host: PluginHost,
    id: PluginId,
    probe: Arc<Probe>,
    gate: Arc<Semaphore>,
}

impl StuckPlugin {
    fn behind_a_mailbox_of(capacity: usize) -> StuckPlugin {
        let gate = Arc::new(Semaphore::new(0));
        let probe = Probe::new();
        let mut host = host(capacity);
        let id = host.plug(
            "stuck",
            probe.gated_factory(Behaviour::Record, Some(Arc::clone(&gate))),
        );
        StuckPlugin {
            host,
            id,
            probe,
            gate,
        }
    }
}

/// Dispatches messages `0..count` one after the other; `returned` counts
/// the dispatches that have returned, for a check that watches meanwhile.
async fn dispatch_counting(host: &mut PluginHost, count: u64, returned: &Cell<u64>) {
    for seq in 0..count {
        host.dispatch(message(seq)).await;
        returned.set(seq + 1);
    }
}
