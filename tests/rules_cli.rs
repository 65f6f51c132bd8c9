use crate::util::*;

#[test]
fn builtin_rules_check_clean_in_strict_mode() {
    let t = Tree::new();
    let out = t
        .cmd()
        .args(["rules", "check", "--strict"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("0 errors, 0 warnings"), "{s}");
}

#[test]
fn rules_check_reports_line_and_column_and_failing_examples() {
    let t = Tree::new();
    let bad_regex = t.write("bad.toml", "[[rule]]\nid = \"acme.key\"\nenvironment = \"live\"\nprefix = \"ak_live_\"\nbody = \"[A-Z\"\n[rule.severity]\ndefault = \"high\"\n[rule.fix]\ndefault = \"x\"\n");
    let out = t
        .cmd()
        .args(["rules", "check"])
        .arg(&bad_regex)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("bad.toml:5:8: error: rule \"acme.key\": invalid body regex"),
        "{s}"
    );

    let bad_example = t.write(
        "ex.toml",
        "[[rule]]\nid = \"acme.key\"\nenvironment = \"live\"\nprefix = \"ak_live_\"\nbody = \"[0-9]{8}\"\nexamples = [\"ak_live_abcdefgh\"]\nnegative_examples = [\"ak_live_93842716\"]\n[rule.severity]\ndefault = \"high\"\n[rule.fix]\ndefault = \"x\"\n",
    );
    let out = t
        .cmd()
        .args(["rules", "check"])
        .arg(&bad_example)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("ex.toml:6:13: error: rule \"acme.key\": example is not reported"),
        "{s}"
    );
    assert!(
        s.contains("ex.toml:7:22: error: rule \"acme.key\": negative example is reported"),
        "{s}"
    );

    let typo = t.write("typo.toml", "[[rule]]\nid = \"acme.key\"\nprefx = \"x\"\n");
    let out = t
        .cmd()
        .args(["rules", "check"])
        .arg(&typo)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("typo.toml:3:1: error: unknown field `prefx`")
    );
}

#[test]
fn custom_rules_file_adds_a_rule_to_scan_and_list() {
    let t = Tree::new();
    t.write("rules/acme.toml", "[[rule]]\nid = \"acme.key\"\nname = \"ACME key\"\nenvironment = \"live\"\nprefix = \"ak_live_\"\nbody = \"[0-9]{8}\"\nexamples = [\"ak_live_12345679\"]\nnegative_examples = [\"ak_live_1234\"]\n[rule.severity]\ndefault = \"medium\"\n[rule.fix]\ndefault = \"rotate it\"\n");
    t.write("src/a.txt", "k = ak_live_93842716\n");
    let (code, v) = t.scan_json(&["src", "--rules", "rules/acme.toml"]);
    assert_eq!(code, 1);
    assert_eq!(
        rows(&v),
        vec![(
            "src/a.txt".into(),
            1,
            "acme.key".into(),
            "medium".into(),
            "source".into()
        )]
    );
    let list = t
        .cmd()
        .args(["rules", "list", "--rules", "rules/acme.toml"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&list.stdout);
    assert!(
        s.contains("acme.key") && s.contains("mask.live-key") && s.contains("production-config"),
        "{s}"
    );
    // a bad --rules file makes the scan exit 2 with the place and the fix
    t.write("rules/broken.toml", "[[rule]]\nid = 3\n");
    let out = t
        .cmd()
        .args(["scan", "src", "--rules", "rules/broken.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("rules/broken.toml:2:6:") && e.contains("keywarden rules check"),
        "{e}"
    );
}

#[test]
fn rules_sharing_a_prefix_do_not_hide_each_other() {
    let t = Tree::new();
    t.write(
        "any.toml",
        "[[rule]]\nid = \"acme.any-mask\"\nenvironment = \"live\"\nprefix = \"mk_\"\nbody = \"(?:live|test)_[A-Za-z0-9]{12,256}\"\nexamples = [\"mk_live_93842716aBcDeFgH\"]\nnegative_examples = [\"mk_prod_93842716aBcDeFgH\"]\n[rule.severity]\ndefault = \"medium\"\n[rule.fix]\ndefault = \"x\"\n",
    );
    t.write("src/a.txt", format!("k = {LIVE}\n"));
    let (_, v) = t.scan_json(&["src", "--rules", "any.toml"]);
    let rules: Vec<String> = rows(&v).into_iter().map(|r| r.2).collect();
    assert_eq!(
        rules,
        vec!["acme.any-mask".to_string(), "mask.live-key".to_string()]
    );
}
