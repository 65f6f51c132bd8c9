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

/// Each text in its LF form and its CRLF form.
fn both_endings(text: &str) -> [String; 2] {
    [text.to_string(), text.replace('\n', "\r\n")]
}

/// Framework conventions found missing on real repositories (issue 13's evaluation):
/// sections, Spring profile documents, CI deployment environments, per-environment
/// blocks of JSON and TOML configs; each in LF and CRLF.
#[test]
fn framework_blocks_declare_the_environment_in_lf_and_crlf() {
    let db = rules::load(Vec::new()).unwrap();
    let table: &[(&str, &str, Context)] = &[
        (
            "inventory.ini",
            "[production]\nmask_api_key=KEY\n",
            ProductionConfig,
        ),
        (
            "deploy.ini",
            "[prod]\n  mask_api_key = KEY\n",
            ProductionConfig,
        ),
        (
            "app.ini",
            "[production]\nhost=a\n[staging]\nmask_api_key=KEY\n",
            NonprodConfig,
        ),
        (
            "app.ini",
            "[staging]\nhost=a\n[other]\nmask_api_key=KEY\n",
            Source,
        ),
        (
            "config.yml",
            "default:\n  t: 5\nproduction:\n  api_key: KEY\n",
            ProductionConfig,
        ),
        (
            "config.yml",
            "production:\n  t: 5\ndevelopment:\n  api_key: KEY\n",
            NonprodConfig,
        ),
        // Spring Boot 2.4+ profile documents, and the legacy form.
        (
            "src/main/resources/application.yml",
            "spring:\n  application:\n    name: shop\nmask:\n  api-key: x\n---\nspring:\n  config:\n    activate:\n      on-profile: prod\nmask:\n  api-key: KEY\n",
            ProductionConfig,
        ),
        (
            "src/main/resources/application.yml",
            "spring:\n  config:\n    activate:\n      on-profile: prod\nmask:\n  api-key: x\n---\nspring:\n  config:\n    activate:\n      on-profile: dev\nmask:\n  api-key: KEY\n",
            NonprodConfig,
        ),
        (
            "src/main/resources/application.yml",
            "spring:\n  config:\n    activate:\n      on-profile: prod\nmask:\n  api-key: x\n---\nmask:\n  api-key: KEY\n",
            Source,
        ),
        (
            "application.yml",
            "spring:\n  profiles: prod\nmask:\n  api-key: KEY\n",
            ProductionConfig,
        ),
        (
            "application.yml",
            "spring:\n  profiles: dev\nmask:\n  api-key: KEY\n",
            NonprodConfig,
        ),
        (
            "application.properties",
            "spring.config.activate.on-profile=prod\nmask.key=KEY\n",
            ProductionConfig,
        ),
        // GitHub Actions: `environment:` as a mapping, `url:` before `name:`.
        (
            ".github/workflows/release.yml",
            "jobs:\n  ship:\n    environment:\n      url: https://x\n      name: production\n    env:\n      K: KEY\n",
            ProductionConfig,
        ),
        (
            ".github/workflows/release.yml",
            "jobs:\n  ship:\n    environment:\n      url: https://x\n      name: staging\n    env:\n      K: KEY\n",
            NonprodConfig,
        ),
        // Bitbucket Pipelines deployments.
        (
            "bitbucket-pipelines.yml",
            "pipelines:\n  default:\n    - step:\n        name: Deploy\n        deployment: production\n        script:\n          - export MASK_KEY=KEY\n",
            ProductionConfig,
        ),
        (
            "bitbucket-pipelines.yml",
            "pipelines:\n  default:\n    - step:\n        deployment: staging\n        script:\n          - export MASK_KEY=KEY\n",
            NonprodConfig,
        ),
        // Sequelize config/config.json.
        (
            "config/config.json",
            "{\n  \"development\": {\n    \"key\": \"x\"\n  },\n  \"production\": {\n    \"key\": \"KEY\"\n  }\n}\n",
            ProductionConfig,
        ),
        (
            "config/config.json",
            "{\n  \"production\": {\n    \"key\": \"x\"\n  },\n  \"development\": {\n    \"key\": \"KEY\"\n  }\n}\n",
            NonprodConfig,
        ),
        // wrangler, Netlify, SAM sections.
        (
            "wrangler.toml",
            "name = \"w\"\n[env.production.vars]\nMASK_API_KEY = \"KEY\"\n",
            ProductionConfig,
        ),
        (
            "wrangler.toml",
            "[env.production.vars]\nA = \"x\"\n[env.staging.vars]\nMASK_API_KEY = \"KEY\"\n",
            NonprodConfig,
        ),
        (
            "netlify.toml",
            "[context.production.environment]\n  MASK_KEY = \"KEY\"\n",
            ProductionConfig,
        ),
        (
            "netlify.toml",
            "[context.deploy-preview.environment]\n  MASK_KEY = \"KEY\"\n",
            NonprodConfig,
        ),
        (
            "samconfig.toml",
            "version = 0.1\n[prod.deploy.parameters]\nparameter_overrides = \"MaskKey=KEY\"\n",
            ProductionConfig,
        ),
        (
            "samconfig.toml",
            "[default.deploy.parameters]\nparameter_overrides = \"MaskKey=KEY\"\n",
            Source,
        ),
    ];
    let mut wrong = Vec::new();
    for (path, text, want) in table {
        for text in both_endings(text) {
            let got = at_key(&db, path, &text);
            if got != *want {
                wrong.push(format!("{path}: {text:?}: got {got:?}, want {want:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn prd_abbreviation_is_production() {
    let db = rules::load(Vec::new()).unwrap();
    for path in [
        "envs/prd/main.tf",
        "infra/environments/prd/terraform.tfvars",
        "overlays/prd/kustomization.yaml",
        "k8s/overlays/prd-eu/secret.yaml",
        "terraform/prd/main.tf",
        "deploy/prd.yaml",
    ] {
        assert_eq!(classify(&db, path, b"", b""), ProductionConfig, "{path}");
    }
    // Not a prefix of an unrelated word.
    assert_eq!(classify(&db, "src/prdct/main.tf", b"", b""), Source);
}
