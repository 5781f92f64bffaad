//! Reading key log files (`--keylog`) into the run's [`Keys`]: line by line, in bounded
//! memory whatever the file holds (a line longer than any key log line is skipped
//! without being kept).

use crate::capture::{CaptureReader, Format};
use crate::layers::tls::keylog::{Keys, Line, LogStats, MAX_LINE};
use crate::run::Input;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Why a key log file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeylogError {
    /// It could not be read.
    #[error("key log {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Not one line of it is a key log line, and some are not.
    #[error("key log {}: not an NSS key log file (line {line} is not a key log line, and no line gives a secret)", path.display())]
    NotAKeyLog {
        /// The file.
        path: PathBuf,
        /// The first line that is not a key log line.
        line: u64,
    },
}

/// Adds the secrets of the key log file at `path` to `keys`.
pub fn read_file(path: &Path, keys: &Keys) -> Result<LogStats, KeylogError> {
    let err = |source| KeylogError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(err)?;
    let stats = read(file, keys).map_err(err)?;
    if stats.used == 0 {
        if let Some(line) = stats.first_bad {
            return Err(KeylogError::NotAKeyLog {
                path: path.to_path_buf(),
                line,
            });
        }
    }
    Ok(stats)
}

/// Adds the secrets of every line read from `src` to `keys`.
pub fn read(src: impl Read, keys: &Keys) -> io::Result<LogStats> {
    let mut r = BufReader::with_capacity(1 << 16, src);
    let mut stats = LogStats::default();
    let mut line = Vec::with_capacity(MAX_LINE);
    let mut too_long = false;
    let mut n = 0u64;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let (take, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let part = &buf[..take - usize::from(end)];
        if !too_long {
            if line.len() + part.len() > MAX_LINE {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(part);
            }
        }
        r.consume(take);
        if end {
            n += 1;
            let kind = if too_long {
                Line::Bad
            } else {
                keys.add_line(&line)
            };
            stats.count(n, kind);
            line.clear();
            too_long = false;
        }
    }
    if too_long || !line.is_empty() {
        n += 1;
        let kind = if too_long {
            Line::Bad
        } else {
            keys.add_line(&line)
        };
        stats.count(n, kind);
    }
    Ok(stats)
}

/// Adds the TLS secrets that pcapng files among `inputs` carry before their first
/// packet (where `editcap --inject-secrets` puts them) to `keys`, so that every file of
/// a run can use them whichever file holds them. Reading stops at each file's first
/// packet; a file that cannot be read is left to the run to report.
pub fn leading_secrets(inputs: &[Input], keys: &Keys) {
    if inputs.len() < 2 {
        return;
    }
    for input in inputs {
        let Input::File(_) = input else { continue };
        let Ok(file) = input.open() else { continue };
        let Ok(mut reader) = CaptureReader::new(file) else {
            continue;
        };
        if reader.format() != Format::PcapNg {
            continue;
        }
        if let Ok(Some(p)) = reader.next_packet() {
            for text in &p.secrets {
                keys.add_text(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_skipped_without_being_kept() {
        let keys = Keys::new();
        let good = format!("CLIENT_RANDOM {} {}", "01".repeat(32), "02".repeat(48));
        let mut text = "x".repeat(10 * MAX_LINE);
        text.push('\n');
        text.push_str(&good);
        let stats = read(text.as_bytes(), &keys).unwrap();
        assert_eq!((stats.used, stats.bad, stats.first_bad), (1, 1, Some(1)));
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn junk_is_not_a_key_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("junk.txt");
        std::fs::write(&p, "hello\nworld\n").unwrap();
        let e = read_file(&p, &Keys::new()).unwrap_err();
        assert!(
            e.to_string().contains("line 1 is not a key log line"),
            "{e}"
        );
        let p = dir.path().join("comments.txt");
        std::fs::write(&p, "# nothing yet\n").unwrap();
        assert_eq!(read_file(&p, &Keys::new()).unwrap().skipped, 1);
    }
}
