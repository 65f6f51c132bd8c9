//! `cargo run --example git-http-server -- ROOT [PORT]`: serves the git repositories
//! under ROOT over smart HTTP on 127.0.0.1 (git http-backend as CGI), for
//! `benches/fleet.sh`. Prints `http://127.0.0.1:PORT` once listening.

#[path = "../tests/util/git_http.rs"]
mod git_http;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: git-http-server ROOT [PORT]");
        std::process::exit(2);
    };
    let port = args
        .next()
        .and_then(|p| p.to_str().and_then(|p| p.parse().ok()))
        .unwrap_or(0);
    let server = git_http::GitHttp::start(std::path::Path::new(&root), None, port);
    println!("{}", server.url());
    server.serve_forever();
}
