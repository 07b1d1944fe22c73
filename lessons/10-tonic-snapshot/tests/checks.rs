//! Lesson 10's checks, run against this crate. The same checks run against
//! the reference solution from solutions/10-tonic-snapshot; `lesson` names
//! the crate under test.
extern crate lesson_10_tonic_snapshot as lesson;

#[path = "checks/mod.rs"]
mod checks;
