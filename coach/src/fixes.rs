//! Other fixes of a lesson, as edits of its solution: wrong ones that must
//! fail named checks, and right ones, of another design, that must pass them
//! all. They turn "the checks reject plausible wrong fixes and accept other
//! correct designs" from a claim into something `verify` proves on every run.
//!
//! Each lesson's `solutions/NN-slug/fixes.toml` lists them:
//!
//! ```toml
//! [[wrong-fix]]
//! name = "unbounded channel"
//! why = "a stalled consumer lets the worker read the whole connection"
//! must-fail = ["back_pressure::a_stalled_consumer_stops_the_reading"]
//!
//! [[wrong-fix.edit]]
//! replace = "mpsc::channel(capacity)"
//! with = "mpsc::channel(capacity * 1000)"
//!
//! [[right-fix]]
//! name = "no task at all"
//! why = "a stream that reads when polled needs no worker"
//!
//! [[right-fix.edit]]
//! replace = "..."
//! with = "..."
//! ```
//!
//! An edit changes the solution's `src/lib.rs`, or the file it names
//! (`file = "src/event_loop.rs"`, relative to the solution's folder). Every
//! `replace` must occur exactly once in its file, so a wrong fix cannot
//! silently stop applying when the solution changes.
//!
//! Every check of the lesson must be shown able to fail: named in the
//! `must-fail` of a wrong fix, or, for a promise the types keep (no
//! compiling edit can break it), in a `type-level` entry that says why:
//!
//! ```toml
//! [[type-level]]
//! check = "owned_stream::snapshots_outlive_the_session"
//! why = "a Snapshot owns its payload by its public type"
//! ```

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

/// The fixes of one lesson.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixes {
    #[serde(rename = "wrong-fix", default)]
    pub wrong: Vec<Fix>,
    #[serde(rename = "right-fix", default)]
    pub right: Vec<Fix>,
    #[serde(rename = "type-level", default)]
    pub type_level: Vec<TypeLevel>,
}

/// A check that no compiling edit can make fail, and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeLevel {
    pub check: String,
    pub why: String,
}

/// One fix of a lesson: edits of the solution's `src/lib.rs`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Fix {
    pub name: String,
    /// Why it is wrong, or what makes it a different right design.
    pub why: String,
    /// For a wrong fix: checks that must fail, as the end of their names.
    #[serde(default)]
    pub must_fail: Vec<String>,
    /// For a wrong fix the checks refuse at compile time (it changes a
    /// bound the checks rely on): the error code the lesson must then fail
    /// with. Its `must-fail` names the checks that hold the promise.
    #[serde(default)]
    pub compile_error: Option<String>,
    #[serde(rename = "edit")]
    pub edits: Vec<Edit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// The file it edits, relative to the solution's folder.
    #[serde(default = "lib_rs")]
    pub file: String,
    pub replace: String,
    pub with: String,
}

fn lib_rs() -> String {
    "src/lib.rs".to_owned()
}

/// The fixes in `path`; none if the file does not exist.
pub fn load(path: &Path) -> Result<Fixes> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Fixes::default());
    };
    let fixes: Fixes = toml_edit::de::from_str(&text)
        .with_context(|| format!("{} is malformed", path.display()))?;
    for fix in fixes.wrong.iter().chain(&fixes.right) {
        if fix.edits.is_empty() {
            bail!("{}: fix {:?} has no edit", path.display(), fix.name);
        }
    }
    if let Some(fix) = fixes.wrong.iter().find(|fix| fix.must_fail.is_empty()) {
        bail!(
            "{}: wrong fix {:?} names no check it must fail",
            path.display(),
            fix.name
        );
    }
    if let Some(fix) = fixes.right.iter().find(|fix| fix.compile_error.is_some()) {
        bail!(
            "{}: right fix {:?} must compile: no compile-error",
            path.display(),
            fix.name
        );
    }
    if let Some(fix) = fixes.right.iter().find(|fix| !fix.must_fail.is_empty()) {
        bail!(
            "{}: right fix {:?} must pass every check: no must-fail",
            path.display(),
            fix.name
        );
    }
    if let Some(entry) = fixes.type_level.iter().find(|e| e.why.trim().is_empty()) {
        bail!(
            "{}: type-level check {:?} must say why no edit can break it",
            path.display(),
            entry.check
        );
    }
    Ok(fixes)
}

/// Whether `name`, a check's full name, is `check` or ends with `::check`.
pub fn names(name: &str, check: &str) -> bool {
    name == check
        || name
            .strip_suffix(check)
            .is_some_and(|rest| rest.ends_with("::"))
}

impl Fixes {
    /// The checks in `checks` (full names) that nothing shows can fail: no
    /// wrong fix names them in `must-fail`, and no `type-level` entry
    /// explains them.
    pub fn unproven<'a>(&self, checks: &'a [String]) -> Vec<&'a str> {
        checks
            .iter()
            .filter(|check| {
                let by_fix = self
                    .wrong
                    .iter()
                    .flat_map(|fix| &fix.must_fail)
                    .any(|named| names(check, named));
                let by_type = self.type_level.iter().any(|e| names(check, &e.check));
                !by_fix && !by_type
            })
            .map(String::as_str)
            .collect()
    }

    /// Names in `must-fail` or `type-level` that match no check in `checks`:
    /// a renamed or deleted check.
    pub fn dangling(&self, checks: &[String]) -> Vec<String> {
        let named = self
            .wrong
            .iter()
            .flat_map(|fix| fix.must_fail.iter())
            .chain(self.type_level.iter().map(|e| &e.check));
        let mut dangling: Vec<String> = named
            .filter(|name| !checks.iter().any(|check| names(check, name)))
            .cloned()
            .collect();
        dangling.sort();
        dangling.dedup();
        dangling
    }
}

impl Fix {
    /// `source` (the solution's `src/lib.rs`) with this fix's edits made.
    #[cfg(test)]
    pub fn apply(&self, source: &str) -> Result<String> {
        let mut files = self.apply_files(|_| Ok(source.to_owned()))?;
        Ok(files
            .pop()
            .map(|(_, text)| text)
            .unwrap_or_else(|| source.to_owned()))
    }

    /// The files this fix edits (relative to the solution's folder), each
    /// with its edits made, in the order first named. `read` gives a file's
    /// text as the solution has it.
    pub fn apply_files(
        &self,
        read: impl Fn(&str) -> Result<String>,
    ) -> Result<Vec<(String, String)>> {
        let mut files: Vec<(String, String)> = Vec::new();
        for edit in &self.edits {
            let at = match files.iter().position(|(file, _)| *file == edit.file) {
                Some(at) => at,
                None => {
                    files.push((edit.file.clone(), read(&edit.file)?));
                    files.len() - 1
                }
            };
            let text = &mut files[at].1;
            match text.matches(edit.replace.as_str()).count() {
                1 => *text = text.replacen(&edit.replace, &edit.with, 1),
                n => bail!(
                    "fix {:?}: the solution's {} holds {n} copies of {:?}, not exactly one",
                    self.name,
                    edit.file,
                    edit.replace
                ),
            }
        }
        Ok(files)
    }

    /// The checks in `must_fail` that did not fail.
    pub fn missed<'a>(&'a self, failed: &[String]) -> Vec<&'a str> {
        self.must_fail
            .iter()
            .filter(|check| !failed.iter().any(|name| names(name, check)))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(text: &str) -> Fix {
        let fixes: Fixes = toml_edit::de::from_str(text).unwrap();
        fixes.wrong.into_iter().next().unwrap()
    }

    const ONE: &str = r#"
[[wrong-fix]]
name = "bigger"
why = "unbounded in effect"
must-fail = ["back_pressure::stalls"]

[[wrong-fix.edit]]
replace = "channel(capacity)"
with = "channel(capacity * 1000)"
"#;

    #[test]
    fn an_edit_applies_exactly_once() {
        let fix = fix(ONE);
        assert_eq!(
            fix.apply("let c = channel(capacity);").unwrap(),
            "let c = channel(capacity * 1000);"
        );
        assert!(fix.apply("nothing to replace").is_err());
        assert!(fix.apply("channel(capacity); channel(capacity);").is_err());
    }

    #[test]
    fn a_check_no_wrong_fix_names_is_unproven() {
        let text = format!(
            "{ONE}\n[[type-level]]\ncheck = \"owned::is_static\"\nwhy = \"the types say so\"\n"
        );
        let fixes: Fixes = toml_edit::de::from_str(&text).unwrap();
        let checks = [
            "checks::back_pressure::stalls".to_owned(),
            "checks::owned::is_static".to_owned(),
            "checks::order::new_check".to_owned(),
            "checks::back_pressure::stalls_too".to_owned(),
        ];
        assert_eq!(
            fixes.unproven(&checks),
            [
                "checks::order::new_check",
                "checks::back_pressure::stalls_too"
            ]
        );
        assert!(fixes.dangling(&checks).is_empty());
        assert_eq!(
            fixes.dangling(&checks[2..]),
            ["back_pressure::stalls", "owned::is_static"]
        );
    }

    #[test]
    fn a_must_fail_check_is_matched_by_the_end_of_its_name() {
        let fix = fix(ONE);
        assert!(
            fix.missed(&["checks::back_pressure::stalls".into()])
                .is_empty()
        );
        assert_eq!(
            fix.missed(&["checks::order::lines".into()]),
            ["back_pressure::stalls"]
        );
    }
}
