use keywarden::Context::{self, *};
use keywarden::rules;
use keywarden::scan::file::classify;

#[test]
fn path_and_line_context_table() {
    let db = rules::load(Vec::new()).unwrap();
    let table: &[(&str, &str, Context)] = &[
        (".env.production", "", ProductionConfig),
        (".env.prod", "", ProductionConfig),
        ("app/.env", "", NonprodConfig),
        (".env.local", "", NonprodConfig),
        ("config/production.rb", "", ProductionConfig),
        ("deploy/api-prod.yml", "", ProductionConfig),
        ("deploy/prod.tfvars", "", ProductionConfig),
        ("k8s/overlays/prod/deployment.yaml", "", ProductionConfig),
        ("k8s/base/prod-eu/secret.yaml", "", ProductionConfig),
        ("helm/values-prod.yaml", "", ProductionConfig),
        (
            "src/main/resources/application-prod.properties",
            "",
            ProductionConfig,
        ),
        ("docker-compose.prod.yml", "", ProductionConfig),
        ("data/products.json", "", Source),
        ("config/staging.json", "", NonprodConfig),
        ("deploy/app-dev.yaml", "", NonprodConfig),
        ("public/config.js", "", ClientSide),
        ("web/dist/main.3f2a.js", "", ClientSide),
        ("site/index.html", "", ClientSide),
        (
            "android/app/src/main/res/values/strings.xml",
            "",
            ClientSide,
        ),
        ("ios/Runner/Info.plist", "", ClientSide),
        ("server/.env", "NEXT_PUBLIC_MASK_KEY=", ClientSide),
        (".env.production", "VITE_MASK_KEY=", ClientSide),
        ("app.config.ts", "EXPO_PUBLIC_MASK: ", ClientSide),
        ("server/.env", "MASK_KEY=", NonprodConfig),
        ("docs/setup.md", "", Docs),
        ("README.md", "", Docs),
        ("tests/fixtures/keys.json", "", TestFixture),
        ("pkg/client_test.go", "", TestFixture),
        ("src/lib.rs", "", Source),
        ("Dockerfile", "", Source),
    ];
    let mut wrong = Vec::new();
    for (path, line, want) in table {
        let got = classify(&db, path, line.as_bytes(), b"");
        if got != *want {
            wrong.push(format!("{path} [{line}]: got {got}, want {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn content_markers_declare_the_environment() {
    let db = rules::load(Vec::new()).unwrap();
    assert_eq!(
        classify(&db, "deploy/app.env", b"", b"NODE_ENV=production\nMK=x\n"),
        ProductionConfig
    );
    assert_eq!(
        classify(
            &db,
            "settings.yaml",
            b"",
            b"env:\n  RAILS_ENV: \"production\"\n"
        ),
        ProductionConfig
    );
    assert_eq!(
        classify(&db, "settings.yaml", b"", b"APP_ENV=staging\n"),
        NonprodConfig
    );
    // The variable's name must start at a word boundary, anywhere on the line.
    assert_eq!(
        classify(&db, "run.sh", b"", b"export NODE_ENV=production\n"),
        ProductionConfig
    );
    assert_eq!(
        classify(
            &db,
            "run.sh",
            b"",
            b"MY_NODE_ENV=production\nXAPP_ENV=prod\n"
        ),
        Source
    );
    assert_eq!(
        classify(
            &db,
            "src/app.js",
            b"",
            b"if (process.env.NODE_ENV === 'production') {}"
        ),
        Source
    );
}
