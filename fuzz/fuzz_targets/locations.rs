//! Request locations (`request.header.X`, `request.query.x`, `request.body.a.b`): a source's
//! configured text, `inlet_payload::Location::parse`, and for what parses, `read` from fuzzed
//! headers, query string and JSON body (`LazyJson`).
//!
//! It must never panic; what parses has the shape it claims (a valid header name, a body
//! path without empty segments); and a header location reads the first value of its header.
#![no_main]

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue};
use inlet_payload::{LazyJson, Location};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

#[derive(Arbitrary, Debug)]
enum Prefix {
    Header,
    Query,
    Body,
    /// The text as it is.
    None,
}

#[derive(Arbitrary, Debug)]
struct Header<'a> {
    /// The header a header location names, or any name.
    located: bool,
    name: &'a [u8],
    value: &'a [u8],
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    prefix: Prefix,
    location: &'a str,
    headers: Vec<Header<'a>>,
    query: &'a str,
    body: &'a [u8],
}

fuzz_target!(|input: Input| {
    let prefix = match input.prefix {
        Prefix::Header => "request.header.",
        Prefix::Query => "request.query.",
        Prefix::Body => "request.body.",
        Prefix::None => "",
    };
    let Ok(location) = Location::parse(&format!("{prefix}{}", input.location)) else {
        return;
    };
    match &location {
        Location::Header(name) => assert!(HeaderName::from_bytes(name.as_bytes()).is_ok()),
        Location::Query(name) => assert!(!name.is_empty()),
        Location::Body(path) => assert!(!path.is_empty() && path.iter().all(|s| !s.is_empty())),
    }

    let mut headers = HeaderMap::new();
    for header in &input.headers {
        let name = match &location {
            Location::Header(name) if header.located => name.as_bytes(),
            _ => header.name,
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(header.value),
        ) {
            headers.append(name, value);
        }
    }
    let null = RawValue::from_string("null".into()).unwrap();
    let data = serde_json::from_slice::<Box<RawValue>>(input.body).unwrap_or(null);
    let value = location.read(&headers, input.query, &LazyJson::new(&data));

    if let Location::Header(name) = &location {
        let first = headers.get(name.as_str()).map(|v| v.as_bytes());
        assert_eq!(
            value,
            first.map(|v| String::from_utf8_lossy(v).into_owned())
        );
    }
});
