//! A flood of requests is worked on a limited number at a time: at most
//! `max_in_flight` at once, and no more than that again taken from the
//! source and waiting for a turn; a finished request leaves nothing behind
//! but its reply. Up to the limit, requests run side by side, and a slow
//! one does not hold up the others.

use std::time::Duration;

use futures::StreamExt;
use lesson::{Reply, Request, Tally, serve};
use lesson_support::{alive_tasks, count_allocations, paused_runtime, within};
use tokio::time::{Instant, sleep};

use super::{Gauge, amount_of, requests, topic_of};

#[tokio::test(start_paused = true)]
async fn a_flood_of_100_000_requests_keeps_at_most_the_limit_in_flight() {
    const REQUESTS: u64 = 100_000;
    const LIMIT: usize = 64;
    // In flight: the limit. Waiting for a turn: as many again, and the one a
    // dispatcher may hold while it waits for room.
    const WAITING: usize = LIMIT + 1;
    // Tasks: one per request in flight, and a few that live longer (the
    // tally's, a dispatcher's).
    const TASKS: usize = LIMIT + 4;

    let tally = Tally::new(16);
    let before = alive_tasks();
    let gauge = Gauge::default();
    // Every time a request is taken, the source looks at what the handler
    // holds, and stops the check at once if it holds too much.
    let source = {
        let gauge = gauge.clone();
        futures::stream::iter(0..REQUESTS).map(move |id| {
            gauge.take();
            let waiting = gauge.waiting();
            assert!(
                waiting <= WAITING,
                "{waiting} requests were taken from the source and are waiting for \
                 their turn (the limit is {LIMIT} in flight, and at most {WAITING} \
                 may wait): a task per request, or an unbounded queue, takes a \
                 flood faster than it can be worked on"
            );
            let tasks = alive_tasks() - before;
            assert!(
                tasks <= TASKS,
                "{tasks} tasks are alive for {LIMIT} requests in flight: requests \
                 are spawned faster than they finish"
            );
            Request {
                id,
                topic: topic_of(id, 16),
            }
        })
    };
    let work = {
        let gauge = gauge.clone();
        move |request: Request| {
            let gauge = gauge.clone();
            async move {
                gauge.start();
                sleep(Duration::from_millis(1)).await;
                gauge.finish();
                amount_of(request.id)
            }
        }
    };

    let replies = within(
        "100,000 requests, 64 at a time",
        serve(source, &tally, LIMIT, work),
    )
    .await;

    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
    assert!(
        gauge.max_in_flight() <= LIMIT,
        "{} requests were worked on at once; the limit is {LIMIT}",
        gauge.max_in_flight()
    );
}

#[test]
fn a_finished_request_leaves_nothing_behind_but_its_reply() {
    const REQUESTS: u64 = 20_000;
    const LIMIT: usize = 64;
    let runtime = paused_runtime();
    let flood = || {
        runtime.block_on(async {
            let tally = Tally::new(16);
            let work = |request: Request| async move {
                sleep(Duration::from_millis(1)).await;
                amount_of(request.id)
            };
            let requests = requests(REQUESTS, 16, &Gauge::default());
            within("20,000 requests", serve(requests, &tally, LIMIT, work)).await
        })
    };
    flood(); // a first run, for what the runtime keeps for good

    let (replies, counted) = count_allocations(flood);

    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
    // The replies themselves, in a vector that grows by doubling (while it
    // moves, the old and the new buffer are both alive), and up to 16 KiB
    // for each request in flight. Keeping every finished task until the end
    // costs several times that.
    let for_replies = 4 * REQUESTS * std::mem::size_of::<Reply>() as u64;
    let allowed = for_replies + LIMIT as u64 * 16 * 1024;
    assert!(
        counted.bytes_max < allowed,
        "{} bytes were held at once for 20,000 requests, {LIMIT} at a time; \
         at most {allowed} are allowed: finished requests keep memory until \
         the end (a JoinHandle kept for every request? every request spawned \
         at once?)",
        counted.bytes_max
    );
}

#[tokio::test(start_paused = true)]
async fn requests_are_worked_on_side_by_side_up_to_the_limit() {
    const REQUESTS: u64 = 1_024;
    const LIMIT: usize = 16;
    // One request in every 16 is slow. Kept busy, 16 workers take the total
    // work divided by 16, plus at most one slow request at the end.
    let took = |id: u64| Duration::from_millis(if id % 16 == 7 { 40 } else { 2 });
    let total: Duration = (0..REQUESTS).map(took).sum();
    let allowed = total / LIMIT as u32 + Duration::from_millis(40 + 10);

    let tally = Tally::new(16);
    let gauge = Gauge::default();
    let work = {
        let gauge = gauge.clone();
        move |request: Request| {
            let gauge = gauge.clone();
            async move {
                gauge.start();
                sleep(took(request.id)).await;
                gauge.finish();
                amount_of(request.id)
            }
        }
    };
    let started = Instant::now();
    let replies = within(
        "1,024 requests, 16 at a time",
        serve(requests(REQUESTS, 4, &gauge), &tally, LIMIT, work),
    )
    .await;
    let elapsed = started.elapsed();

    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
    assert_eq!(
        gauge.max_in_flight(),
        LIMIT,
        "the most requests worked on at once was {}, and the limit is {LIMIT}: \
         independent requests wait for each other (a lock held across the \
         work's .await, or requests worked on one at a time?)",
        gauge.max_in_flight()
    );
    assert!(
        elapsed <= allowed,
        "{REQUESTS} requests took {elapsed:?} of (paused) time; with {LIMIT} at \
         work all the time they take at most {allowed:?}: a slow request holds \
         up others (requests worked on in groups that wait for their slowest?)"
    );
}
