//! Delayed acknowledgement: a message's buffer stays until every plugin it
//! was handed to has acknowledged it (or given it up), because a retry needs
//! it; then it is freed. Every try sees the sender's bytes, not a copy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lesson::Dispatcher;
use lesson_support::within;

use super::{Act, Scripted, policy, recording_jitter, tracked};

#[tokio::test(start_paused = true)]
async fn a_buffer_is_freed_after_its_last_ack_and_not_before() {
    // Each wait is its ceiling: the retries come at 100 and 300 ms.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, _dead_letters) = Dispatcher::new(policy(5, 100, 2, 1_000), jitter);
    let quick = Scripted::new("quick", |_, _| Act::Ack);
    let slow = Scripted::new("slow", |_, n| if n < 3 { Act::Fail } else { Act::Ack });
    within("plug", dispatcher.plug(quick.clone()))
        .await
        .unwrap();
    within("plug", dispatcher.plug(slow.clone())).await.unwrap();

    let live = Arc::new(AtomicUsize::new(0));
    let message = tracked(b"held until the last ack", &live);
    let address = message.as_ptr() as usize;
    // The check keeps no handle of the buffer: the dispatcher's are the only ones.
    let id = within("send", dispatcher.send(message)).await.unwrap();

    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        (quick.acks_of(id), slow.tries_of(id)),
        (1, 1),
        "at 50 ms, quick has acked and slow has failed once"
    );
    assert_eq!(
        live.load(Ordering::SeqCst),
        1,
        "quick has acked, but slow failed and will be handed the message again \
         at 100 ms: its buffer was freed already (on dispatch? on the first ack?)"
    );
    assert_eq!(
        within("in_flight", dispatcher.in_flight()).await,
        Ok(1),
        "slow has not acked the message: it is still in flight"
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(slow.tries_of(id), 2, "at 150 ms, slow has failed twice");
    assert_eq!(
        live.load(Ordering::SeqCst),
        1,
        "slow will be handed the message a third time at 300 ms: its buffer \
         was freed already"
    );
    assert_eq!(within("in_flight", dispatcher.in_flight()).await, Ok(1));

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        slow.acks_of(id),
        1,
        "at 350 ms, slow has acked its third try"
    );
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "every plugin has acked the message, and its buffer is still held: \
         whose hold was never released?"
    );
    assert_eq!(
        within("in_flight", dispatcher.in_flight()).await,
        Ok(0),
        "every plugin has acked the message: it is no longer in flight"
    );

    let tries = [quick.tries(), slow.tries()].concat();
    assert_eq!(tries.len(), 4);
    for t in tries {
        assert_eq!(
            t.address, address,
            "a try was handed a copy of the message, not the sender's bytes"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_message_handed_to_no_plugin_is_done_at_once() {
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, _dead_letters) = Dispatcher::new(policy(3, 100, 2, 1_000), jitter);
    let live = Arc::new(AtomicUsize::new(0));

    // No plugin yet: nobody owes the message an answer.
    let first = within("send", dispatcher.send(tracked(b"to no one", &live)))
        .await
        .unwrap();
    assert_eq!(
        within("in_flight", dispatcher.in_flight()).await,
        Ok(0),
        "a message sent while no plugin is plugged in is handed to no one, so \
         it is done at once: it is not in flight"
    );
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "a message handed to no plugin is still held: the loop's own hold is \
         released only after a hand-out (inside the loop over the plugins?)"
    );

    // The same after the last plugin is unplugged.
    let gone = Scripted::new("gone", |_, _| Act::Ack);
    within("plug", dispatcher.plug(gone.clone())).await.unwrap();
    within("unplug", dispatcher.unplug("gone")).await.unwrap();
    let id = within("send", dispatcher.send(tracked(b"after the unplug", &live)))
        .await
        .unwrap();
    assert_eq!(
        gone.tries_of(id),
        0,
        "an unplugged plugin is handed nothing"
    );
    assert_eq!(within("in_flight", dispatcher.in_flight()).await, Ok(0));
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "a message sent after every plugin was unplugged is still held"
    );
    assert_ne!(
        first, id,
        "two messages, each handed to no plugin, got the same id: every accepted \
         message has an id of its own"
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_message_is_a_message_too() {
    // No bytes at all is still a message: handed to every plugin, retried
    // after a failure, and done only once acked.
    let (jitter, _) = recording_jitter(|ceiling, _| ceiling);
    let (dispatcher, _dead_letters) = Dispatcher::new(policy(3, 100, 2, 1_000), jitter);
    let second = Scripted::new("second", |_, n| if n == 1 { Act::Fail } else { Act::Ack });
    within("plug", dispatcher.plug(second.clone()))
        .await
        .unwrap();
    let id = within("send", dispatcher.send(bytes::Bytes::new()))
        .await
        .unwrap();
    assert_eq!(
        second.tries_of(id),
        1,
        "an empty message was handed to no plugin: it is a message like any other"
    );
    assert_eq!(within("in_flight", dispatcher.in_flight()).await, Ok(1));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        (second.tries_of(id), second.acks_of(id)),
        (2, 1),
        "the empty message failed once: it is retried after 100 ms and acked"
    );
    assert_eq!(within("in_flight", dispatcher.in_flight()).await, Ok(0));
}
