//! A subscription that ended, with its schema and its log dropped, leaves
//! nothing behind: no task, and no byte (a leaked log, a leaked handle, a
//! worker that keeps a copy).

use lesson::{MessageLog, build_schema};
use lesson_support::{count_allocations, paused_runtime};

use super::{drain, subscribe};

#[test]
fn a_finished_subscription_leaves_nothing_behind() {
    let runtime = paused_runtime();
    let run = || {
        runtime.block_on(async {
            let log = MessageLog::new();
            for n in 0..20 {
                log.append("orders", &format!("order {n}"));
            }
            log.close();
            let schema = build_schema(&log);
            let messages = drain(subscribe(&schema, "orders")).await;
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
