//! The tally is long-lived state with back pressure: a caller faster than
//! the tally waits for it instead of piling commands up in memory, an add
//! leaves nothing behind once it is counted, no more (and, if commands
//! wait at all, no fewer) than the mailbox's capacity of commands wait for
//! it, and the tally lives as long as a handle to it does (a question given
//! up on, or a long pause, does not end it, nor takes another's answer), and
//! no longer.

use std::time::Duration;

use futures::FutureExt;
use lesson::Tally;
use lesson_support::{alive_tasks, count_allocations, paused_runtime, settle, within};

#[test]
fn a_caller_faster_than_the_tally_waits_for_it() {
    const FIRST: u64 = 2_000;
    const ADDS: u64 = 20_000;
    // 18,000 commands queued cost hundreds of kilobytes; a bounded mailbox
    // of 16, or no queue at all, a few kilobytes.
    const HELD: u64 = 64 * 1024;
    // Once every add is counted, the tally holds four totals, as it did
    // after the first 2,000: the same size, give or take a block of its
    // mailbox.
    const KEPT: i64 = 4 * 1024;
    let runtime = paused_runtime();
    let tally = runtime.block_on(async { Tally::new(16) });
    // One caller that never waits for anything but the tally itself, then a
    // total: every add before it has been counted.
    let adds = |from: u64, to: u64| {
        runtime.block_on(async {
            for n in from..to {
                within("an add", tally.add((n % 4) as u32, 1)).await;
            }
            within("a total", tally.total(0)).await
        })
    };
    adds(0, FIRST); // for what the runtime and the tally keep for good

    let (total, counted) = count_allocations(|| adds(FIRST, ADDS));

    assert_eq!(total, ADDS / 4, "every add is counted");
    assert!(
        counted.bytes_max < HELD,
        "{} bytes were held at once while one caller added {} times: the \
         commands queue up without limit (an unbounded mailbox?) instead of \
         making the caller wait, or the tally keeps something of every add",
        counted.bytes_max,
        ADDS - FIRST
    );
    assert!(
        counted.bytes_current < KEPT,
        "{} bytes more were live after {ADDS} adds than after {FIRST}, every one \
         counted and the tally still alive: an add leaves something behind (a record \
         of every amount, summed when asked?); a total is one number per topic",
        counted.bytes_current
    );
}

/// A question leaves nothing behind: asking for the totals of 10,000
/// topics nobody added to, with the tally alive, keeps nothing of them (a
/// total of 0 is an answer, not an entry to make). A tally that inserts a
/// 0 for each topic it is asked about grows with every new question.
#[test]
fn questions_about_topics_nobody_added_to_leave_nothing_behind() {
    const QUESTIONS: u32 = 10_000;
    const KEPT: i64 = 4 * 1024;
    let runtime = paused_runtime();
    let tally = runtime.block_on(async { Tally::new(16) });
    let ask = |topics: std::ops::Range<u32>| {
        runtime.block_on(async {
            for topic in topics {
                let total = within("a total", tally.total(topic)).await;
                assert_eq!(total, 0, "topic {topic}: nobody added to it");
            }
        })
    };
    ask(0..100); // for what the runtime and the tally keep for good
    let ((), counted) = count_allocations(|| ask(100..100 + QUESTIONS));
    assert!(
        counted.bytes_current < KEPT,
        "{} bytes more were live after {QUESTIONS} questions about topics nobody added \
         to, the tally still alive: a question leaves something behind (a total of 0 \
         made for every topic asked about?)",
        counted.bytes_current
    );
}

#[test]
fn no_more_commands_than_the_mailbox_holds_wait_for_the_tally() {
    // The smallest mailbox there is, and one of a few places.
    for capacity in [1, 4] {
        mailbox_of(capacity);
    }
}

/// Ten times the other checks' mailboxes and more: a mailbox of 2,000 holds
/// 2,000 commands while the tally cannot run, not a bound of the tally's own
/// (256, 1,024).
#[test]
fn a_mailbox_of_2_000_holds_2_000_commands() {
    mailbox_of(2_000);
}

fn mailbox_of(capacity: usize) {
    mailbox_given(capacity, capacity);
}

/// A mailbox of `given` places (as passed to `Tally::new`) that holds
/// `capacity` commands.
fn mailbox_given(given: usize, capacity: usize) {
    // Enough adds to fill the mailbox, and more.
    let tries = (capacity as u64 + 1).max(64);
    let runtime = paused_runtime();
    let inside = runtime.enter();
    let tally = Tally::new(given);
    // Nothing runs the runtime (no `block_on`): a task the tally started
    // cannot take a command from its mailbox. Each add is polled once.
    let mut returned = 0;
    let mut cut_off = 0;
    while returned < tries {
        if tally.add(0, 1).now_or_never().is_none() {
            // Dropped while it waits: for room in the mailbox, or, in a
            // tally whose `add` waits until it is counted, for that.
            cut_off = 1;
            break;
        }
        returned += 1;
    }
    // An add that returned is counted already, or it waits to be.
    let counted = tally.total(0).now_or_never().unwrap_or(0);
    let waiting = returned - counted;
    assert!(
        waiting <= capacity as u64,
        "{returned} adds returned while the tally could not run, and {waiting} of \
         them wait to be counted; the mailbox holds {capacity}: is the mailbox's \
         size the capacity given to `Tally::new`?"
    );
    // A mailbox holds what it was given: the command the tally's task works
    // on is no longer in it. (An add that waits until it is counted lets
    // none wait, and one counted at once lets every one return.)
    assert!(
        waiting == 0 || waiting == capacity as u64,
        "only {waiting} adds could wait in a mailbox of {capacity} while the tally \
         could not run: a caller waits only beyond the capacity (one place fewer, for \
         the command in the task's hands?)"
    );
    drop(inside);

    let total = runtime.block_on(within("a total", tally.total(0)));
    assert!(
        returned <= total && total <= returned + cut_off,
        "{returned} adds returned and the total is {total}: every add that returned is \
         counted, once (and the one add dropped while it waited, at most once)"
    );
}

#[tokio::test(start_paused = true)]
async fn the_tally_stops_when_its_last_handle_is_dropped() {
    let before = alive_tasks();
    let tally = Tally::new(4);
    let other = tally.clone();
    within("an add", tally.add(7, 5)).await;
    // A question given up on: asked, and dropped before its answer came (as
    // a timeout around `total` does). Then ten minutes without a command.
    let _ = tally.total(7).now_or_never();
    settle().await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    // The next question gets its own answer, not the one given up on.
    within("an add", other.add(7, 3)).await;

    drop(tally);
    settle().await;
    let asked = {
        let other = other.clone();
        tokio::spawn(async move { other.total(7).await })
    };
    let answer = within("a total from the handle that is left", asked).await;
    assert!(
        matches!(answer, Ok(8)),
        "one handle is gone, and the other asks for a total of 5 + 3: {answer:?}. While a \
         handle is left, the tally answers, after a question that was given up on (does \
         the tally's task panic when it cannot deliver an answer? is the answer nobody \
         took handed to the next question?) and after ten minutes without a command \
         (does it end itself when idle?)"
    );

    drop(other);
    settle().await;
    assert_eq!(
        alive_tasks(),
        before,
        "every handle of the tally is gone and a task it started is still \
         alive: nothing can reach it, and it never ends"
    );
}

/// Ten times the mailbox of 2,000: a mailbox of 20,000 holds 20,000
/// commands while the tally cannot run, not a bound of the tally's own
/// (4,096, 16,384) kept in case the configured one is large.
#[test]
fn a_mailbox_of_20_000_holds_20_000_commands() {
    mailbox_of(20_000);
}

/// Pauses far longer than any other check's (paused time): a tally left
/// without a command for a year still counts and answers. It has no
/// timer: an idle timeout of an hour, a day or a month ends it while a
/// handle is still held.
#[tokio::test(start_paused = true)]
async fn the_tally_still_counts_after_a_year_without_a_command() {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    let tally = Tally::new(4);
    within("an add", tally.add(3, 5)).await;
    within("a total", tally.total(3)).await;
    tokio::time::sleep(YEAR).await;
    within("an add a year later", tally.add(3, 3)).await;
    let total = within("a total a year later", tally.total(3)).await;
    assert_eq!(
        total, 8,
        "5 was added, then, a year later, 3, with a handle held all along: the \
         tally's total of 5 + 3 is {total}. A tally lives as long as a handle to it \
         does: does it end itself after a while without a command?"
    );
}

/// A question given up on, then an add, then a question through the same
/// handle: the answer counts the add. An answer belongs to its question,
/// not to the handle that asked it: one answer channel per handle, reused
/// by every question asked through it, keeps the answer nobody took for
/// the next question.
#[tokio::test(start_paused = true)]
async fn a_question_given_up_on_leaves_nothing_for_the_next_one_on_its_handle() {
    let tally = Tally::new(4);
    within("an add", tally.add(7, 5)).await;
    let _ = tally.total(7).now_or_never(); // asked, and given up on
    settle().await;
    within("an add", tally.add(7, 3)).await;
    let answer = within("a total through the same handle", tally.total(7)).await;
    assert_eq!(
        answer, 8,
        "5 was added, a total of it was asked and given up on, 3 was added, and the \
         next total through the same handle says {answer}: is the answer nobody took \
         handed to the next question (an answer channel per handle, not per question)?"
    );
}

/// The mailbox holds questions as well as adds, `mailbox_capacity` commands
/// in all: with the tally unable to run and the mailbox full of questions,
/// no add returns to wait (nor, with the mailbox full of adds, does a
/// question get in: that is the same count). A mailbox of the capacity for
/// the adds and another for the questions lets twice as many wait.
#[test]
fn questions_and_adds_wait_in_one_mailbox_of_the_capacity() {
    for capacity in [1, 4] {
        questions_then_adds(capacity);
    }
}

fn questions_then_adds(capacity: usize) {
    let runtime = paused_runtime();
    let inside = runtime.enter();
    let tally = Tally::new(capacity);
    // Nothing runs the runtime: the tally's task cannot take a command. Each
    // question is polled once and kept, so a question in the mailbox stays;
    // each through a handle of its own, so no question waits for another.
    let handles: Vec<Tally> = (0..capacity).map(|_| tally.clone()).collect();
    let mut questions: Vec<_> = handles
        .iter()
        .map(|handle| Box::pin(handle.total(0)))
        .collect();
    let asked = questions
        .iter_mut()
        .map(|question| question.as_mut().now_or_never())
        .filter(Option::is_none)
        .count();
    // Adds on another topic: a tally with a mailbox per topic shows too.
    let mut returned = 0;
    while returned <= capacity && tally.add(1, 1).now_or_never().is_some() {
        returned += 1;
    }
    // An add that returned is counted already, or it waits to be.
    let counted = tally.total(1).now_or_never().unwrap_or(0) as usize;
    let waiting = asked + (returned - counted);
    assert!(
        waiting <= capacity,
        "{asked} questions were asked and are unanswered, and then {returned} adds \
         returned ({counted} of them counted) while the tally could not run: {waiting} \
         commands wait, and the mailbox holds {capacity}. Questions and adds share the \
         one mailbox of `Tally::new`'s capacity (a mailbox for each, or one per topic, \
         holds more)"
    );
    drop(questions);
    drop(inside);
    let total = runtime.block_on(within("a total", tally.total(1)));
    assert_eq!(total, returned as u64, "every add that returned is counted");
}

/// Held by the checks that start threads of their own, so that they run
/// one at a time: two first adds race only when both threads are running,
/// and four threads that hammer the tally beside them leave the two cores
/// little room.
static THREADS_OF_THEIR_OWN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Adds to one topic from four threads at once, each on a runtime of its
/// own, while the check's runtime (the one the tally was made in) waits for
/// them: every add is counted. An `add` that reads the total and then
/// writes the total plus its amount, under two locks, loses the amounts of
/// the adds that ran in between; one message per add to one owner, or one
/// lock held for the whole update, loses none.
#[tokio::test]
async fn adds_from_four_threads_at_once_are_each_counted() {
    let _cores = THREADS_OF_THEIR_OWN.lock().await;
    const THREADS: u64 = 4;
    const ADDS: u64 = 20_000;
    let tally = Tally::new(4096);
    let start = std::sync::Arc::new(std::sync::Barrier::new(THREADS as usize));
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<()>();
    for _ in 0..THREADS {
        let tally = tally.clone();
        let start = std::sync::Arc::clone(&start);
        let done = done.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a current-thread runtime can be built");
            start.wait();
            runtime.block_on(async {
                for _ in 0..ADDS {
                    tally.add(0, 1).await;
                }
            });
            let _ = done.send(());
        });
    }
    drop(done);
    within("the adds of four threads", async {
        while finished.recv().await.is_some() {}
    })
    .await;
    let total = within("a total", tally.total(0)).await;
    assert_eq!(
        total,
        THREADS * ADDS,
        "{THREADS} threads added 1 to the same topic {ADDS} times each, at once: every \
         add is counted (does `add` read the total, then write it back plus the amount, \
         so that two adds at once both write the same new total?)"
    );
}

/// First adds to topics nobody has added to yet, from two threads at once,
/// each on a runtime of its own, released together before each topic (they
/// spin until both are there): every add is counted. A shared map that
/// looks for the topic under one lock and inserts it under another (a read
/// lock, then a write lock) lets two first adds both find nothing and both
/// insert, and the second insert replaces the first; a single lock for the
/// whole update, an entry API under the write lock, or one owner that gets
/// a message per add loses none. The threads go on until they have started
/// a thousand topics while both were running (other checks share the
/// cores), or twenty thousand topics in all (a loaded machine may give
/// them fewer rounds together, never a false failure).
#[tokio::test]
async fn first_adds_to_a_new_topic_from_two_threads_at_once_are_each_counted() {
    let _cores = THREADS_OF_THEIR_OWN.lock().await;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
    const THREADS: u32 = 2;
    const AT_ONCE: u32 = 1_000;
    const MOST: u32 = 20_000;
    // Room for every add: the threads never wait for the tally's task,
    // which runs on this check's thread, only for each other.
    let tally = Tally::new((THREADS * MOST) as usize);
    // How many threads have come to the start of a topic, all topics
    // counted: topic `t` starts once it is `THREADS * (t + 1)`.
    let arrived = std::sync::Arc::new(AtomicU32::new(0));
    // Topics started while both threads were running: the first to come
    // saw the other come while it spun, without letting go of its core.
    let together = std::sync::Arc::new(AtomicU32::new(0));
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<u32>();
    for _ in 0..THREADS {
        let tally = tally.clone();
        let (arrived, together, stop) = (arrived.clone(), together.clone(), stop.clone());
        let done = done.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a current-thread runtime can be built");
            let mut topic = 0;
            while topic < MOST && together.load(SeqCst) < AT_ONCE {
                let first = arrived.fetch_add(1, SeqCst) == THREADS * topic;
                let mut spins = 0u32;
                let mut yielded = false;
                while arrived.load(SeqCst) < THREADS * (topic + 1) && !stop.load(SeqCst) {
                    spins += 1;
                    if spins.is_multiple_of(4096) {
                        // The other thread is not running: let it.
                        std::thread::yield_now();
                        yielded = true;
                    } else {
                        std::hint::spin_loop();
                    }
                }
                if stop.load(SeqCst) {
                    break;
                }
                // The first to come spun on its core until the other came:
                // both were running when they went on.
                if first && !yielded {
                    together.fetch_add(1, SeqCst);
                }
                runtime.block_on(tally.add(topic, 1));
                topic += 1;
            }
            // The other thread may be waiting for this one at a topic it
            // will not start.
            stop.store(true, SeqCst);
            let _ = done.send(topic);
        });
    }
    drop(done);
    let mut added = Vec::new();
    within("the first adds of two threads", async {
        while let Some(topics) = finished.recv().await {
            added.push(topics);
        }
    })
    .await;
    // Topics both threads added to (one may have gone one topic further).
    let both = added.iter().copied().min().unwrap_or(0);
    let mut short = Vec::new();
    for topic in 0..both {
        let total = within("a total", tally.total(topic)).await;
        if total != u64::from(THREADS) {
            short.push((topic, total));
        }
    }
    assert!(
        short.is_empty(),
        "{THREADS} threads each added 1 to each of {both} new topics, both at once for \
         {} of them, and {} topics do not total {THREADS} (topic, total: {:?}): two first \
         adds to one topic at once both inserted it, and one replaced the other (a look \
         under one lock, and an insert under another?)",
        together.load(SeqCst),
        short.len(),
        &short[..short.len().min(8)]
    );
}

/// A tally that cannot take a command for a year (its runtime is not
/// driven), and a caller on a runtime of its own, whose clock runs: the
/// caller's adds wait for room in the full mailbox, and its question for
/// room and for its answer, however long. None gives up: an add that gives
/// up drops its amount, and a question that gives up answers without the
/// tally. Once the tally runs again, every add is counted and the question
/// answered with all of them.
#[test]
fn a_full_mailbox_is_waited_for_however_long() {
    // A mailbox of 1 that 3 adds overflow; one of 2 that an add and the
    // question fit in, the question waiting for its answer.
    for (capacity, adds) in [(1, 3), (2, 1)] {
        waits_for_a_tally_that_cannot_run(capacity, adds);
    }
}

fn waits_for_a_tally_that_cannot_run(capacity: usize, adds: u64) {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);
    let tally_runtime = paused_runtime();
    let tally = {
        let _inside = tally_runtime.enter();
        Tally::new(capacity)
    };
    let caller_runtime = paused_runtime();
    let mut caller = Box::pin(async {
        for _ in 0..adds {
            tally.add(0, 1).await;
        }
        tally.total(0).await
    });
    // A year on the caller's clock; the tally's task cannot run meanwhile.
    let early =
        caller_runtime.block_on(async { tokio::time::timeout(YEAR, caller.as_mut()).await.ok() });
    // A tally with no mailbox (a lock taken only between awaits) counts
    // at once, and the caller is done: then with every add counted.
    if let Some(total) = early {
        assert_eq!(
            total, adds,
            "{adds} adds, then a total, while the tally's task could not run for a year \
             (a mailbox of {capacity}): the total came back without the tally, and says \
             {total}. Does a wait for room, or for the answer, give up after a while?"
        );
    }
    // The tally runs again: it takes its commands, and the caller goes on.
    let mut total = early;
    for _ in 0..16 {
        if total.is_some() {
            break;
        }
        tally_runtime.block_on(lesson_support::settle());
        let polled = caller_runtime.block_on(async { futures::poll!(caller.as_mut()) });
        total = match polled {
            std::task::Poll::Ready(total) => Some(total),
            std::task::Poll::Pending => None,
        };
    }
    let total = total.expect("the caller's adds and total are done once the tally runs");
    assert_eq!(
        total, adds,
        "{adds} adds, then a total, while the tally's task could not run for a year (a \
         mailbox of {capacity}): once it runs, the total is {total}. Does an add that \
         waits for room give up after a while (a timeout on the send), and drop its \
         amount?"
    );
}

/// Totals of many topics, spread over the whole `u32` range (its largest
/// too): each topic keeps its own total, however many there are, and however
/// large. No cap of the tally's own on the topics it keeps (a tally that
/// forgets its oldest topics past a few thousand), no key narrower than a
/// topic, and no total narrower than a `u64`.
#[tokio::test(start_paused = true)]
async fn ten_thousand_topics_keep_their_own_totals() {
    const TOPICS: u32 = 10_000;
    // In pairs 65,536 apart (alike in their lowest 16 bits), the pairs
    // 858,993 apart, up to 4,294,171,543, and then u32::MAX.
    let topic = |n: u32| {
        if n + 1 == TOPICS {
            u32::MAX
        } else {
            n / 2 * 858_993 + n % 2 * 65_536
        }
    };
    // The last topic's amount, 2^40, needs more than 32 bits.
    let amount = |n: u32| {
        if n + 1 == TOPICS {
            1 << 40
        } else {
            u64::from(n) + 1
        }
    };
    let tally = Tally::new(16);
    within("an add to each of 10,000 topics", async {
        for n in 0..TOPICS {
            tally.add(topic(n), amount(n)).await;
        }
    })
    .await;
    let totals = within("the total of each of 10,000 topics", async {
        let mut totals = Vec::new();
        for n in 0..TOPICS {
            totals.push(tally.total(topic(n)).await);
        }
        totals
    })
    .await;
    let wrong: Vec<(u32, u64)> = (0..TOPICS)
        .filter(|n| totals[*n as usize] != amount(*n))
        .map(|n| (topic(n), totals[n as usize]))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {TOPICS} topics, one add each, have a wrong total, among them (topic, total) \
         {:?}: does the tally forget topics past a number of its own, or keep them under \
         a key narrower than a `u32`, or a total narrower than a `u64`?",
        wrong.len(),
        &wrong[..wrong.len().min(4)]
    );
}

/// A question given up on while it still waits in the mailbox (asked, and
/// dropped before the tally took it), then an add, then a question: the
/// tally reads the first question after the asker is gone, and its answer
/// goes to nobody, not to the next question on its topic, through the same
/// handle or another. An answer belongs to its question.
#[tokio::test(start_paused = true)]
async fn a_question_given_up_in_the_mailbox_leaves_its_answer_to_nobody() {
    let tally = Tally::new(4);
    let other = tally.clone();
    within("an add", tally.add(7, 5)).await;
    // Asked and given up on; nothing has run since, so it is still in the
    // mailbox (or, in a tally without one, answered already).
    let _ = tally.total(7).now_or_never();
    within("an add", tally.add(7, 3)).await;
    let answer = within("a total through the same handle", tally.total(7)).await;
    assert_eq!(
        answer, 8,
        "5 was added, a total of it was asked and given up on before the tally read it, \
         3 was added, and the next total through the same handle says {answer}: does the \
         answer to the question nobody waits for any more go to the next question on its \
         topic (answers shared by every asker, told apart by topic)?"
    );
    let _ = tally.total(7).now_or_never();
    within("an add", tally.add(7, 1)).await;
    let answer = within("a total through another handle", other.total(7)).await;
    assert_eq!(
        answer, 9,
        "5 + 3 + 1 were added, a total asked between the last two given up on, and the \
         next total, through another handle, says {answer}: an answer belongs to its \
         question, not to whoever asks next about its topic"
    );
}

/// A mailbox of 0 is taken as one of 1 (tokio has no channel of 0), not as
/// "no bound": with the tally unable to run, one add waits in it, and the
/// next caller waits for room.
#[test]
fn a_mailbox_of_0_holds_one_command() {
    mailbox_given(0, 1);
}

/// A thousand questions asked at once, each of its own topic, while the
/// tally cannot answer any (they are all in its mailbox, or waiting for
/// room): each gets its own topic's total. An answer belongs to its
/// question: questions told apart by a number that wraps (a `u8`), or
/// answers routed by anything but the question itself, mix them up.
#[tokio::test(start_paused = true)]
async fn a_thousand_questions_at_once_each_get_their_own_answer() {
    const TOPICS: u32 = 1_000;
    let tally = Tally::new(64);
    for topic in 0..TOPICS {
        within("an add", tally.add(topic, u64::from(topic) * 7 + 1)).await;
    }
    // `join_all` polls every question once before any is answered: the
    // tally's task runs only when this task waits.
    let questions = (0..TOPICS).map(|topic| tally.total(topic));
    let totals = within("a thousand totals", futures::future::join_all(questions)).await;
    for (topic, total) in (0..TOPICS).zip(totals) {
        assert_eq!(
            total,
            u64::from(topic) * 7 + 1,
            "the total of topic {topic}, asked with 999 other questions waiting at \
             once: is each answer sent to its own question (not to a number that \
             repeats, or to whoever asked about a topic)?"
        );
    }
}
