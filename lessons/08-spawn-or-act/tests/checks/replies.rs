//! Every request is answered, once, with what its work came to, and its
//! amount is counted in its topic's total, once, by the time `serve`
//! returns: a request whose work takes minutes too. The totals are running
//! totals: a finished request is counted while `serve` still runs.

use std::collections::BTreeMap;
use std::pin::pin;
use std::time::Duration;

use futures::StreamExt;
use lesson::{Request, Tally, serve};
use lesson_support::{PATIENCE, within, within_for};

use super::{Gauge, amount_of, gauged_work, requests, topic_of};

#[tokio::test(start_paused = true)]
async fn every_request_is_answered_once_and_counted_once() {
    const REQUESTS: u64 = 2_000;
    const TOPICS: u32 = 7;
    // One request whose work (another service) takes a year: no time limit
    // of `serve`'s own cuts it off.
    const SLOW_ID: u64 = 1_013;
    const SLOW: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    let tally = Tally::new(8);
    // Work of uneven length, so that requests finish out of order.
    let took = |id| {
        if id == SLOW_ID {
            SLOW
        } else {
            Duration::from_millis(id * 7 % 4)
        }
    };
    let work = gauged_work(&Gauge::default(), took, amount_of);

    // The whole may take as long as the slowest work (paused time).
    let replies = within_for(
        "2,000 requests, 16 at a time, one of them a year long",
        SLOW + PATIENCE,
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
        assert_eq!(
            *amount,
            amount_of(*id),
            "the reply to request {id}{}",
            if *id == SLOW_ID {
                ", whose work took a year (a timeout of your own gave up on it?)"
            } else {
                ""
            }
        );
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

/// An id is the caller's name for a request, not a promise that it comes
/// once: a request whose id comes again, while the first is in flight or
/// after it has been answered, is a request of its own, answered and counted.
#[tokio::test(start_paused = true)]
async fn a_request_whose_id_comes_again_is_answered_again() {
    const IDS: u64 = 50;
    const TOPICS: u32 = 3;
    // 0, 0, 1, 1, ..., 49, 49, then 0 to 49 once more: three requests for
    // each id, the first two next to each other, so in flight together.
    let ids: Vec<u64> = (0..IDS).flat_map(|id| [id, id]).chain(0..IDS).collect();
    let sent = ids.len();
    let tally = Tally::new(4);
    let stream = futures::stream::iter(ids).map(|id| Request {
        id,
        topic: topic_of(id, TOPICS),
    });
    let work = gauged_work(&Gauge::default(), |_| Duration::from_millis(1), amount_of);
    let replies = within(
        "150 requests for 50 ids, 4 at a time",
        serve(stream, &tally, 4, work),
    )
    .await;

    let mut answered: BTreeMap<u64, usize> = BTreeMap::new();
    for reply in &replies {
        assert_eq!(
            reply.amount,
            amount_of(reply.id),
            "the reply to request {}",
            reply.id
        );
        *answered.entry(reply.id).or_default() += 1;
    }
    for id in 0..IDS {
        assert_eq!(
            answered.get(&id).copied().unwrap_or(0),
            3,
            "{} replies for {sent} requests; id {id} was sent three times, twice in a row, and \
             each is a request of its own: is a request whose id is in flight, or was seen \
             before, taken for a duplicate and dropped?",
            replies.len()
        );
    }
    for topic in 0..TOPICS {
        let expected: u64 = (0..IDS)
            .filter(|id| topic_of(*id, TOPICS) == topic)
            .map(|id| 3 * amount_of(id))
            .sum();
        let total = within("a total from the tally", tally.total(topic)).await;
        assert_eq!(
            total, expected,
            "the total of topic {topic}: every request counts, whatever its id"
        );
    }
}

/// A server's source may never end, so `serve` may never return (a source
/// silent for a year has not ended either): the totals
/// are running totals, and a request is counted once it is done, while
/// `serve` still runs, not kept back until the source ends.
#[tokio::test(start_paused = true)]
async fn a_finished_request_is_counted_while_serve_still_runs() {
    const REQUESTS: u64 = 100;
    const TOPICS: u32 = 3;
    let tally = Tally::new(4);
    // 100 requests, then a source that waits for ever.
    let source = requests(REQUESTS, TOPICS, &Gauge::default()).chain(futures::stream::pending());
    let work = gauged_work(
        &Gauge::default(),
        |id| Duration::from_millis(1 + id % 3),
        amount_of,
    );
    let mut serving = pin!(serve(source, &tally, 8, work));
    // A year of (paused) time: a source that says nothing for a year has
    // not ended, and `serve` has no timer of its own to end it.
    const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    let started = tokio::time::Instant::now();
    let waited = within_for(
        "100 requests, 8 at a time, then a source that waits",
        YEAR + PATIENCE,
        tokio::time::timeout(YEAR, serving.as_mut()),
    )
    .await;
    assert!(
        waited.is_err(),
        "`serve` returned after {:?}, and its source never ends: a source silent for a \
         while taken for one that has ended?",
        started.elapsed()
    );

    // `serve` is still running (and not dropped) while the totals are read.
    for topic in 0..TOPICS {
        let expected: u64 = (0..REQUESTS)
            .filter(|id| topic_of(*id, TOPICS) == topic)
            .map(amount_of)
            .sum();
        let total = within("a total from the tally", tally.total(topic)).await;
        assert_eq!(
            total, expected,
            "the total of topic {topic} once its 100 requests are done, with `serve` \
             still running: are the amounts kept back until the source ends (summed \
             in `serve`, added when it returns)?"
        );
    }
}

/// `serve` returns when every request is done: answered, and its amount
/// handed to the tally. Nothing it started is still running once it has
/// returned, even with a tally whose mailbox holds one command, and requests
/// that all finish at the same instant. `serve` runs in a task of its own
/// here, as a server's would, so that the tasks it woke and its own turn
/// come in the order they were woken.
#[tokio::test(start_paused = true)]
async fn nothing_serve_started_outlives_it() {
    const REQUESTS: u64 = 256;
    const TOPICS: u32 = 4;
    const LIMIT: usize = 64;
    let tally = Tally::new(1);
    // The work of 64 requests at a time ends at the same instant: their
    // amounts reach the tally together, more than its mailbox holds.
    let work = gauged_work(&Gauge::default(), |_| Duration::from_millis(1), amount_of);
    let serving = {
        let tally = tally.clone();
        tokio::spawn(async move {
            // The tally's task, and this one.
            let before = lesson_support::alive_tasks();
            let replies = serve(
                requests(REQUESTS, TOPICS, &Gauge::default()),
                &tally,
                LIMIT,
                work,
            )
            .await;
            // Looked at before anything else runs: right as `serve` returns.
            (replies, lesson_support::alive_tasks() - before)
        })
    };
    let (replies, left) = within("256 requests, 64 at a time, a mailbox of 1", serving)
        .await
        .expect("`serve` returns");
    assert_eq!(
        left,
        0,
        "{left} tasks that `serve` started were still alive when it returned, with \
         {} replies: does `serve` return once it has a reply per request, while the \
         last requests are still recording their amounts (answered before they are \
         counted)?",
        replies.len()
    );
    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
    for topic in 0..TOPICS {
        let expected: u64 = (0..REQUESTS)
            .filter(|id| topic_of(*id, TOPICS) == topic)
            .map(amount_of)
            .sum();
        let total = within("a total from the tally", tally.total(topic)).await;
        assert_eq!(
            total, expected,
            "the total of topic {topic} once `serve` has returned"
        );
    }
}

/// The source's end is `serve`'s: once the source has said it has ended
/// (`None`), `serve` does not ask it again, while its last requests finish.
/// The `Stream` trait lets a stream polled after its end panic, hang or
/// start over; this source counts the times it is asked.
#[tokio::test(start_paused = true)]
async fn an_ended_source_is_not_asked_again() {
    const REQUESTS: u64 = 40;
    const TOPICS: u32 = 3;
    let asked_after_end = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let source = {
        let asked_after_end = std::sync::Arc::clone(&asked_after_end);
        let mut inner = Box::pin(requests(REQUESTS, TOPICS, &Gauge::default()));
        let mut ended = false;
        futures::stream::poll_fn(move |cx| {
            if ended {
                asked_after_end.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return std::task::Poll::Ready(None);
            }
            let next = inner.poll_next_unpin(cx);
            ended = matches!(next, std::task::Poll::Ready(None));
            next
        })
    };
    let tally = Tally::new(4);
    // Uneven work, so that requests are still in flight when the source ends.
    let work = gauged_work(
        &Gauge::default(),
        |id| Duration::from_millis(1 + id % 5),
        amount_of,
    );
    let replies = within(
        "40 requests, 8 at a time, from a source that ends",
        serve(source, &tally, 8, work),
    )
    .await;
    let asked = asked_after_end.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        asked, 0,
        "the source was polled {asked} times after it had returned None: a stream \
         may panic or hang when asked again after its end (a `select!` branch on \
         `requests.next()` that is disabled for one turn only, polled again on the \
         next?)"
    );
    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
}
