//! Lesson 06's checks, run against the reference solution. They are written
//! once, in lessons/06-plugin-actors/tests/checks/; `lesson` names the crate
//! under test.
extern crate solution_06_plugin_actors as lesson;

#[path = "../../../lessons/06-plugin-actors/tests/checks/mod.rs"]
mod checks;
