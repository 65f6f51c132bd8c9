//! Reading the files Keywarden reads for itself (configs, rules, baselines, templates,
//! inventories, key files, CA bundles): regular files only, at most [`MAX_INPUT`] bytes.
//! A FIFO would hang a run and `/dev/zero` would eat memory; both are refused with a
//! clear error before a byte is read. Scanned files are not read here (the walker skips
//! what is not a regular file and streams the rest).

use std::io::{self, Read};
use std::path::Path;

/// The largest file Keywarden reads for itself: 64 MiB.
pub const MAX_INPUT: u64 = 64 << 20;

/// Refuses anything but a regular file (symbolic links are followed) of at most `max`
/// bytes.
pub fn check(path: &Path, max: u64) -> io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a directory, FIFO, socket or device): keywarden reads only regular files for its own input",
        ));
    }
    if meta.len() > max {
        return Err(too_large(max));
    }
    Ok(())
}

fn too_large(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("larger than {max} bytes, the most keywarden reads for its own input"),
    )
}

/// Reads a regular file of at most [`MAX_INPUT`] bytes.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    check(path, MAX_INPUT)?;
    let file = std::fs::File::open(path)?;
    read_capped(file, MAX_INPUT)
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let bytes = read(path)?;
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Reads at most `max` bytes from `r`; more is an error (a file that grows while read,
/// or a stream).
pub fn read_capped(r: impl Read, max: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(buf)
}

/// The files a directory walk that honours ignore files reads in each directory (and in
/// the root's ancestors).
pub const DIR_FILES: [&str; 2] = [".gitignore", ".ignore"];

/// The first of [`DIR_FILES`] in `dir` that is there but would hang or flood a reader (a
/// FIFO, a device, a link to `/dev/zero`, a huge file), with why. A broken link is fine:
/// opening it fails at once.
pub fn hostile_dir_file(dir: &Path) -> Option<(std::path::PathBuf, String)> {
    for name in DIR_FILES {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        match check(&path, MAX_INPUT) {
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                return Some((path, e.to_string()));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_big_files_are_refused() {
        assert!(read(Path::new("/dev/zero")).is_err());
        assert!(read(Path::new("/")).is_err());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "ok").unwrap();
        assert_eq!(read_to_string(&p).unwrap(), "ok");
        assert!(check(&p, 1).is_err());
        assert!(read_capped(&b"abc"[..], 2).is_err());
    }
}
