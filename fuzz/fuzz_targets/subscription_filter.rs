//! Subscription filters (`filter_config`, written by a project's API key) and the events
//! they are evaluated against (sent by anyone who can reach a source): a filter is parsed as
//! `FilterConfig` JSON and compiled, then matched against a fuzzed event; `test_filter`'s
//! body is parsed and answered too.
//!
//! It must never panic, and a compiled filter must evaluate every event (bounded work).
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use inlet_route::filter::{EventParts, Filter, FilterConfig, TestFilter};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    filter: &'a [u8],
    event_type: &'a str,
    headers: Vec<(&'a str, Vec<&'a str>)>,
    body: &'a [u8],
    query: &'a str,
    path: &'a str,
}

fuzz_target!(|input: Input| {
    if let Ok(test) = serde_json::from_slice::<TestFilter>(input.filter) {
        let _ = test.is_match();
    }
    let Ok(config) = serde_json::from_slice::<FilterConfig>(input.filter) else {
        return;
    };
    let Ok(filter) = Filter::compile(&config) else {
        return;
    };
    let headers: BTreeMap<String, Vec<String>> = input
        .headers
        .iter()
        .map(|(name, values)| {
            let values = values.iter().map(|v| v.to_string()).collect();
            (name.to_ascii_lowercase(), values)
        })
        .collect();
    let body = serde_json::from_slice(input.body).unwrap_or(serde_json::Value::Null);
    let parts = EventParts::new(&headers, &body, input.query, input.path);
    filter.matches(input.event_type, &parts);
});
