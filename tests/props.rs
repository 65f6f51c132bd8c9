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
