//! What rustc 1.95.0 says about the starter's shape against tonic's real
//! generated trait, locked as a snapshot (the chapter includes it). The
//! cases live in lessons/10-tonic-snapshot/ui/ and use this crate's `Feed`:
//! the trait from `build.rs`, which no ui-tests case can have (trybuild
//! compiles a case as a single file, without a build script). Bless with
//! `TRYBUILD=overwrite cargo test -p solution-10-tonic-snapshot --test
//! tonic_diagnostics`, then read the diff.
//!
//! Only `compile_fail`: a `pass` case would make trybuild build every case
//! fully instead of checking it.

#[test]
fn the_starters_shape_against_tonics_generated_trait() {
    let t = trybuild::TestCases::new();
    t.compile_fail("../../lessons/10-tonic-snapshot/ui/*.rs");
}
