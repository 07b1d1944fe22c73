//! Lesson 04's checks, run against this crate. The same checks run against
//! the reference solution from solutions/04-pinned-decoder; `lesson` names
//! the crate under test.
extern crate lesson_04_pinned_decoder as lesson;

#[path = "checks/mod.rs"]
mod checks;
