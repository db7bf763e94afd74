use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac;
use hyper::{Method, StatusCode};
use inlet_tests::{ADMIN_TOKEN, Client, TestServer, hmac_sha256_hex, spawn_inlet, test_plugin};
use serde_json::{Value, json};

fn hmac_sha256_base64(secret: &str, content: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(content);
    BASE64.encode(mac.finalize().into_bytes())
}

async fn provider_source(c: &Client, provider: &str, secret: &str) -> (String, String) {
    let (project, _) = c.create_project("incoming").await;
    let source = c
        .create_source(
            &project,
            json!({"name": provider, "type": "http", "provider": provider,
                   "verifier": {"type": "hmac", "hmac": {"secret": secret}}}),
        )
        .await;
    assert_eq!(source["verifier"]["hmac"]["secret"], "********");
    (project, source["mask_id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn github_plugin_verifies_githubs_own_example() {
    let t = TestServer::start().await;
    let c = &t.client;
    let secret = "It's a Secret to Everybody";
    let (project, mask) = provider_source(c, "github", secret).await;
    let body = b"Hello, World!";
    // From GitHub's webhook documentation.
    let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(
        format!("sha256={}", hmac_sha256_hex(secret, body)),
        signature
    );
    let headers = [
        ("x-hub-signature-256", signature),
        ("x-github-event", "push"),
        ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    ];
    let reply = c.ingest(&mask, &headers, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = c.ingest(&mask, &headers, body).await;
    assert_eq!(reply.status, StatusCode::OK, "a redelivery is accepted");

    let tampered = c.ingest(&mask, &headers, b"Hello, World?").await;
    assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);
    assert_eq!(tampered.code(), "plugin_rejected");
    let missing = c.ingest(&mask, &[("x-github-event", "push")], body).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let wrong = format!("sha256={}", hmac_sha256_hex("another secret", body));
    let reply = c
        .ingest(&mask, &[("x-hub-signature-256", &wrong)], body)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(!reply.text().contains(secret));

    let events = c.events(&project, "").await;
    let content = events["content"].as_array().unwrap();
    assert_eq!(content.len(), 2);
    for (event, duplicate) in content.iter().zip([true, false]) {
        assert_eq!(event["event_type"], "push");
        assert_eq!(
            event["idempotency_key"],
            "72d3162e-cc78-11e3-81ab-4c9367dc0958"
        );
        assert_eq!(event["is_duplicate_event"], duplicate);
        assert_eq!(event["raw"], "Hello, World!");
    }
    let metrics = c.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"inlet_plugin_calls_total{plugin="github",outcome="accept"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"inlet_plugin_calls_total{plugin="github",outcome="reject"} 3"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn shopify_plugin_verifies_base64_signatures() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, mask) = provider_source(c, "shopify", "shpss_secret").await;
    let body = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
    let sig = hmac_sha256_base64("shpss_secret", body);
    let headers = [
        ("x-shopify-hmac-sha256", sig.as_str()),
        ("x-shopify-topic", "orders/create"),
        (
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
        ("content-type", "application/json"),
        // Credentials a plugin source may be sent (a proxy's, a session's) are not stored.
        ("authorization", "Bearer proxy-token-1"),
        ("cookie", "session=cookie-value-1"),
    ];
    let reply = c.ingest(&mask, &headers, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = c.ingest(&mask, &headers, br#"{"id":1}"#).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = c
        .ingest(&mask, &[("x-shopify-topic", "orders/create")], body)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let other = hmac_sha256_base64("other", body);
    let reply = c
        .ingest(&mask, &[("x-shopify-hmac-sha256", &other)], body)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let events = c.events(&project, "").await;
    let event = &events["content"][0];
    assert_eq!(event["event_type"], "orders/create");
    assert_eq!(
        event["idempotency_key"],
        "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    );
    assert_eq!(event["data"]["email"], "jon@example.com");
    assert_eq!(event["headers"]["authorization"], json!(["********"]));
    assert_eq!(event["headers"]["cookie"], json!(["********"]));
    let listed = events.to_string();
    assert!(!listed.contains("proxy-token-1") && !listed.contains("cookie-value-1"));
}

#[tokio::test]
async fn twitter_plugin_answers_the_crc_challenge_and_verifies_posts() {
    let t = TestServer::start().await;
    let c = &t.client;
    let secret = "twitter-consumer-secret";
    let (project, mask) = provider_source(c, "twitter", secret).await;

    let reply = c
        .get(&format!("/ingest/{mask}?crc_token=challenge-123"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let expected = format!("sha256={}", hmac_sha256_base64(secret, b"challenge-123"));
    assert_eq!(reply.json(), json!({"response_token": expected}));
    let reply = c.get(&format!("/ingest/{mask}")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let body = br#"{"for_user_id":"2244994945","tweet_create_events":[]}"#;
    let sig = format!("sha256={}", hmac_sha256_base64(secret, body));
    let reply = c
        .ingest(&mask, &[("x-twitter-webhooks-signature", &sig)], body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = c
        .ingest(&mask, &[("x-twitter-webhooks-signature", &sig)], b"{}")
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "tampered");
    let reply = c.ingest(&mask, &[], body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "missing signature");
    let wrong = format!("sha256={}", hmac_sha256_base64("other secret", body));
    let reply = c
        .ingest(&mask, &[("x-twitter-webhooks-signature", &wrong)], body)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "wrong secret");

    let events = c.events(&project, "").await;
    assert_eq!(
        events["content"].as_array().unwrap().len(),
        1,
        "the CRC answer stores nothing"
    );
}

#[tokio::test]
async fn provider_sources_are_validated_against_the_plugin() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = c.create_project("incoming").await;
    let path = format!("/api/v1/projects/{project}/sources");
    let reply = c
        .api(
            Method::POST,
            &path,
            ADMIN_TOKEN,
            Some(json!({"name": "gh", "type": "http", "provider": "github"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.json()["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("verifier.hmac.secret"), "{message}");
    let reply = c
        .api(
            Method::POST,
            &path,
            ADMIN_TOKEN,
            Some(
                json!({"name": "x", "type": "http", "provider": "no-such-provider",
            "verifier": {"type": "hmac", "hmac": {"secret": "s"}}}),
            ),
        )
        .await;
    assert_eq!(reply.code(), "unknown_provider");
    assert!(
        reply.text().contains("github"),
        "names the loaded plugins: {}",
        reply.text()
    );
}

fn plugin_names(list: &Value) -> Vec<String> {
    list["data"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn plugins_load_from_a_directory_and_wrong_wit_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["spin", "future"] {
        std::fs::copy(test_plugin(name), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    std::fs::write(dir.path().join("garbage.wasm"), b"not wasm").unwrap();
    let plugins_dir = dir.path().to_path_buf();
    let mut t = TestServer::start_with(|s| s.plugins_dir = Some(plugins_dir)).await;
    let list = t
        .client
        .api(Method::GET, "/api/v1/plugins", ADMIN_TOKEN, None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let list = list.json();
    let names = plugin_names(&list);
    assert!(names.iter().any(|n| n == "spin"), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "future" || n == "garbage"),
        "{names:?}"
    );
    let github = &list["data"]["content"][names.iter().position(|n| n == "github").unwrap()];
    assert_eq!(github["origin"], "built-in");
    assert_eq!(github["wit_version"], "0.2.0");
    assert!(!github["description"].as_str().unwrap().is_empty());
    assert!(
        github["config"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "secret" && f["secret"] == true)
    );
    assert_eq!(github.get("path"), None);
    let spin = &list["data"]["content"][names.iter().position(|n| n == "spin").unwrap()];
    assert_eq!(spin["origin"], "file");
    assert!(spin["path"].as_str().unwrap().ends_with("spin.wasm"));
    // A tenant learns which plugins exist, not where the server keeps them.
    let (_, key) = t.client.create_project("outgoing").await;
    let tenant = t
        .client
        .api(Method::GET, "/api/v1/plugins", &key.unwrap(), None)
        .await
        .json();
    assert_eq!(plugin_names(&tenant), plugin_names(&list));
    assert!(
        !tenant.to_string().contains("spin.wasm"),
        "a project key sees no plugin file path: {tenant}"
    );
    let spin_at = names.iter().position(|n| n == "spin").unwrap();
    assert_eq!(tenant["data"]["content"][spin_at]["origin"], "file");
    assert_eq!(
        t.client.get("/api/v1/plugins").await.status,
        StatusCode::UNAUTHORIZED
    );

    // A file's compiled code is cached in the data directory and reused after a restart;
    // the built-ins were compiled when Inlet was built.
    let cache = t.dir.path().join("plugin-cache");
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        2,
        "spin, future"
    );
    t.restart().await;
    let list = t
        .client
        .api(Method::GET, "/api/v1/plugins", ADMIN_TOKEN, None)
        .await;
    assert_eq!(
        plugin_names(&list.json()).len(),
        names.len() - 1,
        "the restarted server has no plugins dir"
    );
}

#[tokio::test]
async fn hostile_plugins_fail_only_their_own_requests() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["spin", "hog", "trap", "bloat"] {
        std::fs::copy(test_plugin(name), dir.path().join(format!("{name}.wasm"))).unwrap();
    }
    let plugins_dir = dir.path().to_path_buf();
    // A deadline above the 50 ms default: the tests running beside this one share two
    // cores, and the deadline is wall-clock time.
    let t = TestServer::start_with(|s| {
        s.plugins_dir = Some(plugins_dir);
        s.plugin_limits.deadline = Duration::from_millis(500);
    })
    .await;
    let c = &t.client;
    let (project, _) = c.create_project("incoming").await;
    let mut masks = Vec::new();
    for name in ["spin", "hog", "trap", "bloat"] {
        let s = c
            .create_source(&project, json!({"name": name, "type": "http", "provider": name, "verifier": {"type": "noop"}}))
            .await;
        masks.push((name, s["mask_id"].as_str().unwrap().to_string()));
    }
    let healthy = c
        .create_source(
            &project,
            json!({"name": "ok", "type": "http", "verifier": {"type": "noop"}}),
        )
        .await;
    let healthy_uid = healthy["uid"].as_str().unwrap().to_string();
    let healthy = healthy["mask_id"].as_str().unwrap().to_string();

    // A normal source keeps answering while the hostile ones run.
    let normal = {
        let c = c.clone();
        tokio::spawn(async move {
            let mut answered = 0;
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                assert_eq!(c.ingest(&healthy, &[], b"{}").await.status, StatusCode::OK);
                answered += 1;
            }
            answered
        })
    };
    // One hostile request at a time (the deadline is wall-clock time, so hostile plugins
    // racing each other for two cores would blur which limit each one hits).
    let mut outcomes = Vec::new();
    for round in 0..3 {
        for (name, mask) in &masks {
            let started = Instant::now();
            let reply = c
                .ingest(mask, &[], format!("{{\"round\":{round}}}").as_bytes())
                .await;
            outcomes.push((*name, reply.status, reply.code(), started.elapsed()));
        }
    }
    for outcome in outcomes {
        let (name, status, code, took) = outcome;
        let expected = match name {
            "spin" => "plugin_timeout",
            "hog" => "plugin_memory_limit",
            "trap" => "plugin_trap",
            _ => "plugin_invalid_output",
        };
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, expected),
            "{name}"
        );
        // The deadline is 500 ms; this bound only proves the failure is bounded.
        assert!(took < Duration::from_secs(5), "{name} took {took:?}");
    }
    assert!(
        normal.await.unwrap() > 10,
        "the normal source kept answering"
    );

    // Several spinning calls at once cannot take every plugin slot: another plugin's source
    // is answered while they are still running. The host runs `2 × cores` plugin calls at
    // once (`max_calls`), any one plugin at most half of them. Twice `max_calls` spins: were
    // the per-plugin cap gone, the first `max_calls` would hold every slot and the rest
    // would queue for a slot ahead of GitHub's call, so that call would wait out two spin
    // deadlines, finishing after the first wave of spins. With the cap, spins take at most
    // half the slots and GitHub's call gets one of the others at once.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max_calls = 2 * cores;
    let (_, github) = c
        .incoming_source(json!({"name": "gh", "type": "http", "provider": "github",
            "verifier": {"type": "hmac", "hmac": {"secret": "s"}}}))
        .await;
    let spin_mask = masks[0].1.clone();
    let started = Instant::now();
    let spins: Vec<_> = (0..2 * max_calls)
        .map(|_| {
            let (c, mask) = (c.clone(), spin_mask.clone());
            tokio::spawn(async move {
                c.ingest(&mask, &[], b"{}").await;
                started.elapsed()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let signature = format!("sha256={}", hmac_sha256_hex("s", b"{}"));
    let reply = c
        .ingest(&github, &[("x-hub-signature-256", &signature)], b"{}")
        .await;
    let github_done = started.elapsed();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    for spin in spins {
        let spin_done = spin.await.unwrap();
        assert!(
            github_done < spin_done,
            "github waited for the spinning plugin: {github_done:?} vs {spin_done:?}"
        );
    }
    assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
    let events = c.events(&project, "perPage=1000").await;
    assert!(
        events["content"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["source_id"] == healthy_uid.as_str()),
        "no hostile request stored an event"
    );
    let metrics = c.get("/metrics").await.text();
    let spin_timeouts = format!(
        r#"inlet_plugin_calls_total{{plugin="spin",outcome="plugin_timeout"}} {}"#,
        3 + 2 * max_calls
    );
    for line in [
        spin_timeouts.as_str(),
        r#"inlet_plugin_calls_total{plugin="hog",outcome="plugin_memory_limit"} 3"#,
        r#"inlet_plugin_calls_total{plugin="trap",outcome="plugin_trap"} 3"#,
        r#"inlet_plugin_calls_total{plugin="bloat",outcome="plugin_invalid_output"} 3"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from {metrics}");
    }
}

#[tokio::test]
async fn a_refused_plugin_is_explained_in_the_log() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(test_plugin("future"), plugins.path().join("future.wasm")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let dir = plugins.path().to_str().unwrap();
    let mut inlet = spawn_inlet(data.path(), Some(ADMIN_TOKEN), &["--plugins-dir", dir]).await;
    let list = inlet
        .client
        .api(Method::GET, "/api/v1/plugins", ADMIN_TOKEN, None)
        .await;
    let names = plugin_names(&list.json());
    assert!(names.iter().any(|n| n == "github") && !names.iter().any(|n| n == "future"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut inlet.stdout, &mut line).unwrap();
    let log: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(log["level"], "ERROR");
    let message = log["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains("built for inlet:plugin@0.99.0")
            && message.contains("supports inlet:plugin@0.1.0, 0.2.0"),
        "{message}"
    );
    assert!(
        log["fields"]["path"]
            .as_str()
            .unwrap()
            .ends_with("future.wasm")
    );
}

#[tokio::test]
async fn secret_fields_a_plugin_declares_are_redacted_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(test_plugin("config"), dir.path().join("config.wasm")).unwrap();
    let plugins_dir = dir.path().to_path_buf();
    let t = TestServer::start_with(|s| s.plugins_dir = Some(plugins_dir)).await;
    let (project, _) = t.client.create_project("incoming").await;
    let source = t
        .client
        .create_source(
            &project,
            json!({"name": "config", "type": "http", "provider": "config",
                   "verifier": {"type": "noop"},
                   "provider_config": {"api_token": "tok-7f3a", "account": "acme"}}),
        )
        .await;
    assert_eq!(
        source["provider_config"],
        json!({"api_token": "********", "account": "acme"})
    );
    let uid = source["uid"].as_str().unwrap();
    let mask = source["mask_id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/projects/{project}/sources/{uid}");

    // Echoing the redacted form back keeps the token.
    let update = t
        .client
        .api(
            Method::PUT,
            &path,
            ADMIN_TOKEN,
            Some(json!({"provider_config": {"api_token": "********", "account": "acme"}})),
        )
        .await;
    assert_eq!(update.status, StatusCode::OK, "{}", update.text());
    let shown = t.client.api(Method::GET, &path, ADMIN_TOKEN, None).await;
    assert_eq!(
        shown.json()["data"]["provider_config"]["api_token"],
        "********"
    );
    let c = &t.client;
    let accepted = c.ingest(&mask, &[("x-token", "tok-7f3a")], b"{}").await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text());
    let refused = c.ingest(&mask, &[("x-token", "********")], b"{}").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let events = c.all_events(&project).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_type"], "acme");
}

#[test]
fn check_plugin_reports_a_file_as_serve_would_load_it() {
    let check = |file: &std::path::Path| {
        std::process::Command::new(inlet_tests::inlet_binary())
            .arg("check-plugin")
            .arg(file)
            .output()
            .unwrap()
    };
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../host/plugin-host/tests/fixtures/github-0.1.0.wasm");
    let out = check(&fixture);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["plugin"]["name"], "github");
    assert_eq!(report["plugin"]["wit_version"], "0.1.0");
    assert_eq!(report["plugin"]["origin"], "file");
    // Rust's std declares WASI imports; Inlet provides none of them.
    let trapped = report["trapped_imports"].as_array().unwrap();
    assert!(
        !trapped.is_empty()
            && trapped
                .iter()
                .all(|i| i.as_str().unwrap().starts_with("wasi:")),
        "{report}"
    );

    let out = check(&test_plugin("spin"));
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["plugin"]["wit_version"], "0.2.0");

    let out = check(&test_plugin("future"));
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("Inlet would refuse") && error.contains("inlet:plugin@0.99.0"),
        "{error}"
    );
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), b"not wasm").unwrap();
    let out = check(garbage.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid WebAssembly component"));
}

#[tokio::test]
async fn headers_a_plugin_declares_credentials_are_masked_in_stored_events() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, mask) = provider_source(c, "gitlab", "gitlab-token-value").await;
    let headers = [
        ("x-gitlab-token", "gitlab-token-value"),
        ("x-gitlab-event", "Push Hook"),
        ("content-type", "application/json"),
    ];
    let reply = c
        .ingest(&mask, &headers, b"{\"object_kind\":\"push\"}")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let events = c.events(&project, "").await;
    let event = &events["content"][0];
    assert_eq!(event["event_type"], "Push Hook");
    assert_eq!(event["headers"]["x-gitlab-token"], json!(["********"]));
    assert_eq!(event["headers"]["x-gitlab-event"], json!(["Push Hook"]));
    assert!(!events.to_string().contains("gitlab-token-value"));
}

#[tokio::test]
async fn state_a_plugin_keeps_in_a_handshake_survives_a_restart_and_goes_with_its_source() {
    let mut t = TestServer::start().await;
    let (project, _) = t.client.create_project("incoming").await;
    let source = t
        .client
        .create_source(
            &project,
            json!({"name": "asana", "type": "http", "provider": "asana"}),
        )
        .await;
    let (uid, mask) = (
        source["uid"].as_str().unwrap().to_string(),
        source["mask_id"].as_str().unwrap().to_string(),
    );
    let hook_secret = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81";
    let body = br#"{"events":[{"action":"changed","resource":{"resource_type":"task"}}]}"#;
    let event = [
        ("x-hook-signature", hmac_sha256_hex(hook_secret, body)),
        ("content-type", "application/json".to_string()),
    ];
    let event: Vec<(&str, &str)> = event.iter().map(|(n, v)| (*n, v.as_str())).collect();
    // Before the handshake there is no secret to check against.
    let reply = t.client.ingest(&mask, &event, body).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = t
        .client
        .ingest(&mask, &[("x-hook-secret", hook_secret)], b"")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["x-hook-secret"], hook_secret);
    // The first handshake wins: a second cannot replace the secret.
    let other = "0000000000000000000000000000000000000000000000000000000000000000";
    let reply = t
        .client
        .ingest(&mask, &[("x-hook-secret", other)], b"")
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    t.restart().await;
    let reply = t.client.ingest(&mask, &event, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        t.client.events(&project, "").await["content"][0]["event_type"],
        "task.changed"
    );

    let path = format!("/api/v1/projects/{project}/sources/{uid}");
    let reply = t.client.api(Method::DELETE, &path, ADMIN_TOKEN, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    // The running server holds the store; it is read once the server has stopped.
    t.stop().await;
    let store = inlet_store::Store::open(
        &t.dir.path().join("store"),
        std::sync::Arc::new(inlet_metrics::Metrics::default()),
    )
    .unwrap();
    assert!(store.plugin_state(&uid).unwrap().is_empty());
}
