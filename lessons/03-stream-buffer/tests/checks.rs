//! Lesson 03's checks, run against this crate. The same checks run against
//! the reference solution from solutions/03-stream-buffer; `lesson` names the
//! crate under test.
extern crate lesson_03_stream_buffer as lesson;

#[path = "checks/mod.rs"]
mod checks;
