//! Lesson 05's checks, run against the reference solution. They are written
//! once, in lessons/05-message-arena/tests/checks/; `lesson` names the crate
//! under test.
extern crate solution_05_message_arena as lesson;

#[path = "../../../lessons/05-message-arena/tests/checks/mod.rs"]
mod checks;
