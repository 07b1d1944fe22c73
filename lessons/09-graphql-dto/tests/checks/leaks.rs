//! A subscription that ended, with its schema and its log dropped, leaves
//! nothing behind: no task, and no byte (a leaked log, a leaked handle, a
//! worker that keeps a copy, a topic kept for ever). And while the schema
//! lives, finished subscriptions leave nothing in it that adds up.

use std::cell::Cell;

use lesson::{MessageLog, build_schema};
use lesson_support::{count_allocations, paused_runtime};

use super::{drain, next_message, subscribe};

#[test]
fn a_finished_subscription_leaves_nothing_behind() {
    let runtime = paused_runtime();
    // Each run asks for a topic of its own, made at run time: whatever is
    // kept per topic (a registry of the topics ever asked for) shows.
    let runs = Cell::new(0_u32);
    let run = || {
        runs.set(runs.get() + 1);
        let topic = format!("orders {}", runs.get());
        runtime.block_on(async {
            let log = MessageLog::new();
            for n in 0..20 {
                log.append(&topic, &format!("order {n}"));
            }
            log.close();
            let schema = build_schema(&log);
            let messages = drain(subscribe(&schema, &topic)).await;
            drop(schema);
            drop(log);
            messages.len()
        })
    };
    // The first run may set up what a first use sets up for good (the
    // runtime's queues, async-graphql's own first-use tables).
    assert_eq!(run(), 20);

    let (received, counted) = count_allocations(run);

    assert_eq!(received, 20);
    assert_eq!(
        (counted.count_current, counted.bytes_current),
        (0, 0),
        "a subscription, its schema and its log were dropped, and {} allocations \
         ({} bytes) are still alive: a leaked log or handle, or a task that keeps one",
        counted.count_current,
        counted.bytes_current,
    );
    assert_eq!(
        runtime.metrics().num_alive_tasks(),
        0,
        "a task is still alive"
    );
}

#[test]
fn finished_subscriptions_leave_nothing_behind_while_the_schema_lives() {
    // A server keeps its schema and its log for as long as it runs: what a
    // finished subscription leaves behind adds up while they live.
    const FEW: usize = 10;
    let runtime = paused_runtime();
    // A subscription finishes in one of two ways, and what it leaves behind
    // must go either way. Its subscriber reads what there is and leaves
    // while the log is open: every other one here, so that what a worker
    // lets go of only when the log closes shows.
    let open = MessageLog::new();
    for n in 0..4 {
        open.append("orders", &format!("order {n}"));
    }
    let open_schema = build_schema(&open);
    // Or the log is closed, and it ends: the others, each to a topic of its
    // own, made at run time, which the log does not hold, so that what the
    // schema keeps per topic (a count per topic whose entry stays at 0)
    // shows, not only what it keeps per subscription.
    let closed = MessageLog::new();
    closed.close();
    let closed_schema = build_schema(&closed);
    let topics = Cell::new(0_u32);
    let run = |subscriptions: usize| {
        runtime.block_on(async {
            let mut received = 0;
            for _ in 0..subscriptions / 2 {
                let mut stream = Box::pin(subscribe(&open_schema, "orders"));
                for _ in 0..4 {
                    let message = next_message("a message of the open log", &mut stream).await;
                    received += usize::from(message.is_some());
                }
                drop(stream);
                topics.set(topics.get() + 1);
                let topic = format!("orders {}", topics.get());
                received += drain(subscribe(&closed_schema, &topic)).await.len();
            }
            // The worker of the last one to leave sees it.
            tokio::task::yield_now().await;
            received
        })
    };
    // The first run may set up what a first use sets up for good.
    assert_eq!(run(FEW), 2 * FEW);

    let (received, few) = count_allocations(|| run(FEW));
    assert_eq!(received, 2 * FEW);
    let (received, many) = count_allocations(|| run(10 * FEW));
    assert_eq!(received, 20 * FEW);
    assert!(
        many.count_current <= few.count_current && many.bytes_current <= few.bytes_current,
        "with the schema and the log alive, {FEW} finished subscriptions left {} \
         allocations ({} bytes) alive, and {} finished subscriptions {} ({} bytes): \
         something kept per subscription or per topic (a worker's handle, a \
         count per topic, an entry let go only when the log closes) stays \
         for as long as the schema",
        few.count_current,
        few.bytes_current,
        10 * FEW,
        many.count_current,
        many.bytes_current,
    );
}

#[test]
fn a_live_subscription_does_not_grow_with_the_messages_it_forwards() {
    // A subscription may live as long as the server: what it keeps per
    // message forwarded (a set of what it sent, a history) adds up.
    const FEW: usize = 100;
    let runtime = paused_runtime();
    let log = MessageLog::new();
    for n in 0..12 * FEW {
        log.append("orders", &format!("order {n}"));
    }
    let schema = build_schema(&log);
    let mut stream = Box::pin(subscribe(&schema, "orders"));
    let mut read = |messages: usize| {
        runtime.block_on(async {
            for _ in 0..messages {
                let message = next_message("the next message", &mut stream).await;
                assert!(
                    message.is_some(),
                    "the log is open: the subscription goes on"
                );
            }
        })
    };
    // The first messages may set up what a subscription keeps for good.
    read(FEW);

    let ((), few) = count_allocations(|| read(FEW));
    let ((), many) = count_allocations(|| read(10 * FEW));
    assert!(
        many.bytes_current <= few.bytes_current,
        "a live subscription forwarded {FEW} messages and kept {} bytes more alive, \
         then forwarded {} and kept {} bytes more: something is kept per message \
         for as long as the subscription lives",
        few.bytes_current,
        10 * FEW,
        many.bytes_current,
    );
}
