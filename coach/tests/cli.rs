//! The coach as a learner meets it: the binary, run in this workspace. Only
//! commands that do not build lessons run here (those are exercised by
//! `cargo run -- verify` in CI).

use std::process::{Command, Output};

fn coach(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coach"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the coach runs")
}

fn printed(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

#[test]
fn an_unknown_lesson_is_a_clear_error_listing_the_lessons() {
    let output = coach(&["hint", "streams"]);
    assert_eq!(output.status.code(), Some(2), "{}", printed(&output));
    let text = printed(&output);
    assert!(text.contains("there is no lesson \"streams\""), "{text}");
    for lesson in ["03-stream-buffer", "02-spawn-borrowed", "01-static-bound"] {
        assert!(text.contains(lesson), "the error lists {lesson}: {text}");
    }
}

#[test]
fn hints_come_one_at_a_time_and_say_what_is_next() {
    let first = printed(&coach(&["hint", "1"]));
    assert!(first.contains("hint 1 of"), "{first}");
    assert!(first.contains("cargo run -- hint 01 2"), "{first}");
    let beyond = coach(&["hint", "01", "99"]);
    assert_eq!(beyond.status.code(), Some(2));
    assert!(
        printed(&beyond).contains("has hints 1 to"),
        "{}",
        printed(&beyond)
    );
}

#[test]
fn explain_finds_the_lessons_that_record_an_error() {
    let output = coach(&["explain", "e373"]);
    assert!(output.status.success(), "{}", printed(&output));
    let text = printed(&output);
    assert!(text.contains("02_spawn_without_move.rs"), "{text}");
    assert!(text.contains("book/src/02-spawn-borrowed.md"), "{text}");

    let unknown = coach(&["explain", "E0382"]);
    assert!(!unknown.status.success());
    assert!(printed(&unknown).contains("rustc --explain E0382"));
}
