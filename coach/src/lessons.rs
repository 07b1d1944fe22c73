//! Where the lessons are and what the coach knows about each: found through
//! `cargo metadata`, from the `[package.metadata.lesson]` table of every
//! package in `lessons/`.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use crate::workspace;

/// One lesson of the course.
#[derive(Clone, Debug)]
pub struct Lesson {
    /// "01": what learners type.
    pub number: String,
    /// "stream-buffer".
    pub slug: String,
    /// The starter's package, e.g. `lesson-03-stream-buffer`.
    pub package: String,
    /// `lessons/03-stream-buffer`, relative to the workspace root.
    pub dir: PathBuf,
    pub title: String,
    /// The chapter's file in `book/src/`.
    pub chapter: String,
    /// What the pristine starter must fail with: error codes, or the message
    /// of an error that has no code.
    pub fails_with: Vec<String>,
    /// For a starter that compiles (a behavioural lesson): the checks it must
    /// fail, as the end of their names, like a wrong fix's `must-fail`.
    pub fails_checks: Vec<String>,
    /// [`workspace::starter_fingerprint`] of the committed starter: a
    /// lesson whose files still have it is not started, and fails as
    /// `fails_with` / `fails_checks` say, without a build.
    pub starter_fingerprint: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct LessonMetadata {
    title: String,
    chapter: String,
    #[serde(default)]
    fails_with: Vec<String>,
    #[serde(default)]
    fails_checks: Vec<String>,
    #[serde(default)]
    starter_fingerprint: Option<String>,
}

impl Lesson {
    /// `lessons/03-stream-buffer`.
    pub fn folder(&self) -> String {
        self.dir.display().to_string()
    }

    /// `solutions/03-stream-buffer`.
    pub fn solution_dir(&self) -> PathBuf {
        Path::new("solutions").join(format!("{}-{}", self.number, self.slug))
    }

    /// `book/src/03-stream-buffer.md`.
    pub fn chapter_path(&self) -> PathBuf {
        Path::new("book/src").join(&self.chapter)
    }

    /// `book/src/03-stream-buffer-solution.md`: the solution and the
    /// alternatives, on a page of their own after the exercise.
    pub fn solution_page_path(&self) -> PathBuf {
        let chapter = self.chapter_path();
        let stem = chapter.file_stem().unwrap_or_default().to_string_lossy();
        chapter.with_file_name(format!("{stem}-solution.md"))
    }

    /// Whether the lesson's `src/` and `tests/` are still the committed
    /// starter, by its recorded fingerprint (no git, no build needed).
    pub fn is_untouched(&self, root: &Path) -> bool {
        let Some(recorded) = &self.starter_fingerprint else {
            return false;
        };
        workspace::starter_fingerprint(&root.join(&self.dir)).is_ok_and(|now| &now == recorded)
    }

    /// The hints, in order, from the lesson's `HINTS.md`.
    pub fn hints(&self, root: &Path) -> Result<Vec<String>> {
        let path = root.join(&self.dir).join("HINTS.md");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the hints in {}", path.display()))?;
        Ok(parse_hints(&text))
    }
}

impl fmt::Display for Lesson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lesson {} ({})", self.number, self.title)
    }
}

/// Every lesson of the workspace at `root`, in order.
pub fn discover(root: &Path) -> Result<Vec<Lesson>> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .current_dir(root)
        .no_deps()
        .exec()
        .context("`cargo metadata` failed: is the workspace's Cargo.toml readable?")?;
    let mut lessons = Vec::new();
    for package in &metadata.packages {
        let Some(table) = package.metadata.get("lesson") else {
            continue;
        };
        let meta: LessonMetadata = serde_json::from_value(table.clone()).with_context(|| {
            format!("[package.metadata.lesson] of {} is malformed", package.name)
        })?;
        let dir = package
            .manifest_path
            .parent()
            .context("a manifest has a folder")?
            .strip_prefix(&metadata.workspace_root)
            .context("lessons live inside the workspace")?
            .as_std_path()
            .to_path_buf();
        let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some((number, slug)) = folder.split_once('-') else {
            bail!("lesson folder {folder:?} is not named NN-slug");
        };
        lessons.push(Lesson {
            number: number.to_owned(),
            slug: slug.to_owned(),
            package: package.name.to_string(),
            dir,
            title: meta.title,
            chapter: meta.chapter,
            fails_with: meta.fails_with,
            fails_checks: meta.fails_checks,
            starter_fingerprint: meta.starter_fingerprint,
        });
    }
    lessons.sort_by(|a, b| a.number.cmp(&b.number));
    Ok(lessons)
}

/// The lesson a learner means by `name`: "3", "03", "stream-buffer",
/// "03-stream-buffer" or the package name.
pub fn find<'a>(lessons: &'a [Lesson], name: &str) -> Result<&'a Lesson> {
    let wanted = name
        .trim()
        .trim_start_matches("lessons/")
        .trim_end_matches('/');
    let as_number = wanted.parse::<u32>().ok();
    let found = lessons.iter().find(|lesson| {
        as_number.is_some_and(|n| lesson.number.parse::<u32>() == Ok(n))
            || wanted == lesson.slug
            || wanted == format!("{}-{}", lesson.number, lesson.slug)
            || wanted == lesson.package
    });
    match found {
        Some(lesson) => Ok(lesson),
        None => {
            let valid: Vec<String> = lessons
                .iter()
                .map(|l| format!("  {}  {}-{}", l.number, l.number, l.slug))
                .collect();
            bail!(
                "there is no lesson {name:?}. The lessons are:\n{}",
                valid.join("\n")
            )
        }
    }
}

/// Splits a `HINTS.md` into its hints: each one is an item of a numbered
/// list ("1. ..."), with its indented continuation lines. HTML comments on
/// a line of their own (the chapter's `ANCHOR` marks) are not part of a hint.
pub fn parse_hints(text: &str) -> Vec<String> {
    let mut hints: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("<!--") && trimmed.ends_with("-->") {
            continue;
        }
        let starts_item = line
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if starts_item {
            let (_, rest) = line.split_once(". ").unwrap_or_default();
            hints.push(rest.to_owned());
        } else if let Some(current) = hints.last_mut() {
            if line.trim().is_empty() {
                current.push('\n');
            } else {
                current.push('\n');
                current.push_str(line.trim_start());
            }
        }
    }
    hints
        .iter()
        .map(|h| h.trim().replace("\n\n\n", "\n\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson(number: &str, slug: &str) -> Lesson {
        Lesson {
            number: number.into(),
            slug: slug.into(),
            package: format!("lesson-{number}-{slug}"),
            dir: format!("lessons/{number}-{slug}").into(),
            title: "t".into(),
            chapter: "c.md".into(),
            fails_with: vec![],
            fails_checks: vec![],
            starter_fingerprint: None,
        }
    }

    #[test]
    fn a_lesson_is_found_by_any_of_its_names() {
        let lessons = [
            lesson("01", "stream-buffer"),
            lesson("02", "spawn-borrowed"),
        ];
        for name in [
            "2",
            "02",
            "spawn-borrowed",
            "02-spawn-borrowed",
            "lesson-02-spawn-borrowed",
            "lessons/02-spawn-borrowed/",
        ] {
            assert_eq!(find(&lessons, name).unwrap().number, "02", "{name}");
        }
    }

    #[test]
    fn an_unknown_lesson_lists_the_valid_ones() {
        let lessons = [
            lesson("01", "stream-buffer"),
            lesson("02", "spawn-borrowed"),
        ];
        let error = find(&lessons, "streams").unwrap_err().to_string();
        assert!(error.contains("no lesson \"streams\""), "{error}");
        assert!(
            error.contains("01-stream-buffer") && error.contains("02-spawn-borrowed"),
            "{error}"
        );
        assert!(find(&lessons, "3").is_err());
    }

    #[test]
    fn hints_are_the_items_of_a_numbered_list() {
        let text = "Some intro.\n\n1. First hint,\n   on two lines.\n<!-- ANCHOR_END: hint-1 -->\n\n2. Second.\n\n   With a paragraph.\n10. Tenth.\n";
        assert_eq!(
            parse_hints(text),
            [
                "First hint,\non two lines.",
                "Second.\n\nWith a paragraph.",
                "Tenth."
            ]
        );
    }
}
