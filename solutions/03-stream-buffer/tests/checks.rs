//! Lesson 03's checks, run against the reference solution. They are written
//! once, in lessons/03-stream-buffer/tests/checks/; `lesson` names the crate
//! under test.
extern crate solution_03_stream_buffer as lesson;

#[path = "../../../lessons/03-stream-buffer/tests/checks/mod.rs"]
mod checks;
