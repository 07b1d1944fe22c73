//! Lesson 02's checks, run against this crate. The same checks run against the reference solution from solutions/02-spawn-borrowed; `lesson` names the crate under test.
extern crate lesson_02_spawn_borrowed as lesson;

#[path = "checks/mod.rs"]
mod checks;
