//! Lesson 03's checks, run against the reference solution. They are written once, in lessons/03-static-bound/tests/checks/; `lesson` names the crate under test.
extern crate solution_03_static_bound as lesson;

#[path = "../../../lessons/03-static-bound/tests/checks/mod.rs"]
mod checks;
