//! An endpoint's `Retry-After` answer (any bytes a receiver sends), read by
//! `inlet_delivery::retry::retry_after` at any time of the clock.
//!
//! It must never panic, and a wait is never longer than the bound.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use http::{HeaderValue, StatusCode};
use inlet_delivery::retry::{MAX_RETRY_AFTER, retry_after};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    status: u16,
    value: &'a [u8],
    now_secs: u64,
}

fuzz_target!(|input: Input| {
    let Ok(status) = StatusCode::from_u16(input.status) else {
        return;
    };
    let Ok(value) = HeaderValue::from_bytes(input.value) else {
        return;
    };
    let Some(now) = UNIX_EPOCH.checked_add(Duration::from_secs(input.now_secs)) else {
        return;
    };
    if let Some(wait) = retry_after(status, Some(&value), now) {
        assert!(wait <= MAX_RETRY_AFTER);
    }
});
