//! Lesson 08's checks, run against the reference solution. They are written
//! once, in lessons/08-spawn-or-act/tests/checks/; `lesson` names the crate
//! under test.
extern crate solution_08_spawn_or_act as lesson;

#[path = "../../../lessons/08-spawn-or-act/tests/checks/mod.rs"]
mod checks;
