//! Lesson 02's checks, run against the reference solution. They are written once, in lessons/02-spawn-borrowed/tests/checks/; `lesson` names the crate under test.
extern crate solution_02_spawn_borrowed as lesson;

#[path = "../../../lessons/02-spawn-borrowed/tests/checks/mod.rs"]
mod checks;
