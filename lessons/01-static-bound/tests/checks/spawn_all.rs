//! `spawn_all` takes owned items, runs each on its own task, all at once,
//! returns the results in input order, and drops every item when done.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lesson::spawn_all;
use lesson_support::{count_allocations, paused_runtime, within};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn results_come_back_in_input_order() {
    // Made at run time: a `String` is `'static` although it lives briefly.
    let words: Vec<String> = ["tokio", "bytes", "futures"]
        .iter()
        .map(|w| w.to_string())
        .collect();

    // The first item takes longest, so the tasks finish in reverse order.
    let lengths = within(
        "spawn_all",
        spawn_all(words, |word| async move {
            tokio::time::sleep(Duration::from_millis(100 / word.len() as u64)).await;
            (word.clone(), word.len())
        }),
    )
    .await;

    assert_eq!(
        lengths,
        [
            ("tokio".to_string(), 5),
            ("bytes".to_string(), 5),
            ("futures".to_string(), 7)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn every_item_runs_on_its_own_task_at_the_same_time() {
    const ITEMS: u32 = 1_000;
    // `None` in the test's own body, which tokio runs outside any task.
    let caller = tokio::task::try_id();
    let started = Instant::now();

    // A thousand items that each wait one (paused, so free) second: more
    // than any cap a helper might put on the tasks it runs at once.
    let task_ids = within(
        "spawn_all",
        spawn_all((0..ITEMS).collect(), |_: u32| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            tokio::task::try_id()
        }),
    )
    .await;

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{ITEMS} one-second jobs took {:?}: they did not all run at once",
        started.elapsed(),
    );
    let mut distinct = task_ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        ITEMS as usize,
        "every item gets a task of its own (`tokio::spawn`)"
    );
    assert!(
        !task_ids.contains(&caller),
        "the work ran on the caller's task, not a spawned one"
    );
}

#[test]
fn spawn_all_leaves_nothing_behind() {
    /// Counts its drops: `'static` values are dropped like any other.
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    let runtime = paused_runtime();
    let run = |drops: &Arc<AtomicUsize>| {
        let items = (0..5).map(|_| Tracked(Arc::clone(drops))).collect();
        // The work owns a little state of its own, as real work does.
        let label = String::from("tracked item");
        runtime.block_on(async {
            within(
                "spawn_all",
                spawn_all(items, move |item: Tracked| {
                    let label = label.clone();
                    async move {
                        drop(item);
                        label.len()
                    }
                }),
            )
            .await
        })
    };
    // The first run may grow the runtime's own queues, which it keeps.
    run(&Arc::new(AtomicUsize::new(0)));

    let drops = Arc::new(AtomicUsize::new(0));
    let (results, counted) = count_allocations(|| run(&drops).len());

    assert_eq!(results, 5);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        5,
        "every item is dropped, none leaked"
    );
    assert_eq!(
        (counted.count_current, counted.bytes_current),
        (0, 0),
        "spawn_all returned and left {} allocations ({} bytes) alive: a leaked \
         closure, future or task",
        counted.count_current,
        counted.bytes_current,
    );
    assert_eq!(
        runtime.metrics().num_alive_tasks(),
        0,
        "a task is still alive"
    );
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "item 3 is cursed")]
async fn a_panic_in_the_work_reaches_the_caller() {
    spawn_all((0..5).collect(), |n: u32| async move {
        if n == 3 {
            lesson_support::panic_on_purpose("item 3 is cursed".to_owned());
        }
        n
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_work_function_may_borrow_what_the_caller_owns() {
    // `'static` where a task needs it, and nowhere else: the tasks own the
    // futures, but `work` itself is only called here, while the caller
    // waits. A `work` that borrows the caller's `prefix` must be accepted.
    let prefix = String::from("item ");
    let work = |n: u32| {
        let label = format!("{prefix}{n}");
        async move { label }
    };

    let results = within("three labels", spawn_all(vec![1, 2, 3], work)).await;

    assert_eq!(results, ["item 1", "item 2", "item 3"]);

    // The items too never enter a task: they may borrow from the caller.
    let names = [String::from("tokio"), String::from("bytes")];
    let borrowed: Vec<&String> = names.iter().collect();
    let lengths = within(
        "two lengths",
        spawn_all(borrowed, |name: &String| {
            let length = name.len();
            async move { length }
        }),
    )
    .await;

    assert_eq!(lengths, [5, 5]);
}

#[tokio::test(start_paused = true)]
async fn a_panic_reaches_the_caller_with_its_own_payload() {
    /// What the work panics with: a value, not a message.
    #[derive(Debug, PartialEq)]
    struct Cursed(u32);

    let call = tokio::spawn(spawn_all((0..5).collect(), |n: u32| async move {
        if n == 3 {
            // `resume_unwind` skips the panic hook: nothing is printed.
            std::panic::resume_unwind(Box::new(Cursed(n)));
        }
        n
    }));
    let error = within("spawn_all", call)
        .await
        .expect_err("a panic in the work is a panic of the call");

    let payload = error.into_panic();
    assert_eq!(
        payload.downcast_ref::<Cursed>(),
        Some(&Cursed(3)),
        "the caller gets the work's own panic payload, not a new panic"
    );
}
