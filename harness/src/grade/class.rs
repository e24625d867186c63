//! A graded class's folder: every student's reports and the class-level files, written the same
//! way by `grade` and by `grade merge`, so a merged folder is byte-identical to an unsharded one.
//!
//! `graded.json` keeps every submission's full result; `grade merge` reads it from each shard's
//! folder and rebuilds everything from it.

use std::{fs, path::Path};

use super::{Graded, Skipped, html, output};
use crate::error::{Error, Result};

/// The file in a results folder that holds every graded submission, for `grade merge`.
pub const GRADED_FILE: &str = "graded.json";

/// What the class page needs to know beyond the results.
#[derive(Debug, Clone, Copy)]
pub struct ClassInfo<'a> {
    /// The lab, for example `7.1`.
    pub lab: &'a str,
    /// The lab's contract (its README, Markdown), quoted next to each check on the class page.
    pub contract: &'a str,
}

/// Why `grade merge` cannot put shards together.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A shard's folder has no readable `graded.json`.
    #[error(
        "{path} cannot be read as a shard's results ({reason}); pass the --out folders of \
         `xdplab grade ... --shard K/N` runs"
    )]
    NotAShard {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Shards graded different labs.
    #[error("the shards graded different labs ({0} and {1}); merge only shards of one grading")]
    MixedLabs(String, String),
    /// Nothing to merge.
    #[error("no folders to merge: pass the --out folders of the shards' gradings")]
    NoFolders,
    /// One student graded in two shards.
    #[error(
        "student `{0}` is in two of the folders; each shard must grade its own students \
         (the same --shard K/N was passed twice, or a folder was given twice)"
    )]
    Duplicate(String),
    /// The merged folder could not be written.
    #[error(transparent)]
    Write(#[from] Error),
}

/// Writes every student's files and the class-level files (`summary.csv`, `index.html`,
/// `graded.json`) into `out`. `graded` must be sorted by student.
pub fn write(out: &Path, info: ClassInfo, graded: &[Graded], skipped: &[Skipped]) -> Result<()> {
    fs::create_dir_all(out)
        .map_err(|e| Error::op(format!("cannot create {}", out.display()), e))?;
    for g in graded {
        output::write_student(out, g)?;
        write_file(
            &output::student_dir(out, g).join(html::STUDENT_PAGE),
            &html::student_page(g),
        )?;
    }
    output::write_class(out, graded)?;
    super::write_skipped(out, skipped)?;
    write_file(&out.join(html::CLASS_PAGE), &html::class_page(info, graded))?;
    let all = serde_json::to_string_pretty(&ClassFile {
        lab: info.lab.to_owned(),
        graded: graded.to_vec(),
        skipped: skipped.to_vec(),
    })
    .expect("results serialise");
    write_file(&out.join(GRADED_FILE), &all)
}

/// The content of `graded.json`.
#[derive(serde::Serialize, serde::Deserialize)]
struct ClassFile {
    lab: String,
    graded: Vec<Graded>,
    /// Entries of the submissions folder left out; every shard lists the same ones.
    #[serde(default)]
    skipped: Vec<Skipped>,
}

fn write_file(path: &Path, content: &str) -> Result<()> {
    fs::write(path, content).map_err(|e| Error::op(format!("cannot write {}", path.display()), e))
}

/// Puts the results of several shards' folders together into `out`, rebuilding every file, and
/// returns the class. `contract` gives a lab's contract text by lab id.
pub fn merge(
    folders: &[impl AsRef<Path>],
    out: &Path,
    contract: fn(&str) -> &'static str,
) -> std::result::Result<Vec<Graded>, MergeError> {
    let (lab, graded, skipped) = read_shards(folders)?;
    let info = ClassInfo {
        lab: &lab,
        contract: contract(&lab),
    };
    write(out, info, &graded, &skipped)?;
    Ok(graded)
}

/// Reads the results of several shards' folders, checks they belong together, and returns the
/// lab, the class sorted by student, and the entries left out (the same in every shard).
fn read_shards(
    folders: &[impl AsRef<Path>],
) -> std::result::Result<(String, Vec<Graded>, Vec<Skipped>), MergeError> {
    let mut lab: Option<String> = None;
    let mut all: Vec<Graded> = Vec::new();
    let mut skipped: Option<Vec<Skipped>> = None;
    for folder in folders {
        let path = folder.as_ref().join(GRADED_FILE);
        let not_a_shard = |reason: String| MergeError::NotAShard {
            path: path.display().to_string(),
            reason,
        };
        let text = fs::read_to_string(&path).map_err(|e| not_a_shard(e.to_string()))?;
        let file: ClassFile =
            serde_json::from_str(&text).map_err(|e| not_a_shard(e.to_string()))?;
        match &lab {
            Some(l) if *l != file.lab => return Err(MergeError::MixedLabs(l.clone(), file.lab)),
            _ => lab = Some(file.lab),
        }
        all.extend(file.graded);
        skipped.get_or_insert(file.skipped);
    }
    let Some(lab) = lab else {
        return Err(MergeError::NoFolders);
    };
    all.sort_by(|a, b| a.submission.student.cmp(&b.submission.student));
    for pair in all.windows(2) {
        if pair[0].submission.student == pair[1].submission.student {
            return Err(MergeError::Duplicate(pair[0].submission.student.clone()));
        }
    }
    Ok((lab, all, skipped.unwrap_or_default()))
}
