//! `keywarden completions` and `keywarden man`.

use crate::util::*;
use std::process::Command as Std;

fn stdout_of(args: &[&str]) -> String {
    let out = Tree::new().cmd().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_completion_completes_subcommands_and_flags() {
    let script = stdout_of(&["completions", "bash"]);
    let t = Tree::new();
    let path = t.write("kw.bash", &script);
    // Load the script in a real bash and ask it what follows `keywarden sc` and
    // `keywarden scan --sta`.
    // As bash calls it: `_keywarden COMMAND CURRENT-WORD PREVIOUS-WORD`.
    let probe = format!(
        r#"source '{}'
probe() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1));
  _keywarden keywarden "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}";
  echo "${{COMPREPLY[*]}}"; }}
echo "A:$(probe keywarden sc)"
echo "B:$(probe keywarden scan --sta)"
echo "C:$(probe keywarden scan --format '')"
"#,
        path.display()
    );
    let out = match Std::new("bash").args(["--norc", "-c", &probe]).output() {
        Ok(o) => o,
        Err(e) => {
            skipped("bash completion", &format!("no bash ({e})"));
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |p: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(p))
            .unwrap_or_else(|| {
                panic!(
                    "no {p} in {text}\nstderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("A:"), vec!["scan"]);
    assert_eq!(line("B:"), vec!["--staged"]);
    let formats = line("C:");
    for f in ["text", "json", "sarif", "compact"] {
        assert!(formats.contains(&f.to_string()), "{formats:?}");
    }
}

#[test]
fn every_shell_gets_a_script_naming_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let s = stdout_of(&["completions", shell]);
        for sub in ["scan", "hook", "baseline", "audit", "completions", "man"] {
            assert!(s.contains(sub), "{shell} script lacks {sub}");
        }
    }
    let out = Tree::new()
        .cmd()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_page_covers_every_subcommand_and_the_exit_codes() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH keywarden 1"),
        "{}",
        &page[..200]
    );
    for sub in [
        "SCAN",
        "HOOK INSTALL",
        "BASELINE",
        "AUDIT",
        "DAEMON",
        "COMPLETIONS",
    ] {
        assert!(
            page.contains(&format!(".SH \"KEYWARDEN {sub}\"")),
            "no section for {sub}"
        );
    }
    assert!(page.contains("EXIT STATUS"));
    assert!(page.contains("\\-\\-staged"));
    // Rendered by a real formatter when there is one, the page must format cleanly.
    match Std::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(page.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            let warnings = String::from_utf8_lossy(&out.stderr);
            assert!(warnings.trim().is_empty(), "groff warnings:\n{warnings}");
        }
        Err(e) => {
            skipped("man page rendering", &format!("no groff ({e})"));
        }
    }
}
