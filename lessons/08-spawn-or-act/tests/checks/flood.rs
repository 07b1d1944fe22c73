//! A flood of requests is worked on a limited number at a time: at most
//! `max_in_flight` at once, and no more than that again taken from the
//! source and waiting for a turn; a finished request leaves nothing behind
//! but its reply. Up to the limit, requests run side by side, and a slow
//! one does not hold up the others. No request is taken before there is
//! room for it: what is taken and not done is the limit, and one more.

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use lesson::{Reply, Request, Tally, serve};
use lesson_support::{
    PATIENCE, alive_tasks, count_allocations, paused_runtime, within, within_for,
};
use tokio::time::{Instant, sleep};

use super::{Gauge, amount_of, gauged_work, requests, topic_of};

#[tokio::test(start_paused = true)]
async fn a_flood_of_20_000_requests_keeps_at_most_the_limit_in_flight() {
    // Twenty times the limit: every place is filled and freed twenty times
    // over, and the source is asked a thousand times for each round.
    const REQUESTS: u64 = 20_000;
    // A limit well above the caps a handler might set of its own (64, 100,
    // 256, 512): the configured one is the one that holds.
    const LIMIT: usize = 1_000;
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
    let work = gauged_work(&gauge, |_| Duration::from_millis(1), amount_of);

    let replies = within(
        "20,000 requests, 1,000 at a time",
        serve(source, &tally, LIMIT, work),
    )
    .await;

    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
    assert_eq!(
        gauge.max_in_flight(),
        LIMIT,
        "the most requests worked on at once; the limit is {LIMIT}, and a flood \
         keeps every place busy: more is too many, fewer is a cap of your own"
    );
}

#[test]
fn a_finished_request_leaves_nothing_behind_but_its_reply() {
    // The live bytes after 1,600 and after 16,000 finished requests, while
    // `serve` is still running: what grew in between is what the requests
    // left behind.
    const FIRST: u64 = 1_600;
    const ALL: u64 = 16_000;
    const LIMIT: usize = 64;
    let runtime = paused_runtime();
    let tally = runtime.block_on(async { Tally::new(16) });
    let gauge = Gauge::default();
    // The source gives requests up to the gate, then waits for it to open
    // further; it never ends.
    let (gate, opened) = tokio::sync::watch::channel(FIRST);
    let source = {
        let gauge = gauge.clone();
        futures::stream::iter(0..).then(move |id: u64| {
            let mut opened = opened.clone();
            let gauge = gauge.clone();
            async move {
                let _ = opened.wait_for(|open| id < *open).await;
                gauge.take();
                Request {
                    id,
                    topic: topic_of(id, 16),
                }
            }
        })
    };
    let work = gauged_work(&gauge, |_| Duration::from_millis(1), amount_of);
    let mut serving = Box::pin(serve(source, &tally, LIMIT, work));
    // Lets `serve` run until it waits for the gate. With paused time, the
    // clock jumps to the timeout only once every task waits.
    let mut run_until_it_waits = |upto: u64| {
        let waits = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), serving.as_mut())
                .await
                .is_err()
        });
        assert!(
            waits,
            "`serve` returned after {} finished requests, and its source never \
             ends",
            gauge.finished()
        );
        assert_eq!(
            gauge.finished() as u64,
            upto,
            "requests finished while the source waited to give more"
        );
    };
    run_until_it_waits(FIRST); // and what the runtime keeps for good

    let ((), counted) = count_allocations(|| {
        gate.send_replace(ALL);
        run_until_it_waits(ALL);
    });

    // The replies themselves, in a vector that grows by doubling: from a
    // capacity of 2,048 to one of 16,384. Anything kept for each finished
    // request on top of that (a JoinHandle, a finished task, an entry in a
    // map, even an id of 8 bytes in a vector of its own, which grows with
    // the replies' and stays under one and a half times their size) is too
    // much; 32 KiB is room for what does not grow with the requests.
    let places = |requests: u64| requests.next_power_of_two() as i64;
    let replies = (places(ALL) - places(FIRST)) * std::mem::size_of::<Reply>() as i64;
    let allowed = replies + 32 * 1024;
    let grew = counted.bytes_current;
    assert!(
        grew < allowed,
        "{grew} bytes more were live after 16,000 finished requests than after \
         1,600, with `serve` still running; at most {allowed} are allowed: a vector of \
         the replies growing from {} to {} places ({replies} bytes), and 32 KiB: \
         finished requests leave something behind (a JoinHandle kept for every \
         request? a finished task never joined? a record of every request ever seen, \
         or of its id?)",
        places(FIRST),
        places(ALL)
    );
}

#[tokio::test(start_paused = true)]
async fn requests_are_worked_on_side_by_side_up_to_the_limit() {
    const REQUESTS: u64 = 1_024;
    // A limit below the 16 that other checks use, and that no power of two
    // rounds up to.
    const LIMIT: usize = 5;
    // One request in every 16 is slow. Kept busy, 5 workers take the total
    // work divided by 5, plus at most one slow request at the end.
    let took = |id: u64| Duration::from_millis(if id % 16 == 7 { 40 } else { 2 });
    let total: Duration = (0..REQUESTS).map(took).sum();
    let allowed = total / LIMIT as u32 + Duration::from_millis(40 + 10);

    let tally = Tally::new(16);
    let gauge = Gauge::default();
    let work = gauged_work(&gauge, took, amount_of);
    let started = Instant::now();
    let replies = within(
        "1,024 requests, 5 at a time",
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

#[tokio::test(start_paused = true)]
async fn no_request_is_taken_before_there_is_room_for_it() {
    // Every place busy, then a request taken only as one is done: what is
    // taken and not done is the limit, and at most the one request a
    // dispatcher may hold while it waits for room. A queue in front of the
    // places (a channel that feeds a pool of workers) takes as many again.
    const REQUESTS: u64 = 600;
    const LIMIT: usize = 12;
    const NOT_DONE: usize = LIMIT + 1;

    let tally = Tally::new(16);
    let gauge = Gauge::default();
    let source = {
        let gauge = gauge.clone();
        futures::stream::iter(0..REQUESTS).map(move |id| {
            gauge.take();
            let not_done = gauge.not_done();
            assert!(
                not_done <= NOT_DONE,
                "{not_done} requests were taken from the source and are not done \
                 (in flight, or waiting for a place), with a limit of {LIMIT}: at most \
                 {NOT_DONE} may be (the limit, and one held while it waits for room). \
                 Requests are taken before there is room for them: a queue in front \
                 of the work (a channel that feeds a pool of workers)?"
            );
            Request {
                id,
                topic: topic_of(id, 16),
            }
        })
    };
    let work = gauged_work(&gauge, |_| Duration::from_millis(1), amount_of);

    let replies = within(
        "600 requests, 12 at a time",
        serve(source, &tally, LIMIT, work),
    )
    .await;

    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
}

/// The limit counts requests, not ids, and it holds for as long as the
/// work takes: requests whose ids repeat, each taking a year of
/// (paused) time, are worked on exactly the limit at a time.
#[tokio::test(start_paused = true)]
async fn the_limit_holds_for_requests_of_minutes_whose_ids_repeat() {
    const REQUESTS: u64 = 12;
    const LIMIT: usize = 4;
    // Three ids among twelve requests: four requests for each.
    const IDS: u64 = 3;
    // Work of a year (paused time): no time limit of `serve`'s own on a
    // wait for room, or on the work, shows up as a fourth request at once.
    const WORK: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    let tally = Tally::new(4);
    let gauge = Gauge::default();
    let source = {
        let gauge = gauge.clone();
        futures::stream::iter(0..REQUESTS).map(move |n| {
            gauge.take();
            Request {
                id: n % IDS,
                topic: 0,
            }
        })
    };
    let work = gauged_work(&gauge, |_| WORK, amount_of);
    // The whole takes three rounds of a year.
    let replies = within_for(
        "12 requests of a year, 4 at a time",
        3 * WORK + PATIENCE,
        serve(source, &tally, LIMIT, work),
    )
    .await;

    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
    assert_eq!(
        gauge.max_in_flight(),
        LIMIT,
        "the most requests worked on at once, when ids repeat (four requests for each \
         of three ids) and the work takes a year; the limit is {LIMIT}: are \
         requests in flight counted by id (a map of ids, where a repeated id counts \
         once)? does the wait for room give up after a while?"
    );
}

/// Ten times the flood's limit: a configured limit of 10,000 is the one
/// that holds, not a cap of the handler's own (1,024, 4,096, 8,192). The
/// source gives a tenth more than the limit, so every place is filled, and
/// a request waits for room.
#[tokio::test(start_paused = true)]
async fn a_limit_of_10_000_is_kept_whole() {
    const LIMIT: usize = 10_000;
    const REQUESTS: u64 = LIMIT as u64 + 1_000;
    let tally = Tally::new(16);
    let gauge = Gauge::default();
    let work = gauged_work(&gauge, |_| Duration::from_millis(1), amount_of);

    let replies = within(
        "11,000 requests, 10,000 at a time",
        serve(requests(REQUESTS, 16, &gauge), &tally, LIMIT, work),
    )
    .await;

    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
    assert_eq!(
        gauge.max_in_flight(),
        LIMIT,
        "the most requests worked on at once, with {REQUESTS} requests ready and a limit \
         of {LIMIT}: a limit ten times the flood's is kept whole (is it capped by a bound \
         of your own?)"
    );
}

/// Calling `work` starts a request's work (a work's synchronous part runs in
/// the call, before its future is awaited): `work` is called only when there
/// is room, so at most the limit are started and not done.
#[tokio::test(start_paused = true)]
async fn work_is_called_only_when_there_is_room() {
    const REQUESTS: u64 = 40;
    const LIMIT: usize = 4;
    let tally = Tally::new(4);
    let gauge = Gauge::default();
    let work = {
        let gauge = gauge.clone();
        move |request: Request| {
            // The call itself starts the work, as a service's client that
            // sends the request before it returns a future for the answer.
            gauge.start();
            let gauge = gauge.clone();
            async move {
                sleep(Duration::from_millis(5)).await;
                gauge.finish();
                amount_of(request.id)
            }
        }
    };
    let replies = within(
        "40 requests, 4 at a time",
        serve(requests(REQUESTS, 4, &gauge), &tally, LIMIT, work),
    )
    .await;
    assert_eq!(replies.len() as u64, REQUESTS, "one reply per request");
    assert_eq!(
        gauge.max_in_flight(),
        LIMIT,
        "the most requests whose `work` had been called and had not finished; the \
         limit is {LIMIT}: is `work(request)` called before there is room for the \
         request (its future made, and only its `.await` limited)?"
    );
}

/// The smallest limits are kept as given: with a limit of 1, 2 or 3, that
/// many requests are worked on at once, no more (not a floor of the
/// handler's own, such as the four cores of a usual machine) and no fewer.
#[tokio::test(start_paused = true)]
async fn a_limit_of_1_2_or_3_is_kept_as_given() {
    for limit in [1, 2, 3] {
        assert_eq!(
            most_at_once(limit).await,
            limit,
            "the most requests worked on at once, with a limit of {limit}: the \
             configured limit is the one that holds, however small (is it raised \
             to a floor of your own?)"
        );
    }
}

/// 24 requests served with a small `limit`, each answered: the most worked
/// on at once.
async fn most_at_once(limit: usize) -> usize {
    const REQUESTS: u64 = 24;
    let tally = Tally::new(4);
    let gauge = Gauge::default();
    let work = gauged_work(&gauge, |_| Duration::from_millis(1), amount_of);
    let replies = within(
        &format!("24 requests with a limit of {limit}"),
        serve(requests(REQUESTS, 4, &gauge), &tally, limit, work),
    )
    .await;
    assert_eq!(
        replies.len() as u64,
        REQUESTS,
        "one reply per request, with a limit of {limit}"
    );
    gauge.max_in_flight()
}

/// A tally that cannot take a command for a year (its runtime is not
/// driven), and `serve` on a runtime of its own: once the tally's mailbox
/// is full, a finished request waits in its place until its amount gets in,
/// so no more requests are taken. Taken and not counted: at most the
/// mailbox, the limit, and the one request a dispatcher may hold while it
/// waits for room. A queue of amounts in front of the tally (an adder fed
/// by an unbounded channel, an add spawned off) lets `serve` take the whole
/// flood while nothing is counted.
#[test]
fn a_tally_that_cannot_keep_up_holds_serve_back() {
    const REQUESTS: u64 = 1_000;
    const LIMIT: usize = 4;
    const MAILBOX: usize = 4;
    const NOT_COUNTED: usize = MAILBOX + LIMIT + 1;
    const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    let tally_runtime = paused_runtime();
    let tally = {
        let _inside = tally_runtime.enter();
        Tally::new(MAILBOX)
    };
    let serve_runtime = paused_runtime();
    let gauge = Gauge::default();
    let work = gauged_work(&gauge, |_| Duration::from_millis(1), |_| 1);
    let mut serving = Box::pin(serve(requests(REQUESTS, 1, &gauge), &tally, LIMIT, work));
    // A year on `serve`'s clock; the tally's task cannot run meanwhile.
    let _ = serve_runtime.block_on(async { tokio::time::timeout(YEAR, serving.as_mut()).await });
    // Counted already (a tally with no mailbox counts at once), or 0: the
    // question cannot get into a full mailbox.
    let counted = tally.total(0).now_or_never().unwrap_or(0) as usize;
    let taken = gauge.0.taken.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        taken - counted <= NOT_COUNTED,
        "{taken} requests were taken from the source and {counted} counted while the \
         tally could not take a command for a year (a mailbox of {MAILBOX}, a limit of \
         {LIMIT}): at most {NOT_COUNTED} may be taken and not counted. Are the amounts \
         queued in front of the tally (an unbounded channel to an adder, an add spawned \
         off), so that a tally that falls behind holds nobody back?"
    );
    drop(serving);
}

/// A limit of 0 is taken as 1, not as "no limit": 24 requests are worked on
/// one at a time, and each is answered.
#[tokio::test(start_paused = true)]
async fn a_limit_of_0_is_taken_as_1() {
    assert_eq!(
        most_at_once(0).await,
        1,
        "the most requests worked on at once, with a limit of 0: a 0 is taken as \
         1, not as no limit at all"
    );
}
