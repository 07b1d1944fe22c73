//! Lesson 11's checks, run against this crate. The same checks run against
//! the reference solution from solutions/11-pipeline; `lesson` names the
//! crate under test.
extern crate lesson_11_pipeline as lesson;

#[path = "checks/mod.rs"]
mod checks;
