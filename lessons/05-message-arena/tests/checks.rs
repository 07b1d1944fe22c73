//! Lesson 05's checks, run against this crate. The same checks run against
//! the reference solution from solutions/05-message-arena; `lesson` names the
//! crate under test.
extern crate lesson_05_message_arena as lesson;

#[path = "checks/mod.rs"]
mod checks;
