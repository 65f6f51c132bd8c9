use keywarden::rules;
use keywarden::scan::Engine;
use proptest::prelude::*;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::new(rules::load(Vec::new()).unwrap()).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes never panic the scanner.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut s = engine().file_scanner();
        let _ = s.scan("x.bin", &mut data.as_slice()).unwrap();
    }

    /// A random key in any form the matcher knows (plain; a whole UTF-16 text, either
    /// byte order; base64 at any alignment, either alphabet) amid random text is found
    /// exactly once, and decodes to the planted key.
    #[test]
    fn key_in_any_form_is_found_once(
        before in "[ -/:-@\\[-^`{-~\n]{0,200}",
        after in "[ -/:-@\\[-^`{-~\n]{0,200}",
        body in "[A-Za-z0-9]{16,40}",
        lead in "[ :=\"]{0,2}",
        form in 0..5u8,
    ) {
        use base64::Engine as _;
        let key = format!("mk_live_{body}");
        let data: Vec<u8> = match form {
            0 => format!("{before}{key}{after}").into_bytes(),
            1 | 2 => format!("{before}{key}{after}")
                .encode_utf16()
                .flat_map(|u| if form == 1 { u.to_le_bytes() } else { u.to_be_bytes() })
                .collect(),
            _ => {
                let raw = format!("{lead}{key}");
                let enc = if form == 3 {
                    base64::engine::general_purpose::STANDARD.encode(raw)
                } else {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
                };
                format!("{before} {enc} {after}").into_bytes()
            }
        };
        let mut s = engine().file_scanner();
        let out = s.scan("x.txt", &mut data.as_slice()).unwrap();
        let keys: Vec<_> = out.hits.iter().map(|h| h.raw.key.fingerprint()).collect();
        prop_assert_eq!(keys, vec![keywarden::Fingerprint::of(key.as_bytes())]);
    }

    /// A random key planted between random non-word text is found once, at the right
    /// line and column, with the right fingerprint.
    #[test]
    fn planted_key_is_found_where_it_is(
        before in "[ -/:-@\\[-^`{-~\n]{0,300}",
        after in "[ -/:-@\\[-^`{-~\n]{0,300}",
        body in "[A-Za-z0-9]{32}",
        live in any::<bool>(),
    ) {
        let key = format!("{}{body}", if live { "mk_live_" } else { "mk_test_" });
        let text = format!("{before}{key}{after}");
        let mut s = engine().file_scanner();
        let out = s.scan("x.txt", &mut text.as_bytes()).unwrap();
        let real: Vec<_> = out.hits.iter().collect();
        prop_assert_eq!(real.len(), 1);
        let h = real[0];
        let line = before.matches('\n').count() as u64 + 1;
        let col = (before.len() - before.rfind('\n').map_or(0, |i| i + 1)) as u64 + 1;
        prop_assert_eq!((h.line, h.column), (line, col));
        prop_assert_eq!(h.raw.key.fingerprint(), keywarden::Fingerprint::of(key.as_bytes()));
    }
}

/// Keys planted around chunk boundaries (plain, UTF-16 and a base64 blob holding two keys)
/// are each found exactly once, at the right offset.
#[test]
fn keys_across_chunk_boundaries_are_found_once() {
    use base64::Engine as _;
    let chunk = keywarden::scan::file::CHUNK;
    let live = "mk_live_4eC39HqLyjWDarjtT1zdp7dc";
    let test = "mk_test_Hk3Jm9Qp2Rs5Tv8Wx1Yz4Ab7";
    let blob = base64::engine::general_purpose::STANDARD.encode(format!("A={live}\nB={test}\n"));
    for around in [
        chunk - 40_000,
        chunk - 12_000,
        chunk - 11_000,
        chunk - 10_300,
        chunk - 100,
        chunk,
        chunk + 3,
    ] {
        for shift in [0usize, 1, 7, 33] {
            let mut data = "x = 1;\n".repeat((around + shift) / 7).into_bytes();
            let plain_at = data.len();
            data.extend_from_slice(format!(" {live}\n").as_bytes());
            data.extend_from_slice(b"filler filler filler\n");
            let blob_at = data.len();
            data.extend_from_slice(format!("k: {blob}\n").as_bytes());
            data.extend_from_slice(&"y = 2;\n".repeat(40_000).into_bytes());
            let mut s = engine().file_scanner();
            let out = s.scan("x.txt", &mut data.as_slice()).unwrap();
            let got: Vec<(u64, String)> = out
                .hits
                .iter()
                .map(|h| (h.offset, h.raw.key.redacted()))
                .collect();
            assert_eq!(
                got,
                vec![
                    (plain_at as u64 + 1, "mk_live_4eC3…p7dc".to_string()),
                    (blob_at as u64 + 3, "mk_live_4eC3…p7dc".to_string()),
                    (blob_at as u64 + 3, "mk_test_Hk3J…4Ab7".to_string()),
                ],
                "around {around} shift {shift}"
            );
        }
    }
}

/// A million random keys (24 to 40 letters and digits, from a fixed seed) are never taken
/// for placeholders: a placeholder filter that fires on a real key hides a leak.
#[test]
fn random_keys_are_never_placeholders() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let db = &engine().db;
    let mut rng = fastrand::Rng::with_seed(0x6b65_7977_6172_6465);
    let mut key = Vec::with_capacity(48);
    for i in 0..1_000_000u32 {
        key.clear();
        key.extend_from_slice(if i % 2 == 0 { b"mk_live_" } else { b"mk_test_" });
        let n = rng.usize(24..=40);
        key.extend((0..n).map(|_| ALPHABET[rng.usize(..ALPHABET.len())]));
        let body = &key[8..];
        if let Some(p) = db.placeholders.iter().find(|p| p.matches(&key, body)) {
            panic!(
                "sample {i}: the random body {:?} was taken for placeholder {:?}",
                String::from_utf8_lossy(body),
                p.id
            );
        }
    }
}
