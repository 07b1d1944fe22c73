//! Lesson 06's checks, run against this crate. The same checks run against
//! the reference solution from solutions/06-plugin-actors; `lesson` names
//! the crate under test.
extern crate lesson_06_plugin_actors as lesson;

#[path = "checks/mod.rs"]
mod checks;
