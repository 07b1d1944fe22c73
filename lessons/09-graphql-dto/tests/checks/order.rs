//! A subscription streams the messages of its topic, oldest first, then
//! each new one as it arrives, and ends when the log is closed.

use std::time::Duration;

use lesson::{MessageLog, build_schema};
use lesson_support::settle;

use futures::StreamExt;

use super::{drain, message, next_message, seq_and_text, subscribe};

#[tokio::test(start_paused = true)]
async fn a_subscription_streams_its_topic_in_order_then_ends() {
    let log = MessageLog::new();
    for (topic, text) in [
        ("orders", "espresso"),
        ("audit", "login"),
        ("orders", "flat white"),
        ("orders", "cortado"),
        // The same order twice is two messages.
        ("orders", "cortado"),
        // A topic whose name begins with the one asked for is another
        // topic, and so is one whose name differs only in case.
        ("orders/refunds", "refund"),
        ("orders.eu", "stroopwafel"),
        ("Orders", "ristretto"),
        ("audit", "logout"),
        // Nor is one that differs only by a space, and the empty topic
        // is a topic of its own, not every topic.
        ("orders ", "to go"),
        ("", "untagged"),
        // A trailing slash makes another topic too, not the same one
        // written another way.
        ("orders/", "decaf"),
        // A topic whose name holds a comma is one topic, not a list that
        // takes in `orders`.
        ("orders,audit", "bundle"),
    ] {
        log.append(topic, text);
    }
    log.close();
    let schema = build_schema(&log);

    let messages = drain(subscribe(&schema, "orders")).await;

    assert_eq!(
        seq_and_text(&messages),
        [
            (0, "espresso"),
            (2, "flat white"),
            (3, "cortado"),
            (4, "cortado")
        ],
        "the messages of the topic, in the log's order, each once (two messages \
         with the same text are two messages; `Orders`, `orders/refunds`, \
         `orders.eu`, `orders/`, `orders ` and `orders,audit` are other topics)"
    );
    assert!(messages.iter().all(|message| message.topic == "orders"));

    let untagged = drain(subscribe(&schema, "")).await;
    assert_eq!(
        seq_and_text(&untagged),
        [(10, "untagged")],
        "a subscription to the empty topic gets the messages of the empty topic, \
         not those of every topic"
    );

    let listed = drain(subscribe(&schema, "orders,audit")).await;
    assert_eq!(
        seq_and_text(&listed),
        [(12, "bundle")],
        "`orders,audit` is the name of one topic, with one message, not a list \
         of topics"
    );
}

#[tokio::test(start_paused = true)]
async fn messages_appended_later_arrive_as_they_come() {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    let log = MessageLog::new();
    let schema = build_schema(&log);

    // The log is empty when this subscriber starts waiting: the first
    // message appended is the first it gets.
    let mut early = Box::pin(subscribe(&schema, "orders"));
    let appending = async {
        settle().await;
        log.append("orders", "espresso");
    };
    let (first, ()) = tokio::join!(
        next_message("the first message, appended after subscribing", &mut early),
        appending
    );
    assert_eq!(
        first.map(|m| (m.seq, m.text)),
        Some((0, "espresso".to_owned())),
        "a subscription to an empty log gets the first message appended to it"
    );
    drop(early);

    // A subscriber that comes later gets it too, from the log.
    let mut stream = Box::pin(subscribe(&schema, "orders"));
    let first = next_message("the message already in the log", &mut stream).await;
    assert_eq!(first.map(|m| m.text).as_deref(), Some("espresso"));

    // The subscriber waits, through a year in which nothing is appended
    // (paused time: it passes at once); then the pipeline appends. No idle
    // limit, however long, may end a subscription: only the close does.
    settle().await;
    tokio::time::sleep(YEAR).await;
    log.append("audit", "login");
    log.append("orders", "flat white");
    let second = next_message("a message appended after subscribing", &mut stream).await;
    assert_eq!(
        second.map(|m| (m.seq, m.text)),
        Some((2, "flat white".to_owned()))
    );

    // This time the subscriber is already waiting for the next message
    // through a year in which nothing is appended: a stream that ends when
    // it finds nothing new ends here.
    let appending = async {
        tokio::time::sleep(YEAR).await;
        log.append("orders", "cortado");
        log.close();
    };
    let waiting = tokio::time::timeout(YEAR + Duration::from_secs(100), stream.next());
    let (third, ()) = tokio::join!(waiting, appending);
    let third = third
        .expect("the message appended after a year arrives")
        .map(message);
    assert_eq!(
        third.map(|m| m.text).as_deref(),
        Some("cortado"),
        "a subscriber waiting for the next message through a quiet year gets it \
         when it is appended (did the subscription end when it found nothing new?)"
    );
    let end = next_message("the end of the subscription", &mut stream).await;
    assert!(
        end.is_none(),
        "the log is closed, so the subscription ends: {end:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn messages_appended_while_the_subscriber_stalls_arrive_before_the_end() {
    const BEFORE: u64 = 40;
    const DURING: u64 = 40;
    let log = MessageLog::new();
    for n in 0..BEFORE {
        log.append("orders", &format!("order {n}"));
    }
    let schema = build_schema(&log);
    let mut stream = Box::pin(subscribe(&schema, "orders"));
    next_message("the first message", &mut stream).await;
    settle().await; // the queue is full: a worker waits for room

    // The pipeline appends while the subscriber reads nothing, and then
    // closes the log: what it appended is owed all the same.
    for n in BEFORE..BEFORE + DURING {
        log.append("orders", &format!("order {n}"));
    }
    settle().await;
    log.close();

    let rest = drain(stream).await;
    let seqs: Vec<u64> = rest.iter().map(|message| message.seq).collect();
    assert_eq!(
        seqs,
        (1..BEFORE + DURING).collect::<Vec<_>>(),
        "the messages after the first, each once, in order, then the end: those \
         appended while the subscriber stalled too (does the worker resume from \
         the log's length rather than from the next message it owes?)"
    );
}
