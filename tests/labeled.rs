use keywarden::rules;
use keywarden::scan::Engine;
use serde::Deserialize;

#[derive(Deserialize)]
struct Set {
    key: Vec<Case>,
    not: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    key: Option<String>,
    why: String,
}

fn found(engine: &Engine, text: &str) -> Vec<String> {
    let text = text.replace("\\n", "\n");
    let mut scanner = engine.file_scanner();
    let out = scanner.scan("labeled.txt", &mut text.as_bytes()).unwrap();
    out.hits
        .iter()
        .filter(|h| h.placeholder.is_none())
        .map(|h| String::from_utf8_lossy(h.raw.key.expose()).into_owned())
        .collect()
}

#[test]
fn labeled_set_is_classified_exactly() {
    let set: Set = toml::from_str(include_str!("data/labeled.toml")).unwrap();
    let engine = Engine::new(rules::load(Vec::new()).unwrap()).unwrap();
    let mut wrong = Vec::new();
    for c in &set.key {
        let want = c.key.clone().unwrap();
        let got = found(&engine, &c.text);
        if got != vec![want.clone()] {
            wrong.push(format!(
                "MISSED ({}): {:?} -> {} hits",
                c.why,
                c.text,
                got.len()
            ));
        }
    }
    for c in &set.not {
        let got = found(&engine, &c.text);
        if !got.is_empty() {
            wrong.push(format!("FALSE POSITIVE ({}): {:?}", c.why, c.text));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(set.key.len() >= 15 && set.not.len() >= 20);
}
