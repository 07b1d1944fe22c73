//! Dropping the response stream ends the subscription: its worker (if it
//! has one) stops, copies nothing more, and no task is left behind, whether
//! it was waiting for the subscriber or for the next message.

use std::time::Duration;

use futures::StreamExt;
use lesson::{MessageLog, build_schema};
use lesson_support::{alive_tasks, settle};

use super::{next_message, subscribe};

#[tokio::test(start_paused = true)]
async fn dropping_the_response_stream_stops_a_worker_blocked_on_sending() {
    let tasks_before = alive_tasks();
    let log = MessageLog::new();
    for n in 0..1_000 {
        log.append("orders", &format!("order {n}"));
    }
    let schema = build_schema(&log);
    let mut stream = Box::pin(subscribe(&schema, "orders"));
    next_message("the first message", &mut stream).await;
    settle().await; // a worker fills the queue and waits
    let reads_before = log.reads();

    drop(stream);
    settle().await;
    log.append("orders", "one more");
    settle().await;

    assert!(
        log.reads() <= reads_before + 1,
        "the response stream is gone, yet {} more messages were copied out of \
         the log: a failed `send` means nobody listens, so stop",
        log.reads() - reads_before,
    );
    assert_eq!(
        alive_tasks(),
        tasks_before,
        "a task outlived the subscription"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_response_stream_stops_a_worker_waiting_for_messages() {
    let tasks_before = alive_tasks();
    let log = MessageLog::new();
    log.append("orders", "espresso");
    log.append("orders", "flat white");
    let schema = build_schema(&log);
    let mut stream = Box::pin(subscribe(&schema, "orders"));
    next_message("the first message", &mut stream).await;
    next_message("the second message", &mut stream).await;
    settle().await; // everything is read: a worker waits for the log
    // The subscriber waits a second for a third message, gives up and
    // leaves: whatever its waiting started must end with it.
    let third = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
    assert!(third.is_err(), "no third message was appended: {third:?}");

    drop(stream);
    settle().await;
    assert_eq!(
        alive_tasks(),
        tasks_before,
        "the response stream is gone, but a task still waits for new messages \
         for it: watch the subscriber while you wait (`Sender::closed`)"
    );

    let reads_before = log.reads();
    for n in 0..10 {
        log.append("orders", &format!("late order {n}"));
    }
    settle().await;
    assert_eq!(
        log.reads(),
        reads_before,
        "messages appended after the subscriber left were copied out for nobody"
    );

    // The subscriber leaves just as a burst of another topic's messages is
    // appended, before the worker has run again: it must see that its
    // subscriber left before it copies more than one of them. Twenty times,
    // so that a worker that looks at the log first even only some of the
    // time is seen doing it: a `select!` without `biased` copies two or more
    // in a round with odds of 1 in 4, so it passes all twenty about 3 times
    // in 1,000.
    for round in 0..20 {
        let log = MessageLog::new();
        log.append("orders", "espresso");
        let schema = build_schema(&log);
        let mut stream = Box::pin(subscribe(&schema, "orders"));
        next_message("the first message", &mut stream).await;
        settle().await; // a worker waits for the log
        let reads_before = log.reads();

        drop(stream);
        for n in 0..10 {
            log.append("audit", &format!("login {n}"));
        }
        settle().await;
        assert!(
            log.reads() <= reads_before + 1,
            "round {round}: the subscriber left as 10 messages of another topic were \
             appended, and {} were copied out for nobody: look at the subscriber \
             (`Sender::closed`, first in a `biased` `select!`) before each copy",
            log.reads() - reads_before,
        );
        assert_eq!(
            alive_tasks(),
            tasks_before,
            "round {round}: a task outlived the subscription"
        );
    }
}
