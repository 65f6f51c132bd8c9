//! Throughput of the scan engine on in-memory data (no file system): `cargo bench`.
//! Prints MB/s per input kind; compare runs on the same machine, not across machines.

use keywarden::rules;
use keywarden::scan::Engine;
use keywarden::scan::matcher::Text;
use std::time::Instant;

fn text(len: usize, key_every: usize) -> Vec<u8> {
    let line = b"    let value = compute(&mut state, index + 1); // some ordinary code\n";
    let mut out = Vec::with_capacity(len + 128);
    let mut n = 0;
    while out.len() < len {
        out.extend_from_slice(line);
        n += 1;
        if key_every > 0 && n % key_every == 0 {
            out.extend_from_slice(b"MASK_API_KEY=mk_live_4eC39HqLyjWDarjtT1zdp7dc\n");
        }
    }
    out
}

fn bench(engine: &Engine, name: &str, data: &[u8]) {
    let mut scanner = engine.file_scanner();
    let mut best = f64::MAX;
    let mut hits = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let out = scanner
            .scan("bench.txt", &mut &data[..])
            .expect("in-memory read");
        best = best.min(t.elapsed().as_secs_f64());
        hits = out.hits.len();
    }
    println!(
        "{name:<34} {:>8.0} MB/s  ({hits} keys in {} MB)",
        data.len() as f64 / best / 1e6,
        data.len() / 1_000_000
    );
}

/// The search alone, on 32 KiB that stay in the core's cache: what the prefilter costs
/// without the copy from the page cache (`KEYWARDEN_SIMD=avx2|off` picks a slower loop).
fn in_cache(engine: &Engine, data: &[u8]) {
    let slice = &data[..32 * 1024 + 64];
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..4096 {
            let mut out = Vec::new();
            let n = engine.matcher.find(
                &engine.db,
                slice,
                0,
                32 * 1024,
                Text::default(),
                &mut 0,
                &mut out,
            );
            std::hint::black_box((n, out));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{:<34} {:>8.0} MB/s",
        "32 KiB code in cache, search only",
        (4096 * 32 * 1024) as f64 / best / 1e6
    );
}

fn main() {
    let engine = Engine::new(rules::load(Vec::new()).expect("built-in rules")).expect("engine");
    let clean = text(64 << 20, 0);
    in_cache(&engine, &clean);
    bench(&engine, "64 MB code, no key", &clean);
    bench(
        &engine,
        "64 MB code, a key every 10k lines",
        &text(64 << 20, 10_000),
    );
    bench(
        &engine,
        "64 MB code, a key every 100 lines",
        &text(64 << 20, 100),
    );
    let utf16: Vec<u8> = String::from_utf8_lossy(&text(16 << 20, 10_000))
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    bench(&engine, "32 MB UTF-16LE, keys", &utf16);
    let minified: Vec<u8> = clean
        .iter()
        .map(|&b| if b == b'\n' { b';' } else { b })
        .collect();
    bench(&engine, "64 MB one line (minified)", &minified);
}
