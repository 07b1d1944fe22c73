//! Lesson 08's checks, run against this crate. The same checks run against
//! the reference solution from solutions/08-spawn-or-act; `lesson` names
//! the crate under test.
extern crate lesson_08_spawn_or_act as lesson;

#[path = "checks/mod.rs"]
mod checks;
