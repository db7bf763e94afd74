//! The built-in provider catalogue, each plugin held to its own `cases.json` (the SDK's
//! conformance harness) in two more ways than its native unit test: through the real
//! wasmtime host, as the compiled component, and over real HTTP against a running Inlet, with
//! the cases that sign signed at the real time for the real ingest URL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};
use inlet_plugin_host::{Call, PluginHost, PluginLimits, Request, SourceConfig};
use inlet_sdk::conformance::{Case, Cases, Expect};
use inlet_tests::{ADMIN_TOKEN, Client, TestServer};
use serde_json::{Value, json};

type Sign = fn(&mut Request, &SourceConfig);

/// Every plugin in `plugins/`: its name, its cases and its `Signer` (`build.rs`).
const CATALOGUE: &[(&str, &str, Sign)] = include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

#[tokio::test]
async fn every_built_in_plugin_is_in_the_catalogue_and_listed() {
    let t = TestServer::start().await;
    let reply = t
        .client
        .api(Method::GET, "/api/v1/plugins", ADMIN_TOKEN, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let listed: Vec<Value> = reply.json()["data"]["content"].as_array().unwrap().clone();
    let names: Vec<&str> = listed.iter().map(|p| p["name"].as_str().unwrap()).collect();
    let catalogue: Vec<&str> = CATALOGUE.iter().map(|(name, ..)| *name).collect();
    assert_eq!(names, catalogue);
    assert!(names.len() >= 38, "{} providers", names.len());
    for plugin in &listed {
        assert_eq!(plugin["origin"], "built-in", "{plugin}");
        assert_eq!(plugin["wit_version"], "0.2.0", "{plugin}");
        assert!(
            plugin["description"].as_str().unwrap().len() > 10,
            "{plugin}"
        );
        assert!(plugin["config"].is_array() && plugin["credential_headers"].is_array());
    }
}

#[tokio::test]
async fn every_built_in_plugin_passes_its_cases_through_the_wasmtime_host() {
    let cache = tempfile::tempdir().unwrap();
    let limits = PluginLimits {
        deadline: Duration::from_millis(500),
        memory_bytes: 32 << 20,
    };
    let host = PluginHost::load(None, cache.path(), [7; 32], limits, Arc::default()).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, cases, sign) in CATALOGUE {
        for case in &Cases::parse(cases).cases {
            let (request, config) = case.prepare(*sign, None, None);
            let outcome = match host.verify(name, Call { request, config }).await {
                Ok(verdict) => case.expect.check(&verdict.into_sdk()),
                Err(failure) => Err(failure.code().to_string()),
            };
            if let Err(why) = outcome {
                failures.push(format!("{name}: {}: {why}", case.name));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 200, "{checked} cases");
}

/// What sets one source apart from another: its secrets and its fields.
type SourceKey = (Vec<String>, BTreeMap<String, String>);

/// A source of `plugin` configured as a case says, and what its plugin has kept.
struct HttpSource {
    project: String,
    mask: String,
    state: BTreeMap<String, String>,
}

async fn create_source(c: &Client, plugin: &str, case: &Case) -> HttpSource {
    let (project, _) = c.create_project("incoming").await;
    let secrets = &case.config.secrets;
    let mut source = json!({"name": plugin, "type": "http", "provider": plugin,
                            "provider_config": case.config.fields});
    if let Some((first, rest)) = secrets.split_first() {
        source["verifier"] = json!({"type": "hmac", "hmac": {"secret": first, "secrets": rest}});
    }
    let created = c.create_source(&project, source).await;
    HttpSource {
        project,
        mask: created["mask_id"].as_str().unwrap().to_string(),
        state: BTreeMap::new(),
    }
}

/// Sends one case to its source over HTTP; what differs from the expectation, if anything.
async fn send(c: &Client, source: &mut HttpSource, case: &Case, sign: Sign) -> Result<(), String> {
    let path = format!("/ingest/{}", source.mask);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (request, _) = case.prepare(sign, Some(&c.url(&path)), Some(now));
    let target = match request.query.as_str() {
        "" => path,
        query => format!("{path}?{query}"),
    };
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let method = Method::from_bytes(request.method.as_bytes()).unwrap();
    let reply = c.send(method, &target, &headers, request.body).await;
    let got = format!("{} {}", reply.status, reply.text());
    match &case.expect {
        Expect::Reject if reply.status == StatusCode::UNAUTHORIZED => {
            (reply.code() == "plugin_rejected").then_some(()).ok_or(got)
        }
        Expect::Accept {
            event_type,
            idempotency_key,
        } if reply.status == StatusCode::OK => {
            let events = c.events(&source.project, "").await;
            let newest = &events["content"][0];
            let wanted_type = event_type.as_deref().unwrap_or(&source.mask);
            let key_matches = idempotency_key
                .as_deref()
                .is_none_or(|key| newest["idempotency_key"] == key);
            (newest["event_type"] == wanted_type && key_matches)
                .then_some(())
                .ok_or(format!("stored {newest}"))
        }
        Expect::Respond {
            status,
            body,
            headers,
            state,
        } if reply.status.as_u16() == *status => {
            let body_matches = body.as_ref().is_none_or(|b| reply.body == b.as_bytes());
            let headers_match = headers.iter().all(|(name, value)| {
                reply
                    .headers
                    .get_all(name.as_str())
                    .iter()
                    .any(|v| v == value.as_str())
            });
            if let Some(kept) = state {
                source.state = kept.iter().cloned().collect();
            }
            (body_matches && headers_match).then_some(()).ok_or(got)
        }
        _ => Err(got),
    }
}

#[tokio::test]
async fn every_built_in_plugin_passes_its_cases_over_http() {
    let t = TestServer::start().await;
    let c = &t.client;
    let mut failures = Vec::new();
    let (mut sent, mut accepted) = (0, 0);
    for (plugin, cases, sign) in CATALOGUE {
        // One source per configuration a plugin's cases use; the state its handshakes keep
        // carries over to the later cases that expect it.
        let mut sources: Vec<(SourceKey, HttpSource)> = Vec::new();
        for case in Cases::parse(cases).cases.iter().filter(|c| c.over_http) {
            let config = (case.config.secrets.clone(), case.config.fields.clone());
            let at = match sources.iter().position(|(c, _)| *c == config) {
                Some(at) => at,
                None => {
                    sources.push((config, create_source(c, plugin, case).await));
                    sources.len() - 1
                }
            };
            let source = &mut sources[at].1;
            if case.config.state != source.state {
                failures.push(format!(
                    "{plugin}: {}: its state {:?} is not what the source keeps ({:?}); \
                     over HTTP only a handshake sets state",
                    case.name, case.config.state, source.state
                ));
                continue;
            }
            if let Err(why) = send(c, source, case, *sign).await {
                failures.push(format!("{plugin}: {}: {why}", case.name));
            }
            sent += 1;
            accepted += matches!(case.expect, Expect::Accept { .. }) as usize;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        sent > 200 && accepted >= CATALOGUE.len(),
        "{sent} sent, {accepted} accepted"
    );
}
