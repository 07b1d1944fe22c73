//! Lesson 07's checks, run against the reference solution. They are written
//! once, in lessons/07-retry-ack/tests/checks/; `lesson` names the crate
//! under test.
extern crate solution_07_retry_ack as lesson;

#[path = "../../../lessons/07-retry-ack/tests/checks/mod.rs"]
mod checks;
