//! Listing a fleet's repositories (`fleet::list`) against a fake Git host API on
//! loopback (wiremock): a GitHub organisation paginated with `Link`, with archived and
//! forked repositories, behind a Bearer token; a GitLab group with subgroups, paginated;
//! and the filters (archived, forks, include/exclude globs).

use crate::fleet::{Host, github, runtime, token};
use keywarden::fleet::{self, HttpOptions, Kind, Source};
use keywarden::notify::config::Secret;
use wiremock::matchers::{header, method, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn names(repos: &[fleet::Repo]) -> Vec<&str> {
    repos.iter().map(|r| r.name.as_str()).collect()
}

fn source(t: &str) -> Source {
    toml::from_str(t).unwrap()
}

#[test]
fn github_listing_follows_link_pages_and_filters() {
    let host = Host::start(None);
    let tok = token();
    let rt = runtime();
    let api = rt.block_on(github(&host, &tok));
    let src = source(&format!(
        "github_org = \"acme\"\napi_url = \"{}\"",
        api.uri()
    ));
    let secret = Secret::new(tok.clone());
    let all = fleet::list(&src, Some(&secret), &HttpOptions::default()).unwrap();
    assert_eq!(
        names(&all),
        ["acme/app", "acme/old", "acme/lib", "acme/fork"]
    );
    let kept: Vec<_> = all
        .iter()
        .filter(|r| src.filter().keeps(r))
        .cloned()
        .collect();
    assert_eq!(names(&kept), ["acme/app", "acme/lib"]);
    let wide = source(
        "github_org = \"acme\"\ninclude_archived = true\ninclude_forks = true\nexclude = [\"acme/l*\"]",
    );
    let kept: Vec<_> = all
        .iter()
        .filter(|r| wide.filter().keeps(r))
        .cloned()
        .collect();
    assert_eq!(names(&kept), ["acme/app", "acme/old", "acme/fork"]);
    let only = source("github_org = \"acme\"\ninclude = [\"acme/app\"]");
    assert_eq!(all.iter().filter(|r| only.filter().keeps(r)).count(), 1);

    // A wrong token: the host refuses; the error says so and never holds a token.
    let wrong = token();
    let e = fleet::list(
        &src,
        Some(&Secret::new(wrong.clone())),
        &HttpOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("HTTP 404"), "{e}");
    assert!(!e.contains(&wrong) && !e.contains(&tok), "{e}");
}

#[test]
fn gitlab_listing_includes_subgroups_and_pages() {
    let rt = runtime();
    let tok = token();
    let api = rt.block_on(async {
        let api = MockServer::start().await;
        let project = |name: &str, archived: bool, fork: bool| {
            let mut p = serde_json::json!({
                "id": 3, "path_with_namespace": name, "archived": archived,
                "http_url_to_repo": format!("https://gitlab.example.com/{name}.git"),
            });
            if fork {
                p["forked_from_project"] = serde_json::json!({"id": 1});
            }
            p
        };
        let next = format!(
            "{}/api/v4/groups/acme%2Fplatform/projects?include_subgroups=true&page=2&per_page=100",
            api.uri()
        );
        Mock::given(method("GET"))
            .and(path_regex(r"^/api/v4/groups/acme(%2F|/)platform/projects$"))
            .and(query_param("include_subgroups", "true"))
            .and(query_param("order_by", "id"))
            .and(header("authorization", format!("Bearer {tok}").as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("link", format!("<{next}>; rel=\"next\"").as_str())
                    .insert_header("x-next-page", "2")
                    .set_body_json(serde_json::json!([
                        project("acme/platform/api", false, false),
                        project("acme/platform/old", true, false),
                    ])),
            )
            .with_priority(2)
            .mount(&api)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/api/v4/groups/acme(%2F|/)platform/projects$"))
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([
                project("acme/platform/infra/terraform", false, false),
                project("acme/platform/api-fork", false, true),
            ])))
            .with_priority(1)
            .mount(&api)
            .await;
        api
    });
    let src = source(&format!(
        "gitlab_group = \"acme/platform\"\napi_url = \"{}/api/v4\"",
        api.uri()
    ));
    assert_eq!(src.kind(), Kind::GitLab);
    let all = fleet::list(&src, Some(&Secret::new(tok)), &HttpOptions::default()).unwrap();
    assert_eq!(
        names(&all),
        [
            "acme/platform/api",
            "acme/platform/old",
            "acme/platform/infra/terraform",
            "acme/platform/api-fork"
        ]
    );
    let kept: Vec<_> = all
        .iter()
        .filter(|r| src.filter().keeps(r))
        .cloned()
        .collect();
    assert_eq!(
        names(&kept),
        ["acme/platform/api", "acme/platform/infra/terraform"]
    );
}
