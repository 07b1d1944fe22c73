//! `cargo run -- explain E0597`: where the course meets an error, from the
//! recorded snapshots in `ui-tests/`. For the developer who hit an error in
//! their own code and wants the lesson about it.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::lessons::Lesson;
use crate::workspace;

/// One recorded broken example.
pub struct Case {
    /// `ui-tests/edition2024/cases/02_spawn_handler_future.rs`, relative.
    pub source: PathBuf,
    /// The lesson number it belongs to, from its name (`02_...`).
    pub lesson: String,
    /// The first line of every error in its snapshot.
    pub errors: Vec<String>,
    /// Its leading comment: what the case shows, in a few sentences.
    pub about: String,
}

/// Every case with a snapshot under `ui-tests/`.
pub fn cases(root: &Path) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for stderr in workspace::files_below(&root.join("ui-tests"))? {
        if stderr.extension().is_none_or(|ext| ext != "stderr") {
            continue;
        }
        let source = stderr.with_extension("rs");
        let snapshot = std::fs::read_to_string(&stderr)?;
        let code = std::fs::read_to_string(&source).unwrap_or_default();
        let name = source
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        cases.push(Case {
            source: source.strip_prefix(root).unwrap_or(&source).to_path_buf(),
            lesson: name.split('_').next().unwrap_or_default().to_owned(),
            errors: snapshot
                .lines()
                .filter(|line| line.starts_with("error"))
                .map(str::to_owned)
                .collect(),
            about: code
                .lines()
                .map_while(|line| line.strip_prefix("//"))
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" "),
        });
    }
    Ok(cases)
}

/// The error code in a snapshot line: `error[E0597]: ...` gives `E0597`.
pub fn code_of(line: &str) -> Option<&str> {
    line.strip_prefix("error[")?.split(']').next()
}

/// Prints where the course meets `query`: an error code (`E0597`, `e597`)
/// or words from an error without one ("lifetime may not live long enough").
pub fn explain(root: &Path, lessons: &[Lesson], query: &str) -> Result<bool> {
    let wanted = normalise_code(query);
    let matches = |line: &str| match &wanted {
        Some(code) => code_of(line) == Some(code.as_str()),
        None => line.to_lowercase().contains(&query.to_lowercase()),
    };
    let found: Vec<Case> = cases(root)?
        .into_iter()
        .filter(|case| case.errors.iter().any(|line| matches(line)))
        .collect();
    let label = wanted.as_deref().unwrap_or(query);
    if found.is_empty() {
        println!("No lesson records {label:?} yet.");
        if let Some(code) = &wanted {
            println!("rustc's own explanation: rustc --explain {code}");
        }
        return Ok(false);
    }
    println!("Where the course meets {label}:\n");
    for lesson in lessons {
        let here: Vec<&Case> = found
            .iter()
            .filter(|case| case.lesson == lesson.number)
            .collect();
        let starter = wanted
            .as_ref()
            .is_some_and(|code| lesson.fails_with.contains(code))
            || lesson
                .fails_with
                .iter()
                .any(|e| wanted.is_none() && matches(e));
        if here.is_empty() && !starter {
            continue;
        }
        println!("{lesson}: {}", lesson.chapter_path().display());
        if starter {
            println!(
                "  your starter, {}/src/lib.rs, fails with it",
                lesson.folder()
            );
        }
        for case in here {
            println!("  {}", case.source.display());
            println!("    {}", wrap(&case.about, 74, "    "));
        }
        println!();
    }
    if let Some(code) = &wanted {
        println!("rustc's own explanation: rustc --explain {code}");
    }
    Ok(true)
}

/// `E0597`, `e0597` and `597` all mean `E0597`; anything else is not a code.
fn normalise_code(query: &str) -> Option<String> {
    let digits = query.trim().trim_start_matches(['E', 'e']);
    (!digits.is_empty() && digits.len() <= 4 && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("E{digits:0>4}"))
}

fn wrap(text: &str, width: usize, prefix: &str) -> String {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines.join(&format!("\n{prefix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_in_any_spelling() {
        assert_eq!(normalise_code("E0597").as_deref(), Some("E0597"));
        assert_eq!(normalise_code("e597").as_deref(), Some("E0597"));
        assert_eq!(normalise_code(" 373 ").as_deref(), Some("E0373"));
        assert_eq!(normalise_code("lifetime may not live long enough"), None);
        assert_eq!(normalise_code("E"), None);
    }

    #[test]
    fn a_snapshot_line_names_its_code() {
        assert_eq!(
            code_of("error[E0521]: borrowed data escapes outside of method"),
            Some("E0521")
        );
        assert_eq!(code_of("error: lifetime may not live long enough"), None);
    }

    #[test]
    fn every_recorded_case_belongs_to_a_lesson_and_says_what_it_shows() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("coach/ is in the workspace");
        let cases = cases(root).unwrap();
        assert!(cases.len() >= 10, "the ui-tests hold the recorded cases");
        for case in cases {
            assert!(
                case.lesson.len() == 2 && case.lesson.chars().all(|c| c.is_ascii_digit()),
                "{:?}",
                case.source
            );
            assert!(
                !case.errors.is_empty(),
                "{:?} records no error",
                case.source
            );
            assert!(
                case.about.len() > 40,
                "{:?} needs a leading comment saying what it shows",
                case.source
            );
        }
    }
}
