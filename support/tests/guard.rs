//! The guard fails a check whose code blocks the thread, within seconds:
//! on the check's thread when the thread comes back, and by stopping the
//! test binary when it never does.

use std::process::Command;
use std::time::{Duration, Instant};

use lesson_support::{paused_runtime, within};

#[test]
#[should_panic(expected = "was blocked for")]
fn a_task_that_blocks_the_thread_fails_the_check_that_waits_for_it() {
    let runtime = paused_runtime();
    runtime.block_on(async {
        // Not the check's own future: a task it spawned.
        let task = tokio::spawn(async { std::thread::sleep(Duration::from_millis(2_500)) });
        within("the task that blocks", task).await.unwrap();
    });
}

#[test]
#[ignore = "run in a process of its own by the_watchdog_stops_a_check_whose_thread_never_comes_back"]
fn a_check_whose_thread_never_comes_back() {
    let runtime = paused_runtime();
    runtime.block_on(async {
        let task = tokio::spawn(async { std::thread::sleep(Duration::from_secs(60)) });
        within("the task that sleeps a minute", task).await.unwrap();
    });
}

#[test]
fn the_watchdog_stops_a_check_whose_thread_never_comes_back() {
    let name = "a_check_whose_thread_never_comes_back";
    let started = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", name])
        .output()
        .expect("the test binary runs");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(101), "{stdout}");
    assert!(
        stdout.contains(&format!("test {name} ... FAILED")),
        "the check is reported as the test harness reports a failure:\n{stdout}"
    );
    assert!(
        stdout.contains("the task that sleeps a minute") && stdout.contains("std::thread::sleep"),
        "the report says what the check waited for and the likely cause:\n{stdout}"
    );
    assert!(
        took < Duration::from_secs(15),
        "the watchdog stopped a check blocked for a minute after {took:?}"
    );
}
