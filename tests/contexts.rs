use keywarden::Context::{self, *};
use keywarden::rules;
use keywarden::scan::file::{classify, classify_in};

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

/// The context of the key `KEY` in `text` at `path`.
fn at_key(db: &rules::RuleDb, path: &str, text: &str) -> Context {
    classify_in(db, path, text.as_bytes(), text.find("KEY").unwrap())
}

#[test]
fn content_markers_declare_the_environment() {
    let db = rules::load(Vec::new()).unwrap();
    let table: &[(&str, &str, Context)] = &[
        (
            "deploy/app.env",
            "NODE_ENV=production\nMK=KEY\n",
            ProductionConfig,
        ),
        (
            "settings.yaml",
            "env:\n  RAILS_ENV: \"production\"\n  MASK: KEY\n",
            ProductionConfig,
        ),
        (
            "settings.yaml",
            "APP_ENV=staging\nMASK=KEY\n",
            NonprodConfig,
        ),
        // The variable's name must start at a word boundary, anywhere on the line.
        (
            "run.sh",
            "export NODE_ENV=production\nMASK=KEY\n",
            ProductionConfig,
        ),
        (
            "run.sh",
            "MY_NODE_ENV=production\nXAPP_ENV=prod\nMASK=KEY\n",
            Source,
        ),
        (
            "src/app.js",
            "if (process.env.NODE_ENV === 'production') {}\nconst k = 'KEY';\n",
            Source,
        ),
        // A marker in a comment declares nothing.
        (".env.ci", "# NODE_ENV=production\nMASK=KEY\n", Source),
        // Markers reach their block: a CI job, a YAML section, a properties document.
        (
            ".github/workflows/ci.yml",
            "jobs:\n  test:\n    env:\n      NODE_ENV: test\n  deploy:\n    environment: production\n    env:\n      MASK_KEY: KEY\n",
            ProductionConfig,
        ),
        (
            ".github/workflows/ci.yml",
            "jobs:\n  deploy:\n    environment: production\n  test:\n    env:\n      NODE_ENV: test\n      MASK_KEY: KEY\n",
            NonprodConfig,
        ),
        (
            ".gitlab-ci.yml",
            "deploy_prod:\n  stage: deploy\n  environment:\n    name: production\n  variables:\n    MASK_KEY: KEY\n",
            ProductionConfig,
        ),
        (
            "config/database.yml",
            "development:\n  key: x\nproduction:\n  key: KEY\n",
            ProductionConfig,
        ),
        (
            "config/database.yml",
            "production:\n  key: x\ndevelopment:\n  key: KEY\n",
            NonprodConfig,
        ),
        (
            "src/main/resources/application.properties",
            "spring.profiles.active=prod\nmask.key=KEY\n",
            ProductionConfig,
        ),
        (
            "serverless.yml",
            "provider:\n  stage: prod\n  environment:\n    MASK_KEY: KEY\n",
            ProductionConfig,
        ),
        (
            "main.tf",
            "locals {\n  environment = \"production\"\n  mask_key = \"KEY\"\n}\n",
            ProductionConfig,
        ),
    ];
    let mut wrong = Vec::new();
    for (path, text, want) in table {
        let got = at_key(&db, path, text);
        if got != *want {
            wrong.push(format!("{path}: {text:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Without a key position only top-level markers count.
    assert_eq!(
        classify(&db, "deploy/app.env", b"", b"NODE_ENV=production\nMK=x\n"),
        ProductionConfig
    );
}
