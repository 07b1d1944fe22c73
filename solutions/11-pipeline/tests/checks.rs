//! Lesson 11's checks, run against the reference solution. They are written
//! once, in lessons/11-pipeline/tests/checks/; `lesson` names the crate
//! under test.
extern crate solution_11_pipeline as lesson;

#[path = "../../../lessons/11-pipeline/tests/checks/mod.rs"]
mod checks;
