//! Criterion benches of the per-request hot paths: native HMAC verification and body
//! parsing, against the cost of a plugin call (fresh store and instance) doing the same.

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use inlet_model::verifier::{HmacConfig, VerifierConfig, VerifierType};
use inlet_payload::Payload;
use inlet_plugin_host::{Call, PluginHost, PluginLimits, Request, SourceConfig, Verdict};
use inlet_verify::Verifier;

fn body() -> Vec<u8> {
    let mut body = br#"{"type":"bench","pad":""#.to_vec();
    body.resize(1000, b'x');
    body.extend_from_slice(br#""}"#);
    body
}

fn signature(body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"bench").unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn native_hmac(c: &mut Criterion) {
    let body = body();
    let config = VerifierConfig {
        kind: VerifierType::Hmac,
        hmac: Some(HmacConfig {
            header: "x-sig".into(),
            hash: "SHA256".into(),
            secret: "bench".into(),
            encoding: "hex".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-sig", signature(&body).parse().unwrap());
    // Compiled once, as a source's verifier is.
    let verifier = Verifier::compile(&config).unwrap();
    c.bench_function("native hmac-sha256 verify, 1 KiB", |b| {
        b.iter(|| verifier.verify(&headers, &body, 0).unwrap())
    });
}

fn payload(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = Bytes::from(body());
    c.bench_function("payload from 1 KiB JSON body", |b| {
        b.iter(|| {
            runtime
                .block_on(Payload::from_body(Some("application/json"), body.clone()))
                .unwrap()
        })
    });
}

fn plugin_call(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let limits = PluginLimits {
        deadline: std::time::Duration::from_millis(50),
        memory_bytes: 32 << 20,
    };
    let metrics = std::sync::Arc::new(inlet_metrics::Metrics::default());
    let plugins = PluginHost::load(None, cache.path(), [7; 32], limits, metrics).unwrap();
    let body = body();
    let request = Request {
        method: "POST".into(),
        url: "http://127.0.0.1/ingest/x".into(),
        path: "/ingest/x".into(),
        query: String::new(),
        headers: vec![
            (
                "x-hub-signature-256".into(),
                format!("sha256={}", signature(&body)),
            ),
            ("x-github-event".into(), "push".into()),
        ],
        body,
        received_at: 0,
    };
    let config = SourceConfig::with_secret("bench");
    c.bench_function("github plugin verify, 1 KiB (fresh instance)", |b| {
        b.iter(|| {
            let verdict = runtime
                .block_on(plugins.verify(
                    "github",
                    Call {
                        request: request.clone(),
                        config: config.clone(),
                    },
                ))
                .unwrap();
            assert!(matches!(verdict, Verdict::Accept { .. }));
        })
    });
}

criterion_group!(benches, native_hmac, payload, plugin_call);
criterion_main!(benches);
