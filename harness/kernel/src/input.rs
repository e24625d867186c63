//! Reading files a user or a student hands in, with bounded work: only regular files, never
//! more than a stated size, and never a blocking open (a FIFO or a device is refused before a
//! byte is read). A student's files are opened without following links ([`Links::Refuse`]),
//! and only the bytes of a file that is the path's own may be quoted ([`Bounded::quotable`]).

use std::{
    fmt,
    fs::File,
    io::Read,
    os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

/// The largest object file read: real XDP objects are a few hundred KiB at most.
pub const OBJECT_LIMIT: u64 = 64 << 20;
/// The largest text file read (a rubric, a `pinned` file).
pub const TEXT_LIMIT: u64 = 1 << 20;

/// Whether the last component of a path may be a symbolic link.
///
/// A user's own paths on the command line (`--object`, `--rubric`) are followed: the user can
/// read what they point at anyway. Whatever a student hands in is refused when it is a link,
/// so a link to `/proc/self/environ` or a private file is never opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Follow a link (a path the user gave on the command line).
    Follow,
    /// Refuse a link without opening it (a file in a submission): `O_NOFOLLOW`.
    Refuse,
}

/// A file read by [`read_bounded`].
#[derive(Debug)]
pub struct Bounded {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Whether the bytes may be quoted in a message: only when the path names the file itself,
    /// not a link to it, and nothing else links to it (one hard link). A file reached through
    /// a link, or hard-linked from elsewhere, may be someone else's.
    pub quotable: bool,
}

/// What kind of path a user gave, so messages can name it ("the rubric", "the object").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// An XDP ELF object (`--object`, a submission's file).
    Object,
    /// A submission's `pinned` file naming a bpffs path.
    PinnedFile,
    /// A bpffs directory of pinned programs (`--pinned`).
    Pins,
    /// An instructor's rubric (`--rubric`).
    Rubric,
    /// The folder of submissions given to `grade`.
    Submissions,
    /// The folder reports are written to (`--out`).
    Out,
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathKind::Object => "object",
            PathKind::PinnedFile => "`pinned` file",
            PathKind::Pins => "pinned programs' path",
            PathKind::Rubric => "rubric",
            PathKind::Submissions => "submissions folder",
            PathKind::Out => "output folder",
        })
    }
}

impl PathKind {
    /// What the user should do about a path of this kind that cannot be used.
    fn fix(self) -> &'static str {
        match self {
            PathKind::Object => {
                "Pass a compiled object (`xdplab run LAB prog.c --print-compile-command` prints \
                 the line that compiles a C program on this machine)."
            }
            PathKind::PinnedFile => {
                "The file must hold one line, the bpffs folder where the programs are pinned, for \
                 example /sys/fs/bpf/alice (`echo /sys/fs/bpf/alice > pinned`)."
            }
            PathKind::Pins => {
                "Pass the bpffs directory the programs were pinned in, for example /sys/fs/bpf/alice."
            }
            PathKind::Rubric => "Pass a TOML rubric file (see the README's Rubric section).",
            PathKind::Submissions => {
                "Pass the folder holding one folder or object file per student."
            }
            PathKind::Out => "Pass a folder outside the submissions folder.",
        }
    }
}

/// Why a handed-in path could not be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// It does not exist or cannot be opened.
    #[error("cannot read the {kind} `{}`: {source}. Check the path. {}", path.display(), kind.fix())]
    Unreadable {
        /// What the path was meant to be.
        kind: PathKind,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// It is a FIFO, a device, a socket or a folder where a regular file was needed (or the
    /// other way round).
    #[error("the {kind} `{}` is {found}, not {wanted}; it was not read. {}", path.display(), kind.fix())]
    WrongType {
        /// What the path was meant to be.
        kind: PathKind,
        /// The path.
        path: PathBuf,
        /// What it is ("a FIFO").
        found: &'static str,
        /// What it must be ("a regular file").
        wanted: &'static str,
    },
    /// It is a symbolic link in a submission, which is never followed. The message names the
    /// link only: where it points is not read.
    #[error(
        "`{}` is a symbolic link; links in a submission are not followed, so nothing behind it \
         was read. Hand in the file or folder itself, not a link to it (`cp -rL` copies what \
         links point to).",
        path.display()
    )]
    Link {
        /// What the path was meant to be.
        kind: PathKind,
        /// The link, as the submission names it.
        path: PathBuf,
    },
    /// Its contents cannot be what its kind needs (an empty `pinned` file); `problem` is
    /// written by xdplab and quotes nothing from the file.
    #[error("the {kind} `{}` {problem}. {}", path.display(), kind.fix())]
    Content {
        /// What the path was meant to be.
        kind: PathKind,
        /// The path.
        path: PathBuf,
        /// What is wrong, in xdplab's words ("is empty").
        problem: String,
    },
    /// It is larger than anything of its kind should be.
    #[error("the {kind} `{}` is larger than the limit of {} MiB, so it was not read. {}", path.display(), limit >> 20, kind.fix())]
    TooLarge {
        /// What the path was meant to be.
        kind: PathKind,
        /// The path.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The output folder and the submissions folder overlap.
    #[error(
        "the output folder `{}` and the submissions folder `{}` lie inside one another, so \
         reports would be read as submissions (or overwrite one). Pass an --out folder outside \
         the submissions folder, for example `results/` next to it.",
        out.display(), submissions.display()
    )]
    Overlap {
        /// The output folder.
        out: PathBuf,
        /// The submissions folder.
        submissions: PathBuf,
    },
    /// It is text that is not UTF-8.
    #[error("the {kind} `{}` is not UTF-8 text. {}", path.display(), kind.fix())]
    NotText {
        /// What the path was meant to be.
        kind: PathKind,
        /// The path.
        path: PathBuf,
    },
}

impl InputError {
    /// The kind of path the error is about.
    pub fn kind(&self) -> PathKind {
        match self {
            InputError::Unreadable { kind, .. }
            | InputError::WrongType { kind, .. }
            | InputError::TooLarge { kind, .. }
            | InputError::Link { kind, .. }
            | InputError::Content { kind, .. }
            | InputError::NotText { kind, .. } => *kind,
            InputError::Overlap { .. } => PathKind::Out,
        }
    }
}

/// A file type in words, for messages.
pub fn describe(ft: std::fs::FileType) -> &'static str {
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a folder"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Reads a regular file of at most `limit` bytes. Anything else is refused before it is opened;
/// the file is then opened non-blocking and checked again on the descriptor, so a FIFO or a
/// device swapped in between cannot block or stream forever. With [`Links::Refuse`] a link is
/// refused unopened, and `O_NOFOLLOW` keeps a link swapped in later from being followed.
pub fn read_bounded(
    path: &Path,
    kind: PathKind,
    limit: u64,
    links: Links,
) -> Result<Bounded, InputError> {
    let unreadable = |source| InputError::Unreadable {
        kind,
        path: path.to_owned(),
        source,
    };
    let wrong_type = |ft| InputError::WrongType {
        kind,
        path: path.to_owned(),
        found: describe(ft),
        wanted: "a regular file",
    };
    let link = || InputError::Link {
        kind,
        path: path.to_owned(),
    };
    // stat first: opening some devices has effects of its own (a watchdog starts counting).
    let own = std::fs::symlink_metadata(path).map_err(unreadable)?;
    let via_link = own.file_type().is_symlink();
    let meta = match (via_link, links) {
        (false, _) => own,
        (true, Links::Refuse) => return Err(link()),
        (true, Links::Follow) => std::fs::metadata(path).map_err(unreadable)?,
    };
    if !meta.file_type().is_file() {
        return Err(wrong_type(meta.file_type()));
    }
    let nofollow = match links {
        Links::Follow => 0,
        Links::Refuse => libc::O_NOFOLLOW,
    };
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | nofollow)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // O_NOFOLLOW met a link swapped in after the stat.
            Some(libc::ELOOP) if links == Links::Refuse => link(),
            _ => unreadable(e),
        })?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.file_type().is_file() {
        return Err(wrong_type(meta.file_type()));
    }
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            kind,
            path: path.to_owned(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while it is read; never take more than the limit.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            kind,
            path: path.to_owned(),
            limit,
        });
    }
    Ok(Bounded {
        bytes,
        quotable: !via_link && meta.nlink() == 1,
    })
}

/// Reads a small UTF-8 text file (a rubric, a `pinned` file) with [`read_bounded`]. With
/// [`Links::Refuse`] (a submission's file) a file that is not quotable is refused too: its text
/// would end up in messages.
pub fn read_text(path: &Path, kind: PathKind, links: Links) -> Result<String, InputError> {
    let Bounded { bytes, quotable } = read_bounded(path, kind, TEXT_LIMIT, links)?;
    if links == Links::Refuse && !quotable {
        return Err(InputError::Content {
            kind,
            path: path.to_owned(),
            problem: "has more than one hard link, so it may be another file's; it was not read"
                .into(),
        });
    }
    String::from_utf8(bytes).map_err(|_| InputError::NotText {
        kind,
        path: path.to_owned(),
    })
}

/// Checks that `path` is a folder (following links), without opening anything in it.
pub fn require_dir(path: &Path, kind: PathKind) -> Result<(), InputError> {
    let meta = std::fs::metadata(path).map_err(|source| InputError::Unreadable {
        kind,
        path: path.to_owned(),
        source,
    })?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(InputError::WrongType {
            kind,
            path: path.to_owned(),
            found: describe(meta.file_type()),
            wanted: "a folder",
        })
    }
}

/// [`read_bounded`] for a file that must not be a link (a shard's `graded.json`, which comes
/// from a CI artifact): a symbolic link is refused, not followed, by `O_NOFOLLOW` on the open
/// itself, so a link swapped in after the first check is refused too.
pub fn read_bounded_no_follow(
    path: &Path,
    kind: PathKind,
    limit: u64,
) -> Result<Vec<u8>, InputError> {
    let unreadable = |source| InputError::Unreadable {
        kind,
        path: path.to_owned(),
        source,
    };
    let wrong_type = |found| InputError::WrongType {
        kind,
        path: path.to_owned(),
        found,
        wanted: "a regular file",
    };
    let meta = std::fs::symlink_metadata(path).map_err(unreadable)?;
    if !meta.file_type().is_file() {
        return Err(wrong_type(describe(meta.file_type())));
    }
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => wrong_type("a symbolic link"),
            _ => unreadable(e),
        })?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.file_type().is_file() {
        return Err(wrong_type(describe(meta.file_type())));
    }
    let too_large = || InputError::TooLarge {
        kind,
        path: path.to_owned(),
        limit,
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// `f_type` of a bpffs in statfs(2).
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Whether `path` lies on a bpffs, which holds pins and nothing else.
pub fn on_bpffs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid C string and `st` a properly sized out-parameter.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &raw mut st) };
    rc == 0 && st.f_type == BPF_FS_MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xdplab-input-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tmp("fifo");
        let fifo = dir.join("obj.o");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_bounded(&fifo, PathKind::Object, OBJECT_LIMIT, Links::Refuse).unwrap_err();
        assert!(
            e.to_string().contains("is a FIFO, not a regular file"),
            "{e}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn devices_and_folders_are_refused() {
        let e = read_bounded(
            Path::new("/dev/zero"),
            PathKind::Object,
            OBJECT_LIMIT,
            Links::Follow,
        )
        .unwrap_err();
        assert!(e.to_string().contains("a character device"), "{e}");
        let e = read_text(Path::new("/etc"), PathKind::Rubric, Links::Follow).unwrap_err();
        assert!(
            e.to_string().starts_with("the rubric `/etc` is a folder"),
            "{e}"
        );
    }

    #[test]
    fn the_limit_is_named_and_held() {
        let dir = tmp("large");
        let big = dir.join("big.o");
        std::fs::write(&big, vec![0u8; 2 << 20]).unwrap();
        let e = read_bounded(&big, PathKind::Object, 1 << 20, Links::Refuse).unwrap_err();
        assert!(e.to_string().contains("limit of 1 MiB"), "{e}");
        assert_eq!(
            read_bounded(&big, PathKind::Object, 2 << 20, Links::Refuse)
                .unwrap()
                .bytes
                .len(),
            2 << 20
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_path_names_its_kind() {
        let e = read_text(
            Path::new("/nonexistent/rubric.toml"),
            PathKind::Rubric,
            Links::Follow,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("cannot read the rubric"), "{e}");
        let e = require_dir(Path::new("/nonexistent"), PathKind::Submissions).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read the submissions folder"),
            "{e}"
        );
    }

    /// A scratch folder holding a file `secret` with `text`.
    fn secret(name: &str, text: &str) -> (PathBuf, PathBuf) {
        let dir = tmp(name);
        let secret = dir.join("secret");
        std::fs::write(&secret, text).unwrap();
        (dir, secret)
    }

    /// A submission's link is refused by name, whatever it points at; a user's own link is
    /// followed, but what it points at is never quotable.
    #[test]
    fn links_are_refused_in_submissions_and_never_quoted() {
        let (dir, secret) = secret("links", "SECRET-IN-A-PRIVATE-FILE");
        let link = dir.join("lab.o");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let e = read_bounded(&link, PathKind::Object, OBJECT_LIMIT, Links::Refuse).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, InputError::Link { .. }), "{text}");
        assert!(text.contains("lab.o` is a symbolic link"), "{text}");
        assert!(!text.contains("secret"), "the target is not named: {text}");
        let e = read_text(&link, PathKind::PinnedFile, Links::Refuse).unwrap_err();
        assert!(matches!(e, InputError::Link { .. }), "{e}");
        let followed = read_bounded(&link, PathKind::Object, OBJECT_LIMIT, Links::Follow).unwrap();
        assert_eq!(followed.bytes, b"SECRET-IN-A-PRIVATE-FILE");
        assert!(!followed.quotable);
        let own = read_bounded(&secret, PathKind::Object, OBJECT_LIMIT, Links::Refuse).unwrap();
        assert!(own.quotable);
        // A link to a folder or a device is a link too, not what it points at.
        let dev = dir.join("zero.o");
        std::os::unix::fs::symlink("/dev/zero", &dev).unwrap();
        let e = read_bounded(&dev, PathKind::Object, OBJECT_LIMIT, Links::Refuse).unwrap_err();
        assert!(matches!(e, InputError::Link { .. }), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A hard link reads like the file it is, but its bytes are not quotable, and a submission's
    /// text file with a second link is not read at all.
    #[test]
    fn a_hard_linked_file_is_not_quotable() {
        let (dir, secret) = secret("hardlink", "/sys/fs/bpf/SECRET");
        let pinned = dir.join("pinned");
        std::fs::hard_link(&secret, &pinned).unwrap();
        let read = read_bounded(&pinned, PathKind::Object, OBJECT_LIMIT, Links::Refuse).unwrap();
        assert!(!read.quotable);
        let e = read_text(&pinned, PathKind::PinnedFile, Links::Refuse).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("more than one hard link"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
