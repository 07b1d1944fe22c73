//! Lesson 10's checks, run against the reference solution. They are written
//! once, in lessons/10-tonic-snapshot/tests/checks/; `lesson` names the
//! crate under test.
extern crate solution_10_tonic_snapshot as lesson;

#[path = "../../../lessons/10-tonic-snapshot/tests/checks/mod.rs"]
mod checks;
