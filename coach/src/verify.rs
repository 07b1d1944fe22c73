//! `cargo run -- verify`: the maintainer's proof that the exercises are real.
//! In a scratch workspace, every pristine starter must fail with exactly the
//! errors its manifest documents, and every solution, dropped into the
//! starter's place, must pass the lesson's checks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::checks::{self, Outcome};
use crate::explain;
use crate::fixes;
use crate::lessons::Lesson;
use crate::workspace;

/// Where the starters come from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// As committed (git HEAD): what a fresh clone holds, whatever a learner
    /// has edited since.
    Head,
    /// As they are on disk: for a maintainer who is editing a starter.
    WorkingTree,
}

/// Verifies `lessons`; returns whether all of them are sound.
pub fn run(root: &Path, target_dir: &Path, lessons: &[&Lesson], source: Source) -> Result<bool> {
    let scratch = target_dir.join("coach").join("verify");
    // A target directory of its own. Cargo names a workspace member's build
    // outputs by its path *relative to the workspace root*, so the scratch
    // `lessons/NN` and the real one would share outputs in a shared target
    // directory, and the real lesson would then pass as "done" with the
    // solution's build. The price is one more build of the dependencies.
    let verify_target = target_dir.join("coach").join("verify-target");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).context("cannot clear verify's scratch workspace")?;
    }
    std::fs::create_dir_all(scratch.join("lessons"))?;
    workspace::write_scratch_workspace(root, &scratch)?;

    match source {
        Source::Head => {
            let dirs: Vec<&Path> = lessons.iter().map(|lesson| lesson.dir.as_path()).collect();
            workspace::export_from_head(root, &dirs, &scratch).context(
                "a pristine copy of the starters comes from git; \
                 use `verify --working-tree` to verify the files on disk",
            )?;
            for lesson in lessons {
                if workspace::has_local_edits(root, &lesson.dir) == Some(true) {
                    println!(
                        "note: {} has local edits; verifying the committed starter \
                         (`verify --working-tree` verifies the files on disk)",
                        lesson.folder()
                    );
                }
            }
        }
        Source::WorkingTree => {
            for lesson in lessons {
                workspace::replace_dir(&root.join(&lesson.dir), &scratch.join(&lesson.dir))?;
            }
        }
    }

    println!(
        "verify: {} lessons, in {}",
        lessons.len(),
        scratch.display()
    );
    let mut sound = true;
    for lesson in lessons {
        println!("  {}-{}", lesson.number, lesson.slug);
        let problems = verify_lesson(root, &scratch, &verify_target, lesson)?;
        for problem in &problems {
            for (i, line) in problem.lines().enumerate() {
                println!("      {}{line}", if i == 0 { "FAIL: " } else { "  " });
            }
        }
        sound &= problems.is_empty();
    }
    Ok(sound)
}

/// What is wrong with one lesson; empty when nothing is.
fn verify_lesson(
    root: &Path,
    scratch: &Path,
    target_dir: &Path,
    lesson: &Lesson,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();

    // The lesson's other pieces are where the coach sends learners.
    if !root.join(lesson.chapter_path()).is_file() {
        problems.push(format!(
            "its chapter {} is missing",
            lesson.chapter_path().display()
        ));
    }
    match lesson.hints(root) {
        Ok(hints) if hints.is_empty() => {
            problems.push("its HINTS.md has no numbered hint".to_owned())
        }
        Ok(_) => {}
        Err(error) => problems.push(format!("{error:#}")),
    }

    problems.extend(chapter_problems(root, lesson)?);

    // 0. The starter's recorded fingerprint is the starter's: the coach
    // trusts it to call a lesson "not started" without building it.
    problems.extend(fingerprint_problem(scratch, lesson)?);

    // 1. The pristine starter fails exactly as documented.
    match starter_verdict(lesson, &checks::run(scratch, target_dir, &lesson.package)?) {
        Ok(fails) => println!("      ok: the starter fails {fails}"),
        Err(problem) => problems.push(problem),
    }
    // A starter whose error comes from a crate too heavy for ui-tests/
    // records it in `starter.stderr`: it must still be what rustc says.
    let recorded = scratch.join(&lesson.dir).join("starter.stderr");
    if let Ok(expected) = std::fs::read_to_string(&recorded) {
        let actual = checks::rendered_errors(scratch, target_dir, &lesson.package)?;
        if actual == expected {
            println!("      ok: starter.stderr is what rustc says");
        } else {
            problems.push(format!(
                "{}/starter.stderr is not what rustc says for the starter: re-record it \
                 with the command in its Cargo.toml, and read the diff. rustc says:\n{actual}",
                lesson.folder()
            ));
        }
    }

    // 2. The solution, dropped into the starter's place, passes its checks.
    let solution_src = root.join(lesson.solution_dir()).join("src");
    if !solution_src.is_dir() {
        problems.push(format!("{} is missing", solution_src.display()));
        return Ok(problems);
    }
    workspace::replace_dir(&solution_src, &scratch.join(&lesson.dir).join("src"))?;
    match checks::run(scratch, target_dir, &lesson.package)? {
        Outcome::Done { passed, checks } if passed > 0 => {
            println!("      ok: the solution passes its {passed} checks");
            problems.extend(fix_problems(root, scratch, target_dir, lesson, &checks)?);
        }
        Outcome::Done { .. } => problems.push("the lesson has no checks".to_owned()),
        Outcome::DoesNotCompile { first, .. } => problems.push(format!(
            "the solution does not compile in the starter's place \
             (is its public API or its Cargo.toml different?)\n{first}"
        )),
        Outcome::Broken { why } => {
            problems.push(format!("the solution's checks did not finish: {why}"))
        }
        Outcome::ChecksFail { failed, report, .. } => problems.push(format!(
            "the solution fails these checks: {}\n{report}",
            failed.join(", ")
        )),
    }
    Ok(problems)
}

/// A problem when the manifest's `starter-fingerprint` is missing or is not
/// that of the starter in `scratch`.
fn fingerprint_problem(scratch: &Path, lesson: &Lesson) -> Result<Option<String>> {
    let actual = workspace::starter_fingerprint(&scratch.join(&lesson.dir))?;
    let fix = format!(
        "if the starter's change is meant, put `starter-fingerprint = \"{actual}\"` in \
         [package.metadata.lesson] of {}/Cargo.toml",
        lesson.folder()
    );
    Ok(match &lesson.starter_fingerprint {
        Some(recorded) if *recorded == actual => {
            println!("      ok: the starter's fingerprint is recorded");
            None
        }
        Some(recorded) => Some(format!(
            "the starter's src/ and tests/ changed since their fingerprint {recorded} \
             was recorded, so `cargo run` would show it as changed: {fix}"
        )),
        None => Some(format!(
            "the lesson records no starter fingerprint, so `cargo run` must build it \
             to know it is not started: {fix}"
        )),
    })
}

/// How the pristine starter fails, if that is what its manifest documents:
/// with exactly the compile errors in `fails-with`, or, for a starter that
/// compiles, with exactly the checks in `fails-checks` (each named by the end
/// of its name, as in `must-fail`). `Ok` says how, for the report.
fn starter_verdict(lesson: &Lesson, outcome: &Outcome) -> Result<String, String> {
    if lesson.fails_checks.is_empty() {
        let expected: BTreeSet<String> = lesson.fails_with.iter().cloned().collect();
        return match outcome {
            Outcome::DoesNotCompile { errors, .. } if *errors == expected => {
                Ok(format!("with {}", list(errors)))
            }
            Outcome::DoesNotCompile { errors, first } => Err(format!(
                "the starter fails with {}, but its Cargo.toml documents {} (fails-with)\nfirst error:\n{first}",
                list(errors),
                list(&expected)
            )),
            other => Err(format!(
                "the starter should fail to compile with {}; instead it {}",
                list(&expected),
                other.summary()
            )),
        };
    }
    let documented = lesson.fails_checks.join(", ");
    if !lesson.fails_with.is_empty() {
        return Err(
            "its Cargo.toml documents both fails-with and fails-checks: a starter \
             either does not compile or compiles and fails checks"
                .to_owned(),
        );
    }
    let Outcome::ChecksFail { failed, report, .. } = outcome else {
        return Err(format!(
            "the starter should compile and fail {documented} (fails-checks); instead it {}",
            outcome.summary()
        ));
    };
    let passed: Vec<&str> = lesson
        .fails_checks
        .iter()
        .filter(|check| !failed.iter().any(|name| fixes::names(name, check)))
        .map(String::as_str)
        .collect();
    let undocumented: Vec<&str> = failed
        .iter()
        .filter(|name| {
            !lesson
                .fails_checks
                .iter()
                .any(|check| fixes::names(name, check))
        })
        .map(String::as_str)
        .collect();
    if passed.is_empty() && undocumented.is_empty() {
        return Ok(format!("the checks {documented}"));
    }
    let mut problem = format!(
        "the starter's failing checks differ from its Cargo.toml's fails-checks ({documented}):"
    );
    if !passed.is_empty() {
        problem.push_str(&format!("\ndocumented, but passing: {}", passed.join(", ")));
    }
    if !undocumented.is_empty() {
        problem.push_str(&format!(
            "\nfailing, but not documented: {}\n{report}",
            undocumented.join(", ")
        ));
    }
    Err(problem)
}

/// Step 3 of a lesson: every check is shown able to fail; each wrong fix
/// compiles and fails the checks it names; each right fix, another correct
/// design, passes them all. `checks` are the names of the lesson's checks.
fn fix_problems(
    root: &Path,
    scratch: &Path,
    target_dir: &Path,
    lesson: &Lesson,
    checks: &[String],
) -> Result<Vec<String>> {
    let solution = root.join(lesson.solution_dir());
    let fixes_file = lesson.solution_dir().join("fixes.toml");
    let fixes = fixes::load(&root.join(&fixes_file))?;
    if fixes.wrong.is_empty() {
        return Ok(vec![format!(
            "{} lists no wrong fix: nothing shows that the checks can fail",
            fixes_file.display()
        )]);
    }
    let mut problems = Vec::new();
    let unproven = fixes.unproven(checks);
    if !unproven.is_empty() {
        problems.push(format!(
            "nothing shows that these checks can fail: name each in the `must-fail` \
             of a wrong fix in {}, or, if no compiling edit can break it, in a \
             `[[type-level]]` entry that says why:\n{}",
            fixes_file.display(),
            unproven.join("\n")
        ));
    }
    let dangling = fixes.dangling(checks);
    if !dangling.is_empty() {
        problems.push(format!(
            "{} names checks the lesson does not have (renamed or removed?): {}",
            fixes_file.display(),
            dangling.join(", ")
        ));
    }
    let read = |file: &str| {
        std::fs::read_to_string(solution.join(file))
            .with_context(|| format!("{} has no {file}", solution.display()))
    };
    let lesson_dir = scratch.join(&lesson.dir);
    for (fix, right) in fixes
        .wrong
        .iter()
        .map(|f| (f, false))
        .chain(fixes.right.iter().map(|f| (f, true)))
    {
        let edited = match fix.apply_files(read) {
            Ok(edited) => edited,
            Err(error) => {
                problems.push(format!("{error:#}"));
                continue;
            }
        };
        for (file, text) in &edited {
            std::fs::write(lesson_dir.join(file), text)?;
        }
        let outcome = checks::run(scratch, target_dir, &lesson.package);
        // Back to the solution as it is, for the next fix.
        for (file, _) in &edited {
            std::fs::write(lesson_dir.join(file), read(file)?)?;
        }
        let outcome = outcome?;
        match (right, outcome) {
            (true, Outcome::Done { .. }) => {}
            (true, other) => problems.push(format!(
                "the checks refuse right fix {:?} ({}): it {}",
                fix.name,
                fix.why,
                other.summary()
            )),
            (false, Outcome::DoesNotCompile { errors, .. }) if fix.compile_error.is_some() => {
                let code = fix.compile_error.as_deref().unwrap_or_default();
                if !errors.contains(code) {
                    problems.push(format!(
                        "wrong fix {:?} ({}) should make the checks fail to compile with {code}; \
                         they fail with {}",
                        fix.name,
                        fix.why,
                        list(&errors)
                    ));
                }
            }
            (false, other) if fix.compile_error.is_some() => problems.push(format!(
                "wrong fix {:?} ({}) should make the checks fail to compile with {}; it {}",
                fix.name,
                fix.why,
                fix.compile_error.as_deref().unwrap_or_default(),
                other.summary()
            )),
            (false, Outcome::ChecksFail { failed, .. }) => {
                let missed = fix.missed(&failed);
                if !missed.is_empty() {
                    problems.push(format!(
                        "wrong fix {:?} ({}) passes checks it must fail: {}",
                        fix.name,
                        fix.why,
                        missed.join(", ")
                    ));
                }
            }
            (false, Outcome::Done { .. }) => problems.push(format!(
                "the checks accept wrong fix {:?}: {}",
                fix.name, fix.why
            )),
            (false, other) => problems.push(format!(
                "wrong fix {:?} should compile and fail checks; it {}",
                fix.name,
                other.summary()
            )),
        }
    }
    if problems.is_empty() {
        println!(
            "      ok: every check is shown able to fail ({} by the types alone)",
            fixes.type_level.len()
        );
        println!(
            "      ok: the checks catch {} and accept {}",
            count(fixes.wrong.len(), "wrong fix", "wrong fixes"),
            count(
                fixes.right.len(),
                "right fix of another design",
                "right fixes of other designs"
            )
        );
    }
    Ok(problems)
}

/// What is wrong with a lesson's chapter and its solution page. The chapter
/// shows the recorded diagnostics and every hint from their files (never
/// pasted), and nothing of the solution: that waits on the solution page,
/// which includes it. Every include must resolve.
fn chapter_problems(root: &Path, lesson: &Lesson) -> Result<Vec<String>> {
    let Ok(chapter) = read_includes(root, &lesson.chapter_path()) else {
        return Ok(Vec::new()); // reported as missing already
    };
    let mut problems = chapter.problems;
    let solution_page = match read_includes(root, &lesson.solution_page_path()) {
        Ok(page) => page,
        Err(_) => {
            problems.push(format!(
                "its solution page {} is missing",
                lesson.solution_page_path().display()
            ));
            Included::default()
        }
    };
    problems.extend(solution_page.problems.iter().cloned());

    let cases = explain::cases(root)?;
    let mut shown_errors = BTreeSet::new();
    for case in cases.iter().filter(|case| case.lesson == lesson.number) {
        let stderr = case.source.with_extension("stderr");
        for file in [&case.source, &stderr] {
            if !chapter.files.contains(file) && !solution_page.files.contains(file) {
                problems.push(format!("its chapter does not include {}", file.display()));
            }
        }
        for line in &case.errors {
            let name = explain::code_of(line).map(str::to_owned);
            shown_errors
                .insert(name.unwrap_or_else(|| line.trim_start_matches("error: ").to_owned()));
        }
    }
    for error in &lesson.fails_with {
        if !shown_errors.contains(error) {
            problems.push(format!(
                "the starter fails with {error}, but no snapshot of lesson {} shows it",
                lesson.number
            ));
        }
    }

    let solution = lesson.solution_dir();
    if chapter.files.iter().any(|file| file.starts_with(&solution)) {
        problems.push(format!(
            "its chapter includes code from {}: the solution belongs on {}, after the exercise",
            solution.display(),
            lesson.solution_page_path().display()
        ));
    }
    if !solution_page
        .files
        .iter()
        .any(|file| file.starts_with(&solution))
    {
        problems.push(format!(
            "its solution page includes nothing from {}",
            solution.display()
        ));
    }

    // The reader predicts before opening rustc's answer: nothing shown
    // above a fold may name the error the fold reveals.
    let chapter_path = root.join(lesson.chapter_path());
    let chapter_dir = chapter_path.parent().context("a page has a folder")?;
    let chapter_text = std::fs::read_to_string(&chapter_path)?;
    problems.extend(
        answers_named_before_folds(&chapter_text, |path| {
            std::fs::read_to_string(chapter_dir.join(path)).ok()
        })
        .into_iter()
        .map(|problem| format!("{}: {problem}", lesson.chapter_path().display())),
    );

    // Every hint, each on its own (so that the chapter can fold them one by
    // one), from the lesson's HINTS.md.
    let hints_file = lesson.dir.join("HINTS.md");
    let hint_count = lesson.hints(root).map(|hints| hints.len()).unwrap_or(0);
    for n in 1..=hint_count {
        let anchor = format!("hint-{n}");
        if !chapter
            .anchors
            .contains(&(hints_file.clone(), anchor.clone()))
        {
            problems.push(format!(
                "its chapter does not include hint {n} ({}:{anchor})",
                hints_file.display()
            ));
        }
    }
    Ok(problems)
}

/// Where a chapter gives away an answer it folds. A fold is a `<details>`
/// that includes a `.stderr` snapshot; what it reveals is the snapshot's
/// errors, each named by its code (`E0599`) or, without one, by its message
/// ("lifetime may not live long enough"). What is shown before it runs from
/// the previous fold's end, or the previous snapshot shown unfolded, to the
/// `<details>`: prose, headings and the code it includes (with anchors
/// resolved as mdBook does). `read` gives an included file's text from its
/// path as written in the chapter. One line per give-away.
fn answers_named_before_folds(chapter: &str, read: impl Fn(&str) -> Option<String>) -> Vec<String> {
    // An include's text as mdBook shows it: a named anchor's lines without
    // the anchor lines, or the whole file (line ranges too, to err on the
    // side of finding a name).
    let shown = |directive: &str| -> String {
        let (path, anchor) = match directive.trim().split_once(':') {
            Some((path, rest)) => (path, rest.split(':').next()),
            None => (directive.trim(), None),
        };
        let text = read(path).unwrap_or_default();
        match anchor.filter(|a| !a.is_empty() && !a.chars().all(|c| c.is_ascii_digit())) {
            Some(anchor) => text
                .lines()
                .skip_while(|line| !line.contains(&format!("ANCHOR: {anchor}")))
                .take_while(|line| !line.contains(&format!("ANCHOR_END: {anchor}")))
                .filter(|line| !line.contains("ANCHOR"))
                .collect::<Vec<_>>()
                .join("\n"),
            None => text,
        }
    };
    let mut problems = Vec::new();
    let mut shown_from = 0;
    let mut at = 0;
    while at < chapter.len() {
        let rest = &chapter[at..];
        let next = [
            rest.find("<details>"),
            rest.find("</details>"),
            rest.find(".stderr}}"),
        ];
        let Some(offset) = next.iter().flatten().min().copied() else {
            break;
        };
        let here = at + offset;
        let tail = &chapter[here..];
        if !tail.starts_with("<details>") {
            // The end of a fold, or a snapshot shown openly: what follows
            // is a new question.
            at = here
                + if tail.starts_with("</details>") {
                    "</details>".len()
                } else {
                    ".stderr}}".len()
                };
            shown_from = at;
            continue;
        }
        let body_end = tail
            .find("</details>")
            .map_or(chapter.len(), |end| here + end);
        let body = &chapter[here..body_end];
        let mut revealed = BTreeSet::new();
        for (path, _) in includes(body) {
            if path.ends_with(".stderr") {
                for line in read(path).unwrap_or_default().lines() {
                    if let Some(code) = explain::code_of(line) {
                        revealed.insert(code.to_owned());
                    } else if let Some(message) = line.strip_prefix("error: ") {
                        revealed.insert(message.to_owned());
                    }
                }
            }
        }
        if !revealed.is_empty() {
            let before = &chapter[shown_from..here];
            let mut text = before.to_owned();
            for directive in before
                .split("{{#include ")
                .skip(1)
                .filter_map(|rest| rest.split_once("}}"))
                .map(|(directive, _)| directive)
            {
                text.push('\n');
                text.push_str(&shown(directive));
            }
            let text = text.to_lowercase();
            let line = chapter[..here].lines().count() + 1;
            for error in revealed {
                if text.contains(&error.to_lowercase()) {
                    problems.push(format!(
                        "the text before the fold at line {line} names {error}, which the fold \
                         reveals: let the reader predict (include the case's code without its \
                         explaining comment, with an anchor, and explain after the fold)"
                    ));
                }
            }
        }
        // Inside the fold nothing is asked: go on after it.
        at = body_end;
    }
    problems
}

/// What a book page includes: the files (relative to the root), the
/// (file, anchor) pairs, and the includes that do not resolve.
#[derive(Default)]
struct Included {
    files: BTreeSet<PathBuf>,
    anchors: BTreeSet<(PathBuf, String)>,
    problems: Vec<String>,
}

/// Reads the page at `page` (relative to `root`) and resolves its includes.
fn read_includes(root: &Path, page: &Path) -> Result<Included> {
    let page_path = root.join(page);
    let text = std::fs::read_to_string(&page_path)?;
    let page_dir = page_path.parent().context("a page has a folder")?;
    let canonical_root = root.canonicalize()?;
    let mut included = Included::default();
    for (path, anchor) in includes(&text) {
        let file = page_dir.join(path);
        let Ok(target) = std::fs::read_to_string(&file) else {
            included.problems.push(format!(
                "{} includes {path}, which does not exist",
                page.display()
            ));
            continue;
        };
        let canonical = file.canonicalize()?;
        let relative = canonical
            .strip_prefix(&canonical_root)
            .map(Path::to_path_buf)
            .unwrap_or(canonical.clone());
        let named = anchor.filter(|a| !a.chars().all(|c| c.is_ascii_digit()));
        if let Some(anchor) = named {
            if target.contains(&format!("ANCHOR: {anchor}"))
                && target.contains(&format!("ANCHOR_END: {anchor}"))
            {
                included
                    .anchors
                    .insert((relative.clone(), anchor.to_owned()));
            } else {
                included.problems.push(format!(
                    "{} includes {path}:{anchor}, an anchor that file lacks",
                    page.display()
                ));
            }
        }
        included.files.insert(relative);
    }
    Ok(included)
}

/// The `{{#include path}}` and `{{#include path:anchor}}` directives of an
/// mdBook chapter.
fn includes(chapter: &str) -> Vec<(&str, Option<&str>)> {
    chapter
        .split("{{#include ")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}"))
        .map(|(target, _)| match target.trim().split_once(':') {
            Some((path, anchor)) => (path, Some(anchor.split(':').next().unwrap_or(anchor))),
            None => (target.trim(), None),
        })
        .collect()
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn list(errors: &BTreeSet<String>) -> String {
    if errors.is_empty() {
        return "no error".to_owned();
    }
    errors
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson(fails_with: &[&str], fails_checks: &[&str]) -> Lesson {
        Lesson {
            number: "08".into(),
            slug: "spawn-or-act".into(),
            package: "lesson-08-spawn-or-act".into(),
            dir: "lessons/08-spawn-or-act".into(),
            title: "t".into(),
            chapter: "c.md".into(),
            fails_with: fails_with.iter().map(|s| s.to_string()).collect(),
            fails_checks: fails_checks.iter().map(|s| s.to_string()).collect(),
            starter_fingerprint: None,
        }
    }

    fn checks_fail(failed: &[&str]) -> Outcome {
        Outcome::ChecksFail {
            failed: failed.iter().map(|s| s.to_string()).collect(),
            passed: 3,
            report: String::new(),
        }
    }

    #[test]
    fn a_starter_that_compiles_must_fail_exactly_its_documented_checks() {
        let lesson = lesson(&[], &["flood::bounded", "locks::no_deadlock"]);
        let exact = checks_fail(&["checks::flood::bounded", "checks::locks::no_deadlock"]);
        assert!(starter_verdict(&lesson, &exact).is_ok());

        let fewer = checks_fail(&["checks::flood::bounded"]);
        let problem = starter_verdict(&lesson, &fewer).unwrap_err();
        assert!(
            problem.contains("documented, but passing: locks::no_deadlock"),
            "{problem}"
        );

        let more = checks_fail(&[
            "checks::flood::bounded",
            "checks::locks::no_deadlock",
            "checks::flood::bounded_too",
        ]);
        let problem = starter_verdict(&lesson, &more).unwrap_err();
        assert!(
            problem.contains("not documented: checks::flood::bounded_too"),
            "{problem}"
        );

        let done = Outcome::Done {
            passed: 5,
            checks: vec![],
        };
        assert!(starter_verdict(&lesson, &done).is_err());
        let broken = Outcome::DoesNotCompile {
            errors: ["E0599".to_owned()].into(),
            first: String::new(),
        };
        assert!(starter_verdict(&lesson, &broken).is_err());
    }

    #[test]
    fn a_starter_that_does_not_compile_must_fail_with_exactly_its_errors() {
        let lesson = lesson(&["E0599"], &[]);
        let errors = |codes: &[&str]| Outcome::DoesNotCompile {
            errors: codes.iter().map(|s| s.to_string()).collect(),
            first: String::new(),
        };
        assert_eq!(
            starter_verdict(&lesson, &errors(&["E0599"])),
            Ok("with E0599".to_owned())
        );
        assert!(starter_verdict(&lesson, &errors(&["E0599", "E0277"])).is_err());
        assert!(starter_verdict(&lesson, &checks_fail(&["checks::a"])).is_err());
        let both = self::lesson(&["E0599"], &["flood::bounded"]);
        assert!(starter_verdict(&both, &checks_fail(&["checks::flood::bounded"])).is_err());
    }

    #[test]
    fn a_chapter_must_not_name_the_error_before_its_fold() {
        let files = |path: &str| {
            match path {
            "case.rs" => Some(
                "// E0599: the help is a trap.\n\n// ANCHOR: case\nfn f() {}\n// ANCHOR_END: case\n"
                    .to_owned(),
            ),
            "case.stderr" => Some(
                "error[E0599]: no method named `poll_read`\nerror: lifetime may not live long enough\n"
                    .to_owned(),
            ),
            _ => None,
        }
        };
        let fold = "<details>\n<summary>rustc's answer</summary>\n\n```text\n{{#include case.stderr}}\n```\n\nE0599, and no code for the lifetime.\n</details>\n";
        let fair = format!(
            "**Predict:** what does rustc say?\n{{{{#include case.rs:case}}}}\n{fold}Then E0599 again.\n"
        );
        assert!(answers_named_before_folds(&fair, files).is_empty());

        let comment = format!("**Predict:**\n{{{{#include case.rs}}}}\n{fold}");
        let problems = answers_named_before_folds(&comment, files);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("names E0599"), "{problems:?}");

        let prose =
            format!("### Lifetime may not live long enough\n{{{{#include case.rs:case}}}}\n{fold}");
        let problems = answers_named_before_folds(&prose, files);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("names lifetime may not live long enough"),
            "{problems:?}"
        );

        // A snapshot shown openly answers what came before it: the next
        // question starts after it.
        let open = format!(
            "E0599 here:\n```text\n{{{{#include case.stderr}}}}\n```\nNow predict.\n{fold}"
        );
        assert!(answers_named_before_folds(&open, files).is_empty());
    }

    #[test]
    fn includes_are_read_with_and_without_anchors() {
        let chapter = "text {{#include ../../a.rs}} more\n```\n{{#include ../../b.rs:worker}}\n{{#include c.rs:3:9}}\n```";
        assert_eq!(
            includes(chapter),
            [
                ("../../a.rs", None),
                ("../../b.rs", Some("worker")),
                ("c.rs", Some("3"))
            ]
        );
    }
}
