//! Lesson 04's checks, run against the reference solution. They are written
//! once, in lessons/04-pinned-decoder/tests/checks/; `lesson` names the crate
//! under test.
extern crate solution_04_pinned_decoder as lesson;

#[path = "../../../lessons/04-pinned-decoder/tests/checks/mod.rs"]
mod checks;
