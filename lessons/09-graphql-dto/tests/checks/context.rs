//! The schema keeps its own handle to the log, as `Schema::build(..).data(..)`
//! keeps everything it is given: it serves after the caller's handle is
//! gone, and every subscription gets every message of its topic.

use lesson::{MessageLog, build_schema};

use super::{drain, seq_and_text, subscribe};

#[tokio::test(start_paused = true)]
async fn the_schema_serves_after_the_callers_handle_is_dropped() {
    let log = MessageLog::new();
    log.append("orders", "espresso");
    log.append("orders", "cortado");
    log.close();
    let schema = build_schema(&log);
    drop(log);

    // A server keeps its schema and runs each subscription on a task of its
    // own: nothing either holds may borrow the caller.
    let subscription = tokio::spawn(drain(subscribe(&schema, "orders")));
    let messages = lesson_support::within("the subscription's task", subscription)
        .await
        .expect("the subscription's task panicked");

    assert_eq!(seq_and_text(&messages), [(0, "espresso"), (1, "cortado")]);
}

#[tokio::test(start_paused = true)]
async fn every_subscription_gets_every_message_of_its_topic() {
    let log = MessageLog::new();
    for (topic, text) in [
        ("orders", "espresso"),
        ("audit", "login"),
        ("orders", "cortado"),
    ] {
        log.append(topic, text);
    }
    log.close();
    let schema = build_schema(&log);

    // Three at once, as three clients of one server.
    let (first, second, audit) = futures::join!(
        drain(subscribe(&schema, "orders")),
        drain(subscribe(&schema, "orders")),
        drain(subscribe(&schema, "audit")),
    );

    let orders = [(0, "espresso"), (2, "cortado")];
    assert_eq!(seq_and_text(&first), orders);
    assert_eq!(
        seq_and_text(&second),
        orders,
        "a second subscriber of the same topic"
    );
    assert_eq!(seq_and_text(&audit), [(1, "login")]);

    // A client that subscribes again (after a disconnect, say) asks anew:
    // it gets the old messages first, as every subscription does.
    let again = drain(subscribe(&schema, "orders")).await;
    assert_eq!(
        seq_and_text(&again),
        orders,
        "a subscription of a topic that was subscribed to before"
    );
}

#[tokio::test(start_paused = true)]
async fn the_count_query_answers_from_the_live_log() {
    let log = MessageLog::new();
    log.append("orders", "espresso");
    let schema = build_schema(&log);
    let count = || async {
        let response = lesson_support::within("the count query", schema.execute("{ count }")).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response.data.into_json().expect("the data is JSON")["count"].as_u64()
    };

    assert_eq!(count().await, Some(1), "one message in the log");
    // The schema keeps a handle to the log, not a copy of what it held when
    // it was built: what the pipeline appends later is counted too.
    log.append("audit", "login");
    log.append("orders", "cortado");
    assert_eq!(count().await, Some(3), "three messages in the log");
}
