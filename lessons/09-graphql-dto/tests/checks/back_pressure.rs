//! A subscriber that does not read stops production: at most
//! `SUBSCRIBER_QUEUE` messages wait for it, and nothing is lost.

use std::time::Duration;

use lesson::{MessageLog, SUBSCRIBER_QUEUE, build_schema};
use lesson_support::settle;

use super::{drain, next_message, seq_and_text, subscribe};

#[tokio::test(start_paused = true)]
async fn a_subscriber_that_does_not_read_stops_production() {
    const MESSAGES: u64 = 1_000;
    let log = MessageLog::new();
    for n in 0..MESSAGES {
        log.append("orders", &format!("order {n}"));
    }
    let schema = build_schema(&log);
    let mut stream = Box::pin(subscribe(&schema, "orders"));

    // One message read, then the subscriber stalls.
    next_message("the first message", &mut stream).await;
    settle().await;

    // The one it read, `SUBSCRIBER_QUEUE` waiting for it, and one that a
    // worker holds while it waits for room to send it.
    let allowed = 1 + SUBSCRIBER_QUEUE as u64 + 1;
    assert!(
        log.reads() <= allowed,
        "the subscriber read 1 message, and {} were copied out of the log for it; \
         a bounded subscription stops after {allowed}: is the channel unbounded, \
         or longer than SUBSCRIBER_QUEUE, or is the whole log copied?",
        log.reads(),
    );

    // An hour later (paused time), reading again lets it go on, and nothing
    // was lost meanwhile: a slow subscriber is not a gone one.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(
        log.reads() <= allowed,
        "the subscriber stalled for an hour, and {} messages were copied out for it",
        log.reads(),
    );
    log.close();
    let rest = drain(stream).await;
    let seqs: Vec<u64> = rest.iter().map(|message| message.seq).collect();
    assert_eq!(seqs, (1..MESSAGES).collect::<Vec<_>>());
    // And the count the bound above reads is real: every message that
    // reached the subscriber was copied out of the log.
    assert!(
        log.reads() >= MESSAGES,
        "{MESSAGES} messages delivered, {} counted as copied out of the log",
        log.reads()
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_subscriber_holds_up_no_other() {
    const ORDERS: u64 = 40;
    let log = MessageLog::new();
    for n in 0..ORDERS {
        log.append("orders", &format!("order {n}"));
    }
    log.append("audit", "login");
    log.append("audit", "logout");
    let schema = build_schema(&log);

    // One subscriber reads a message and stalls, with its queue full.
    let mut stalled = Box::pin(subscribe(&schema, "orders"));
    next_message("the first message", &mut stalled).await;
    settle().await;

    // Another subscription has a queue of its own: it gets every message
    // of its topic while the first one still reads nothing.
    log.close();
    let audit = drain(subscribe(&schema, "audit")).await;
    assert_eq!(
        seq_and_text(&audit),
        [(ORDERS, "login"), (ORDERS + 1, "logout")],
        "a subscriber that stalls holds up no other subscription (is the \
         bound of SUBSCRIBER_QUEUE shared by the whole schema?)"
    );
    let rest = drain(stalled).await;
    let seqs: Vec<u64> = rest.iter().map(|message| message.seq).collect();
    assert_eq!(seqs, (1..ORDERS).collect::<Vec<_>>());
}
