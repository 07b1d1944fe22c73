//! Lesson 07's checks, run against this crate. The same checks run against
//! the reference solution from solutions/07-retry-ack; `lesson` names the
//! crate under test.
extern crate lesson_07_retry_ack as lesson;

#[path = "checks/mod.rs"]
mod checks;
