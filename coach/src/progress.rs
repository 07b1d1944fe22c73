//! Where the learner stands: every lesson's outcome, derived from its code
//! (never stored as a fact), with a cache keyed by the content of the files
//! the checks depend on, so that an unchanged lesson is not rebuilt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::checks::{self, Outcome};
use crate::lessons::Lesson;
use crate::workspace;

/// Bumped when the cache's layout or the meaning of an outcome changes.
const CACHE_VERSION: u32 = 1;

#[derive(Default, Serialize, Deserialize)]
struct Cache {
    version: u32,
    lessons: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    hash: String,
    outcome: Outcome,
}

/// The learner's lessons in the workspace at `root`, and the cache that
/// saves re-running unchanged ones.
pub struct Progress {
    root: PathBuf,
    target_dir: PathBuf,
    cache_path: PathBuf,
    cache: Cache,
}

impl Progress {
    pub fn open(root: &Path, target_dir: &Path) -> Progress {
        let cache_path = target_dir.join("coach").join("progress.json");
        let cache = match std::fs::read_to_string(&cache_path) {
            Err(_) => Cache::default(),
            Ok(text) => match serde_json::from_str::<Cache>(&text) {
                Ok(cache) if cache.version == CACHE_VERSION => cache,
                Ok(_) => Cache::default(),
                Err(error) => {
                    // Only a cache: nothing is lost by starting afresh.
                    eprintln!(
                        "note: ignoring the coach's cache {} ({error}); it will be rebuilt",
                        cache_path.display()
                    );
                    Cache::default()
                }
            },
        };
        Progress {
            root: root.to_path_buf(),
            target_dir: target_dir.to_path_buf(),
            cache_path,
            cache,
        }
    }

    /// The lesson's outcome, from the cache when none of its inputs changed.
    pub fn outcome(&mut self, lesson: &Lesson, use_cache: bool) -> Result<Outcome> {
        let inputs = [
            lesson.dir.as_path(),
            Path::new("support"),
            // Later lessons build on earlier reference solutions.
            Path::new("solutions"),
            Path::new("Cargo.toml"),
            Path::new("Cargo.lock"),
            Path::new("rust-toolchain.toml"),
        ];
        let hash = workspace::content_hash(&self.root, &inputs)?;
        if use_cache
            && let Some(entry) = self.cache.lessons.get(&lesson.package)
            && entry.hash == hash
        {
            return Ok(entry.outcome.clone());
        }
        let outcome = checks::run(&self.root, &self.target_dir, &lesson.package)?;
        self.cache.version = CACHE_VERSION;
        self.cache.lessons.insert(
            lesson.package.clone(),
            Entry {
                hash,
                outcome: outcome.clone(),
            },
        );
        self.save();
        Ok(outcome)
    }

    fn save(&self) {
        let write = || -> Result<()> {
            std::fs::create_dir_all(self.cache_path.parent().expect("cache has a folder"))?;
            let temporary = self.cache_path.with_extension("json.tmp");
            std::fs::write(&temporary, serde_json::to_string_pretty(&self.cache)?)?;
            std::fs::rename(&temporary, &self.cache_path)?;
            Ok(())
        };
        if let Err(error) = write() {
            eprintln!("note: could not save the coach's cache ({error}); the next run rebuilds it");
        }
    }
}
