//! Lesson 01's checks, run against this crate. The same checks run against
//! the reference solution from solutions/01-stream-buffer; `lesson` names the
//! crate under test.
extern crate lesson_01_stream_buffer as lesson;

#[path = "checks/mod.rs"]
mod checks;
