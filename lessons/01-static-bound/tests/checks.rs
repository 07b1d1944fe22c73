//! Lesson 01's checks, run against this crate. The same checks run against the reference solution from solutions/01-static-bound; `lesson` names the crate under test.
extern crate lesson_01_static_bound as lesson;

#[path = "checks/mod.rs"]
mod checks;
