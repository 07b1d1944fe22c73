//! Lesson 09's checks, run against this crate. The same checks run against
//! the reference solution from solutions/09-graphql-dto; `lesson` names the
//! crate under test.
extern crate lesson_09_graphql_dto as lesson;

#[path = "checks/mod.rs"]
mod checks;
