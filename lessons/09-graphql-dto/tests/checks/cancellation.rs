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
    // The subscriber stalls a minute (paused), then leaves: a worker that
    // waits for room must see it leave at once, not at its next retry.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let reads_before = log.reads();

    drop(stream);
    settle().await;
    assert_eq!(
        alive_tasks(),
        tasks_before,
        "the subscriber stalled a minute and left, and 40 ms (paused) later a \
         task still waits for room for it: wait for room with `send` (it fails \
         as soon as the receiver is dropped), not by retrying on a timer"
    );
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

/// A server runs its subscriptions on worker threads: a subscriber can
/// leave while the worker is copying, not only while it waits. Here the
/// worker runs on a thread of its own and the subscriber leaves from this
/// one as the worker starts on a burst of another topic's messages. A
/// worker that looks at its subscriber before each copy copies at most one
/// more; one aborted on drop stops where it next yields, which tokio's
/// cooperative budget makes it do after at most 128 ready waits; one that
/// looks only before it waits copies the rest of the burst for nobody.
#[test]
fn a_subscriber_that_leaves_from_another_thread_stops_the_copying_at_once() {
    use std::time::Instant;
    const BURST: u64 = 20_000;
    // Far more than a worker that stops at once, or at its next yield, can
    // copy; far fewer than the burst.
    const AT_MOST: u64 = 1_000;
    // A round shows something only if the worker has started on the burst
    // and is still behind the log when the subscriber leaves.
    let mut rounds_seen = 0;
    for _ in 0..20 {
        let log = MessageLog::new();
        log.append("orders", "espresso");
        let schema = build_schema(&log);
        let (hand_over, handed) = std::sync::mpsc::channel();
        let (go, burst_appended) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                // `execute_stream` itself, whose stream is `'static`.
                let mut stream = schema.execute_stream(
                    "subscription { messages(topic: \"orders\") { seq topic text } }",
                );
                next_message("the first message", &mut stream).await;
                hand_over
                    .send(stream)
                    .expect("the check waits for the stream");
                // This thread, and so the worker, is held until the whole
                // burst is in the log.
                let _ = burst_appended.recv();
                // Then the worker (if there is one) runs until it ends.
                let deadline = Instant::now() + Duration::from_secs(10);
                while alive_tasks() > 0 {
                    assert!(
                        Instant::now() < deadline,
                        "the subscriber left, yet a task still runs 10 s later"
                    );
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        });
        let stream = handed.recv().expect("the subscription started");
        for n in 0..BURST {
            log.append("audit", &format!("login {n}"));
        }
        go.send(()).expect("the server thread waits");
        // The subscriber leaves as soon as the worker has copied one
        // message of the burst.
        let deadline = Instant::now() + Duration::from_secs(10);
        while log.reads() < 2 && !server.is_finished() && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        drop(stream);
        let reads_at_drop = log.reads();
        if let Err(panic) = server.join() {
            std::panic::resume_unwind(panic);
        }
        if reads_at_drop < 2 || reads_at_drop + AT_MOST >= log.len() {
            // No worker started on the burst, or it was close to the end
            // of the log: this round shows nothing.
            continue;
        }
        assert!(
            log.reads() - reads_at_drop < AT_MOST,
            "the subscriber left with {} messages of another topic still to look \
             at, and {} of them were copied out for nobody: look at the subscriber \
             before each copy, not only before waiting",
            log.len() - reads_at_drop,
            log.reads() - reads_at_drop,
        );
        rounds_seen += 1;
        if rounds_seen == 3 {
            break;
        }
    }
}
