//! A plugin's `respond` verdict (status, headers, body), through
//! `inlet_plugin_host::checked_response`: the one check of what a plugin answers with.
//!
//! It must never panic, and a response it lets through has a final status (200–599), the
//! plugin's body, and none of the framing and hop-by-hop headers, which only the server
//! sets (whatever their case in the plugin's output).
#![no_main]

use arbitrary::Arbitrary;
use inlet_plugin_host::checked_response;
use libfuzzer_sys::fuzz_target;

const SERVER_ONLY: [&str; 8] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "keep-alive",
    "te",
    "trailer",
    "proxy-connection",
];

#[derive(Arbitrary, Debug)]
enum Name {
    /// One of the server's headers, upper-cased or not.
    ServerOnly(u8, bool),
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    status: u16,
    headers: Vec<(Name, String)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let headers: Vec<(String, String)> = input
        .headers
        .into_iter()
        .map(|(name, value)| {
            let name = match name {
                Name::ServerOnly(i, upper) => {
                    let name = SERVER_ONLY[usize::from(i) % SERVER_ONLY.len()];
                    if upper {
                        name.to_ascii_uppercase()
                    } else {
                        name.to_string()
                    }
                }
                Name::Other(name) => name,
            };
            (name, value)
        })
        .collect();
    let Ok(response) = checked_response(input.status, &headers, input.body.clone()) else {
        return;
    };
    assert!((200..=599).contains(&response.status().as_u16()));
    assert_eq!(response.status().as_u16(), input.status);
    assert_eq!(response.body(), &input.body);
    assert!(response.headers().len() <= headers.len());
    for name in SERVER_ONLY {
        assert!(!response.headers().contains_key(name), "{name} passed");
    }
});
