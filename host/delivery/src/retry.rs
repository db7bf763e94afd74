//! When a failed delivery is tried again: the retry strategy (Convoy's project
//! `config.strategy`, which a subscription may override) and the `Retry-After` an endpoint
//! may answer with. Pure functions of the attempt count, the answer and the time.
//!
//! Counting: `retry_count` is the number of retries after the first attempt, so a delivery
//! is attempted at most `1 + retry_count` times (the default: 11 attempts, 10 of them
//! retries). This differs from Convoy, which stops once its attempt count reaches
//! `retry_count` (at most `retry_count` attempts in all, and 0 and 1 both mean one).

use std::time::{Duration, SystemTime};

use http::{HeaderValue, StatusCode};
pub use inlet_model::delivery::{
    Jitter, MAX_BACKOFF_SECONDS, MAX_DURATION_SECONDS, MAX_JITTER, MAX_RETRY_COUNT, RetryStrategy,
    StrategyType,
};

/// The longest wait an endpoint's `Retry-After` can ask for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3_600);

/// The wait an endpoint asks for with `Retry-After` on a 429 or 503 answer, at most
/// [`MAX_RETRY_AFTER`]; `None` for other statuses and for an absent or unreadable value,
/// where the strategy alone decides. Both forms of RFC 9110 are read: delta-seconds and an
/// HTTP-date (IMF-fixdate, and the obsolete RFC 850 and asctime forms); a date in the past
/// asks for no wait.
pub fn retry_after(
    status: StatusCode,
    value: Option<&HeaderValue>,
    now: SystemTime,
) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let text = value?.to_str().ok()?.trim();
    // Any valid value is far shorter; this bounds the work on a hostile one.
    if text.len() > 64 {
        return None;
    }
    let wait = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: too many for a u64 is still a valid, very long, wait.
        Duration::from_secs(text.parse().unwrap_or(u64::MAX))
    } else {
        // httpdate reads the three forms and refuses impossible dates and weekdays.
        let date = httpdate::parse_http_date(text).ok()?;
        date.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const NO_JITTER: Jitter = Jitter(0);
    const FULL_JITTER: Jitter = Jitter(u32::MAX);

    fn strategy(kind: StrategyType, duration: u64, retry_count: u64) -> RetryStrategy {
        RetryStrategy {
            kind,
            duration,
            retry_count,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + secs(unix)
    }

    fn header(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    #[test]
    fn the_default_is_convoys_linear_100_seconds_10_times_in_its_json() {
        let default = RetryStrategy::default();
        assert_eq!(default, strategy(StrategyType::Linear, 100, 10));
        assert_eq!(
            serde_json::to_value(default).unwrap(),
            serde_json::json!({"type": "linear", "duration": 100, "retry_count": 10})
        );
        let read: RetryStrategy = serde_json::from_value(
            serde_json::json!({"type": "exponential", "duration": 30, "retry_count": 5}),
        )
        .unwrap();
        assert_eq!(read, strategy(StrategyType::Exponential, 30, 5));
        let partial: RetryStrategy =
            serde_json::from_value(serde_json::json!({"type": "exponential"})).unwrap();
        assert_eq!(partial, strategy(StrategyType::Exponential, 100, 10));
        for bad in [
            serde_json::json!({"type": "fibonacci"}),
            serde_json::json!({"duration": -1}),
            serde_json::json!({"retry_count": "3"}),
        ] {
            assert!(
                serde_json::from_value::<RetryStrategy>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn validation_names_the_field_out_of_bounds() {
        let field_of = |s: RetryStrategy| s.validate("config.strategy").unwrap_err().field;
        assert_eq!(
            field_of(strategy(StrategyType::Linear, 0, 3)),
            "config.strategy.duration"
        );
        assert_eq!(
            field_of(strategy(
                StrategyType::Exponential,
                MAX_DURATION_SECONDS + 1,
                3
            )),
            "config.strategy.duration"
        );
        assert_eq!(
            field_of(strategy(StrategyType::Linear, 10, MAX_RETRY_COUNT + 1)),
            "config.strategy.retry_count"
        );
        for fits in [
            strategy(StrategyType::Linear, 1, 0),
            strategy(
                StrategyType::Exponential,
                MAX_DURATION_SECONDS,
                MAX_RETRY_COUNT,
            ),
        ] {
            fits.validate("config.strategy").unwrap();
        }
    }

    #[test]
    fn retry_count_is_the_number_of_retries_after_the_first_attempt() {
        let three = strategy(StrategyType::Linear, 10, 3);
        for failed in 1..=3 {
            assert_eq!(
                three.next_retry(failed, None, NO_JITTER),
                Some(secs(10)),
                "{failed}"
            );
        }
        assert_eq!(three.next_retry(4, None, NO_JITTER), None);
        assert_eq!(three.next_retry(u32::MAX, None, NO_JITTER), None);
        let none = strategy(StrategyType::Linear, 10, 0);
        assert_eq!(none.next_retry(1, None, NO_JITTER), None);
        // The default: 10 retries, so 11 attempts.
        let default = RetryStrategy::default();
        assert!(default.next_retry(10, None, NO_JITTER).is_some());
        assert_eq!(default.next_retry(11, None, NO_JITTER), None);
    }

    #[test]
    fn linear_waits_the_duration_every_time_without_jitter() {
        let linear = strategy(StrategyType::Linear, 100, 10);
        for failed in [0, 1, 2, 10, u32::MAX] {
            assert_eq!(linear.delay(failed, NO_JITTER), secs(100));
            assert_eq!(linear.delay(failed, FULL_JITTER), secs(100));
        }
    }

    #[test]
    fn exponential_doubles_from_the_duration_up_to_the_cap() {
        let exponential = strategy(StrategyType::Exponential, 10, 100);
        let waits: Vec<u64> = (1..=11)
            .map(|failed| exponential.delay(failed, NO_JITTER).as_secs())
            .collect();
        // 10·2^(n-1), capped at 7200 from the 11th failure (10·1024 > 7200).
        assert_eq!(
            waits,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 7200]
        );
        assert_eq!(exponential.delay(0, NO_JITTER), secs(10));
    }

    #[test]
    fn exponential_never_overflows_whatever_the_attempt_or_duration() {
        for duration in [1, 10, MAX_DURATION_SECONDS, u64::MAX] {
            let exponential = strategy(StrategyType::Exponential, duration, u64::MAX);
            for failed in [63, 64, 65, 1_000, u32::MAX] {
                assert_eq!(
                    exponential.delay(failed, NO_JITTER),
                    secs(MAX_BACKOFF_SECONDS)
                );
                assert_eq!(
                    exponential.delay(failed, FULL_JITTER),
                    secs(MAX_BACKOFF_SECONDS) + MAX_JITTER - Duration::from_millis(1)
                );
                assert!(exponential.next_retry(failed, None, FULL_JITTER).is_some());
            }
        }
        let linear = strategy(StrategyType::Linear, u64::MAX, 1);
        assert_eq!(linear.delay(u32::MAX, FULL_JITTER), secs(u64::MAX));
    }

    #[test]
    fn jitter_is_a_tenth_of_the_wait_at_most_five_seconds() {
        // 10 s: up to 1 s of jitter; 7200 s: up to 5 s.
        let short = strategy(StrategyType::Exponential, 10, 10);
        assert_eq!(short.delay(1, NO_JITTER), secs(10));
        assert_eq!(
            short.delay(1, Jitter(1 << 31)),
            Duration::from_millis(10_500)
        );
        assert_eq!(short.delay(1, FULL_JITTER), Duration::from_millis(10_999));
        let long = strategy(StrategyType::Exponential, 7_200, 10);
        assert_eq!(
            long.delay(1, Jitter(1 << 31)),
            Duration::from_millis(7_202_500)
        );
        assert_eq!(long.delay(1, FULL_JITTER), Duration::from_millis(7_204_999));
        for share in [0, 1, 12_345, 1 << 31, u32::MAX - 1, u32::MAX] {
            for (s, base) in [(short, 10_000u64), (long, 7_200_000)] {
                let ms = s.delay(1, Jitter(share)).as_millis() as u64;
                let range = (base / 10).min(5_000);
                assert!((base..base + range).contains(&ms), "{share} {ms}");
            }
        }
    }

    #[test]
    fn random_jitter_stays_in_bounds() {
        let exponential = strategy(StrategyType::Exponential, 20, 10);
        for _ in 0..100 {
            let ms = exponential.delay(1, Jitter::random()).as_millis();
            assert!((20_000..22_000).contains(&ms), "{ms}");
        }
    }

    #[test]
    fn retry_after_lengthens_the_wait_never_shortens_it() {
        let linear = strategy(StrategyType::Linear, 100, 3);
        assert_eq!(
            linear.next_retry(1, Some(secs(600)), NO_JITTER),
            Some(secs(600))
        );
        assert_eq!(
            linear.next_retry(1, Some(secs(5)), NO_JITTER),
            Some(secs(100))
        );
        // It gives no retry that the strategy does not.
        assert_eq!(linear.next_retry(4, Some(secs(600)), NO_JITTER), None);
    }

    #[test]
    fn retry_after_reads_delta_seconds_on_429_and_503_only() {
        let now = at(1_700_000_000);
        let v = header("120");
        assert_eq!(
            retry_after(StatusCode::TOO_MANY_REQUESTS, Some(&v), now),
            Some(secs(120))
        );
        assert_eq!(
            retry_after(StatusCode::SERVICE_UNAVAILABLE, Some(&v), now),
            Some(secs(120))
        );
        for other in [
            StatusCode::OK,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
        ] {
            assert_eq!(retry_after(other, Some(&v), now), None);
        }
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, None, now), None);
        let read =
            |text: &str| retry_after(StatusCode::TOO_MANY_REQUESTS, Some(&header(text)), now);
        assert_eq!(read("0"), Some(Duration::ZERO));
        assert_eq!(read(" 30 "), Some(secs(30)));
        assert_eq!(read("3600"), Some(MAX_RETRY_AFTER));
        assert_eq!(read("3601"), Some(MAX_RETRY_AFTER));
        assert_eq!(read("99999999999999999999999"), Some(MAX_RETRY_AFTER));
        for bad in ["", "-1", "1.5", "+5", "10s", "abc", "1 2", &"9".repeat(65)] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
        let not_text = HeaderValue::from_bytes(b"\xff120").unwrap();
        assert_eq!(
            retry_after(StatusCode::TOO_MANY_REQUESTS, Some(&not_text), now),
            None
        );
    }

    #[test]
    fn retry_after_reads_the_three_http_date_forms() {
        // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 (RFC 9110's example date).
        let now = at(784_111_777 - 90);
        let read =
            |text: &str| retry_after(StatusCode::SERVICE_UNAVAILABLE, Some(&header(text)), now);
        assert_eq!(read("Sun, 06 Nov 1994 08:49:37 GMT"), Some(secs(90)));
        assert_eq!(read("Sunday, 06-Nov-94 08:49:37 GMT"), Some(secs(90)));
        assert_eq!(read("Sun Nov  6 08:49:37 1994"), Some(secs(90)));
        // A leap day; a date in the past; one beyond the bound.
        let now = at(1_709_208_000 - 45);
        let read =
            |text: &str| retry_after(StatusCode::SERVICE_UNAVAILABLE, Some(&header(text)), now);
        assert_eq!(read("Thu, 29 Feb 2024 12:00:00 GMT"), Some(secs(45)));
        assert_eq!(read("Thu, 29 Feb 2024 11:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(read("Wed, 01 May 2030 00:00:00 GMT"), Some(MAX_RETRY_AFTER));
        for bad in [
            "Thu, 30 Feb 2024 12:00:00 GMT",
            "Thu, 29 Feb 2023 12:00:00 GMT",
            "Thu, 29 Foo 2024 12:00:00 GMT",
            "Thu, 29 Feb 2024 24:00:00 GMT",
            "Thu, 29 Feb 2024 12:60:00 GMT",
            "Thu, 29 Feb 2024 12:00:00 UTC",
            "Thu, 29 Feb 2024 12:00 GMT",
            "Thu, 29 Feb 2024 12:00:00:00 GMT",
            "Thu, 00 Feb 2024 12:00:00 GMT",
            "Thursday, 29-Feb-2024 12:00:00 GMT",
            "2024-02-29T12:00:00Z",
        ] {
            assert_eq!(read(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_rfc850_year_is_read_as_httpdate_reads_it() {
        // Two digits below 70 are 20xx, the others 19xx.
        let now = at(1_709_208_000);
        let read =
            |text: &str| retry_after(StatusCode::SERVICE_UNAVAILABLE, Some(&header(text)), now);
        assert_eq!(read("Friday, 01-Jan-99 00:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(
            read("Wednesday, 01-May-30 00:00:00 GMT"),
            Some(MAX_RETRY_AFTER)
        );
        // A clock at the end of time does not panic: every date is past.
        let end = UNIX_EPOCH + Duration::from_secs(i64::MAX as u64);
        let v = header("Friday, 01-Jan-99 00:00:00 GMT");
        assert_eq!(
            retry_after(StatusCode::SERVICE_UNAVAILABLE, Some(&v), end),
            Some(Duration::ZERO)
        );
    }
}
