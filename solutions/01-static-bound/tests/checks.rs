//! Lesson 01's checks, run against the reference solution. They are written once, in lessons/01-static-bound/tests/checks/; `lesson` names the crate under test.
extern crate solution_01_static_bound as lesson;

#[path = "../../../lessons/01-static-bound/tests/checks/mod.rs"]
mod checks;
