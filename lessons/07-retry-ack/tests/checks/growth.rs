//! A dispatcher runs for as long as its program: once a message is done,
//! nothing of it may stay behind while the dispatcher lives on (no record,
//! no handle, no future per message): no allocation more, and no byte more
//! in the allocations that grow (a map, a set).

use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use lesson::{Dispatcher, HandlerError, Plugin, Reason};
use lesson_support::{count_allocations, paused_runtime, settle, within};

use super::{mix, policy};

/// A plugin that keeps no log: one message in three fails every try, picked
/// at random (the same on every run), so it is retried, then dead-lettered.
struct Flaky {
    seed: u64,
    name: String,
}

impl Flaky {
    fn new(seed: u64, name: String) -> std::sync::Arc<Flaky> {
        std::sync::Arc::new(Flaky { seed, name })
    }
}

impl Plugin for Flaky {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(&'a self, id: u64, _: &'a [u8]) -> BoxFuture<'a, Result<(), HandlerError>> {
        let fails = mix(id << 8 | self.seed).is_multiple_of(3);
        Box::pin(async move {
            if fails {
                Err(HandlerError(String::from("flaky")))
            } else {
                Ok(())
            }
        })
    }
}

/// A plugin that fails every try.
struct Refusing {
    name: String,
}

impl Plugin for Refusing {
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(&'a self, _: u64, _: &'a [u8]) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async { Err(HandlerError(String::from("refused"))) })
    }
}

#[test]
fn a_dispatcher_that_lives_on_keeps_nothing_of_the_messages_it_is_done_with() {
    const MESSAGES: u64 = 2_000;
    let runtime = paused_runtime();
    // A message is tried at most twice, 1 ms apart: a failure on both tries
    // is dead-lettered.
    let (dispatcher, mut dead_letters) = runtime.block_on(async {
        let (dispatcher, dead_letters) =
            Dispatcher::new(policy(2, 1, 2, 1), |ceiling: Duration| ceiling);
        for plugin in 0..2 {
            within("plug", dispatcher.plug(Flaky::new(plugin, "flaky".into())))
                .await
                .unwrap();
        }
        (dispatcher, dead_letters)
    });
    let mut round = || {
        runtime.block_on(async {
            let mut dead = 0;
            for _ in 0..MESSAGES {
                // Each message is tried (and retried) before the next is sent.
                within("send", dispatcher.send(Bytes::from_static(b"a message")))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
                while let Ok(letter) = dead_letters.try_recv() {
                    assert_eq!(letter.reason, Reason::OutOfTries);
                    dead += 1;
                }
            }
            settle().await;
            assert_eq!(within("in_flight", dispatcher.in_flight()).await, Ok(0));
            dead
        })
    };
    // The first round grows the dispatcher's maps and queues, and the
    // runtime's, to their working size.
    round();
    let (dead, counted) = count_allocations(round);
    assert!(dead > 0, "some messages failed both tries");
    assert!(
        counted.count_current < 20 && counted.bytes_current < 1024,
        "{MESSAGES} more messages, each done (acked or dead-lettered) before the \
         next was sent, and {} more allocations ({} bytes) are alive than before \
         them (fewer than 20, and less than 1 KiB, may be): something is kept per \
         message while the dispatcher lives (a record, an abort handle, a future \
         of a try that ended, a set of the deliveries that ended?)",
        counted.count_current,
        counted.bytes_current
    );
}

#[test]
fn messages_to_no_plugin_and_plugins_unplugged_leave_nothing_behind() {
    const ROUNDS: u64 = 2_000;
    const HOUR_MS: u64 = 3_600_000;
    let runtime = paused_runtime();
    // A retry waits an hour: every wait of a plugin is still running when
    // the plugin is unplugged.
    let (dispatcher, mut dead_letters) = runtime.block_on(async {
        Dispatcher::new(policy(2, HOUR_MS, 2, HOUR_MS), |ceiling: Duration| ceiling)
    });
    // Every plugin gets a name no plugin had before, in both rounds.
    let named = std::cell::Cell::new(0_u64);
    let mut round = || {
        runtime.block_on(async {
            for n in 0..ROUNDS {
                named.set(named.get() + 1);
                // Handed to no plugin: done at once.
                within("send", dispatcher.send(Bytes::from_static(b"to no one")))
                    .await
                    .unwrap();
                // A plugin plugged in and unplugged again, owing nothing;
                // each one named anew.
                let name = format!("flaky {}", named.get());
                within("plug", dispatcher.plug(Flaky::new(n, name.clone())))
                    .await
                    .unwrap();
                within("unplug", dispatcher.unplug(&name)).await.unwrap();
                // A plugin unplugged while it owes a retry, due in an hour:
                // the unplug dead-letters it, and its wait goes with it.
                let name = format!("refusing {}", named.get());
                let refusing = std::sync::Arc::new(Refusing { name: name.clone() });
                within("plug", dispatcher.plug(refusing)).await.unwrap();
                within("send", dispatcher.send(Bytes::from_static(b"refused")))
                    .await
                    .unwrap();
                // The first try fails; the wait begins.
                tokio::time::sleep(Duration::from_millis(1)).await;
                within("unplug", dispatcher.unplug(&name)).await.unwrap();
                let letter = dead_letters
                    .try_recv()
                    .expect("the unplug dead-letters the retry it owed");
                assert_eq!((letter.tries, letter.reason), (1, Reason::Unplugged));
            }
            settle().await;
            assert_eq!(within("in_flight", dispatcher.in_flight()).await, Ok(0));
        })
    };
    round();
    let ((), counted) = count_allocations(round);
    assert!(
        counted.count_current < 20 && counted.bytes_current < 1024,
        "{ROUNDS} more messages handed to no plugin, and twice as many plugins \
         plugged in and unplugged (half of them owing a retry), and {} more allocations ({} bytes) are alive than before \
         them (fewer than 20, and less than 1 KiB, may be): something is kept per \
         message or per plugin after it is gone (a record of a message nobody \
         owed, a place, a number or a name of an unplugged plugin, a wait of an \
         hour left running after its delivery was dead-lettered?)",
        counted.count_current,
        counted.bytes_current
    );
}
