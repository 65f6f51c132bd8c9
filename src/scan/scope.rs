//! The reach of an environment marker (`NODE_ENV=production`, `environment: production`,
//! a `production:` mapping): the block that declares it, never the whole file. Blocks are
//! read from indentation, which YAML, CI workflows, dotenv and properties files, HCL and
//! most code share:
//!
//! - a marker that ends its line with `:` (`production:`) heads a block: it reaches the
//!   lines below it that are indented deeper;
//! - a section marker (`[production]`, `[env.production.vars]`) heads its section: it
//!   reaches the lines below it, whatever their indentation, up to the next break;
//! - any other marker (`NODE_ENV: test`, `environment: production`) is one entry of a
//!   block: it reaches its siblings and their children, up to a line indented less;
//! - a document or section break (`---`, `#---`, `[section]`) ends every block;
//! - a marker in a comment reaches nothing.

use std::ops::Range;

/// Does the marker found at `marker` in `text` reach the key that starts at `key`?
pub fn reaches(text: &[u8], marker: Range<usize>, key: usize) -> bool {
    let m_line = line_start(text, marker.start);
    let k_line = line_start(text, key.min(text.len()));
    if in_comment(text, m_line, marker.start) {
        return false;
    }
    if m_line == k_line {
        return true;
    }
    let m_end = line_end(text, m_line);
    if inside_inline_block(&text[m_line..m_end], marker.start - m_line) {
        return false;
    }
    let header = marker.end <= m_end && is_header(&text[m_line..m_end]);
    if header && k_line < m_line {
        return false;
    }
    // A section header is a break itself: only the lines after it count.
    let section = header && is_break(&text[m_line..m_end]);
    let indent = indent_of(&text[m_line..m_end]);
    let reached = |line: &[u8]| {
        if section {
            true
        } else if header {
            indent_of(line) > indent
        } else {
            indent_of(line) >= indent
        }
    };
    let (from, to) = if m_line < k_line {
        (m_end, k_line)
    } else {
        (line_end(text, k_line), m_line)
    };
    // Every line between them, and the key's own, must stay inside the block.
    let mut at = from;
    while at < to {
        let start = at + 1;
        let end = line_end(text, start).min(to.max(start));
        let line = &text[start.min(text.len())..end];
        at = end;
        if is_break(line) {
            return false;
        }
        if is_blank_or_comment(line) {
            continue;
        }
        if !reached(line) {
            return false;
        }
    }
    let k_end = line_end(text, k_line);
    reached(&text[k_line..k_end])
}

/// Does a marker at `marker` of the file's first bytes `head` reach every key of the file,
/// wherever it is? Only a top-level entry (`NODE_ENV=production` at column 1, not a
/// header, not in a comment) does: the lines between it and a far key are not at hand,
/// and a top-level entry is only ever ended by a document break.
pub fn reaches_whole_file(head: &[u8], marker: Range<usize>) -> bool {
    let m_line = line_start(head, marker.start);
    let m_end = line_end(head, m_line);
    let line = &head[m_line..m_end];
    !in_comment(head, m_line, marker.start)
        && indent_of(line) == 0
        && !(marker.end <= m_end && is_header(line))
}

/// Is `at` inside brackets that open and close on this `line` (`test: { NODE_ENV: 'test' }`,
/// a YAML flow mapping)? Then the marker is confined to them.
fn inside_inline_block(line: &[u8], at: usize) -> bool {
    let depth = |bytes: &[u8]| {
        bytes.iter().fold(0isize, |d, b| match b {
            b'{' | b'[' | b'(' => d + 1,
            b'}' | b']' | b')' => d - 1,
            _ => d,
        })
    };
    let open = depth(&line[..at]);
    open > 0 && depth(&line[at..]) <= -open
}

fn line_start(text: &[u8], at: usize) -> usize {
    memchr::memrchr(b'\n', &text[..at.min(text.len())]).map_or(0, |i| i + 1)
}

fn line_end(text: &[u8], at: usize) -> usize {
    let at = at.min(text.len());
    memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |i| at + i)
}

fn indent_of(line: &[u8]) -> usize {
    line.iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count()
}

fn trimmed(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

/// A line that is only a mapping key (`production:`) or a section (`[production]`).
fn is_header(line: &[u8]) -> bool {
    let t = trimmed(line);
    let t = t.strip_suffix(b"{").map_or(t, <[u8]>::trim_ascii_end);
    t.ends_with(b":") || (t.starts_with(b"[") && t.ends_with(b"]"))
}

/// A document or section break: YAML's `---` and `...`, properties' `#---` and `!---`,
/// an INI or TOML section at column 1.
fn is_break(line: &[u8]) -> bool {
    let t = line.trim_ascii_end();
    matches!(t, b"---" | b"..." | b"#---" | b"!---")
        || t.starts_with(b"--- ")
        || (t.starts_with(b"[") && t.ends_with(b"]") && !t.starts_with(b"[["))
}

fn is_blank_or_comment(line: &[u8]) -> bool {
    let t = trimmed(line);
    t.is_empty() || starts_comment(t)
}

fn starts_comment(t: &[u8]) -> bool {
    [
        &b"#"[..],
        b"//",
        b";",
        b"--",
        b"/*",
        b"*",
        b"<!--",
        b"%",
        b"REM ",
    ]
    .iter()
    .any(|c| t.starts_with(c))
}

/// Is `at` (on the line starting at `line`) inside a comment: a comment line, or after a
/// trailing ` #` or ` //`?
fn in_comment(text: &[u8], line: usize, at: usize) -> bool {
    let before = &text[line..at];
    starts_comment(before.trim_ascii_start())
        || memchr::memmem::find(before, b" #").is_some()
        || memchr::memmem::find(before, b"\t#").is_some()
        || memchr::memmem::find(before, b" //").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Does `marker` (the first occurrence) reach `key` (the first occurrence) in `text`?
    fn r(text: &str, marker: &str, key: &str) -> bool {
        let m = text.find(marker).unwrap();
        let k = text.find(key).unwrap();
        reaches(text.as_bytes(), m..m + marker.len(), k)
    }

    const WORKFLOW: &str = "\
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    env:
      NODE_ENV: test
    steps:
      - run: npm test
  deploy:
    environment: production
    runs-on: ubuntu-latest
    env:
      MASK_KEY: KEY
    steps:
      - run: ./deploy
";

    #[test]
    fn a_ci_job_marker_reaches_its_own_job_only() {
        assert!(!r(WORKFLOW, "NODE_ENV: test", "KEY"));
        assert!(r(WORKFLOW, "environment: production", "KEY"));
    }

    #[test]
    fn a_header_reaches_its_children_only() {
        let db = "development:\n  password: DEVKEY\nproduction:\n  password: PRODKEY\ntest:\n  password: TESTKEY\n";
        assert!(r(db, "production:", "PRODKEY"));
        assert!(!r(db, "production:", "DEVKEY"));
        assert!(!r(db, "production:", "TESTKEY"));
    }

    #[test]
    fn flat_files_reach_everything_but_comments_and_breaks_stop_it() {
        assert!(r(
            "NODE_ENV=production\nA=1\n\nMASK=KEY\n",
            "NODE_ENV",
            "KEY"
        ));
        assert!(r("MASK=KEY\nNODE_ENV=production\n", "NODE_ENV", "KEY"));
        assert!(!r("# NODE_ENV=production\nMASK=KEY\n", "NODE_ENV", "KEY"));
        assert!(!r("X=1 # NODE_ENV=test\nMASK=KEY\n", "NODE_ENV", "KEY"));
        assert!(!r(
            "spring.profiles.active=prod\n#---\nmask.key=KEY\n",
            "spring",
            "KEY"
        ));
        assert!(!r("a: 1\nenv: prod\n---\nkey: KEY\n", "env: prod", "KEY"));
        assert!(!r("[test]\nenv=test\n[prod]\nkey=KEY\n", "env=test", "KEY"));
    }

    #[test]
    fn code_blocks_by_indentation() {
        let js =
            "const cfg = {\n  test: { NODE_ENV: 'test' },\n  prod: {\n    key: 'KEY',\n  },\n};\n";
        assert!(!r(js, "NODE_ENV", "KEY"));
        assert!(r(js, "prod: {", "KEY"));
        assert!(!r("env: {NODE_ENV: test}\nkey: KEY\n", "NODE_ENV", "KEY"));
    }

    #[test]
    fn a_section_reaches_its_own_lines_until_the_next_section() {
        for nl in ["\n", "\r\n"] {
            let ini = [
                "[production]",
                "host=a",
                "  key=KEY",
                "[staging]",
                "key=OTHER",
                "",
            ]
            .join(nl);
            assert!(r(&ini, "[production]", "KEY"), "{nl:?}");
            assert!(!r(&ini, "[production]", "OTHER"), "{nl:?}");
            assert!(!r(&ini, "[staging]", "KEY"), "{nl:?}");
        }
    }

    #[test]
    fn crlf_lines_keep_their_blocks() {
        let db = "development:\r\n  password: DEVKEY\r\nproduction:\r\n  password: PRODKEY\r\n";
        assert!(r(db, "production:", "PRODKEY"));
        assert!(!r(db, "production:", "DEVKEY"));
        assert!(!r(db, "development:", "PRODKEY"));
    }

    #[test]
    fn whole_file_only_for_top_level_entries() {
        let t = b"NODE_ENV=production\n";
        assert!(reaches_whole_file(t, 0..19));
        let t = b"env:\n  NODE_ENV: production\n";
        assert!(!reaches_whole_file(t, 7..27));
        let t = b"# NODE_ENV=production\n";
        assert!(!reaches_whole_file(t, 2..21));
    }
}
