//! Every request is answered, once, with what its work came to, and its
//! amount is counted in its topic's total, once, by the time `serve`
//! returns.

use std::collections::BTreeMap;
use std::time::Duration;

use lesson::{Request, Tally, serve};
use lesson_support::within;
use tokio::time::sleep;

use super::{Gauge, amount_of, requests, topic_of};

#[tokio::test(start_paused = true)]
async fn every_request_is_answered_once_and_counted_once() {
    const REQUESTS: u64 = 2_000;
    const TOPICS: u32 = 7;
    let tally = Tally::new(8);
    // Work of uneven length, so that requests finish out of order.
    let work = |request: Request| async move {
        sleep(Duration::from_millis(request.id * 7 % 4)).await;
        amount_of(request.id)
    };

    let replies = within(
        "2,000 requests, 16 at a time",
        serve(
            requests(REQUESTS, TOPICS, &Gauge::default()),
            &tally,
            16,
            work,
        ),
    )
    .await;

    // In any order, but each request once, with its amount.
    let mut answered: BTreeMap<u64, u64> = BTreeMap::new();
    for reply in &replies {
        assert!(
            answered.insert(reply.id, reply.amount).is_none(),
            "request {} was answered twice",
            reply.id
        );
    }
    let missing: Vec<u64> = (0..REQUESTS)
        .filter(|id| !answered.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} requests got no reply, among them {:?}: are the last requests in \
         flight waited for before `serve` returns?",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    for (id, amount) in &answered {
        assert!(*id < REQUESTS, "a reply to request {id}, which nobody sent");
        assert_eq!(*amount, amount_of(*id), "the reply to request {id}");
    }

    // Every amount is in its topic's total when `serve` returns.
    for topic in 0..TOPICS + 1 {
        let expected: u64 = (0..REQUESTS)
            .filter(|id| topic_of(*id, TOPICS) == topic && topic < TOPICS)
            .map(amount_of)
            .sum();
        let total = within("a total from the tally", tally.total(topic)).await;
        assert_eq!(
            total, expected,
            "the total of topic {topic} once `serve` has returned: is every \
             amount added to the tally before its request is answered?"
        );
    }
}
