//! Whether an endpoint may be sent to now: its rate limit and its circuit. Deliveries held
//! back by either wait in the queue; they are not attempted, so they use up no retry.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use inlet_model::delivery::{CircuitBreakerConfig, CircuitState, Endpoint, EndpointHealth};

/// One endpoint's rate limit and circuit, as the delivery worker keeps them.
pub(crate) struct Gate {
    limit: Option<Limit>,
    pub health: EndpointHealth,
    /// A half-open circuit's probe attempt is out.
    probe_out: bool,
}

/// `rate` requests per `per` seconds, as a GCRA limiter: bursts of up to `rate`, then one
/// request every `per / rate`.
struct Limit {
    rate: u64,
    per: u64,
    limiter: DefaultDirectRateLimiter,
}

/// A change of an endpoint's circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Closed → open: too many failures in a row.
    Opened,
    /// The probe failed: open again for another `error_timeout`.
    Reopened,
    /// A success closed it.
    Closed,
}

impl Gate {
    pub fn new(health: EndpointHealth) -> Self {
        Self {
            limit: None,
            // A probe that was out when Inlet stopped is sent again.
            probe_out: false,
            health,
        }
    }

    /// How many of `wanted` attempts the circuit lets out now. `Err(until)`: none, until
    /// `until` (ms since the epoch) or, for `None`, until the probe's outcome.
    pub fn circuit_allows(
        &self,
        config: &CircuitBreakerConfig,
        now_ms: u64,
        wanted: usize,
    ) -> Result<usize, Option<u64>> {
        match self.health.cb_state {
            CircuitState::Closed => Ok(wanted),
            CircuitState::Open => {
                let probe_at = self.probe_at(config);
                if now_ms >= probe_at {
                    Ok(wanted.min(1))
                } else {
                    Err(Some(probe_at))
                }
            }
            CircuitState::HalfOpen if self.probe_out => Err(None),
            CircuitState::HalfOpen => Ok(wanted.min(1)),
        }
    }

    /// `count` attempts were handed out: an open circuit's first is its probe.
    pub fn handed(&mut self, count: usize) {
        if count > 0 && self.health.cb_state != CircuitState::Closed {
            self.health.cb_state = CircuitState::HalfOpen;
            self.probe_out = true;
        }
    }

    /// Takes one request from the endpoint's rate limit; `Err(wait)` when it is used up.
    pub fn rate_allows(&mut self, endpoint: &Endpoint) -> Result<(), Duration> {
        let (rate, per) = (endpoint.rate_limit, endpoint.rate_limit_duration);
        if rate == 0 || per == 0 {
            self.limit = None;
            return Ok(());
        }
        let current = self
            .limit
            .as_ref()
            .is_some_and(|limit| (limit.rate, limit.per) == (rate, per));
        if !current {
            self.limit = Some(Limit::new(rate, per));
        }
        match &self.limit {
            Some(limit) => limit
                .limiter
                .check()
                .map_err(|until| until.wait_time_from(DefaultClock::default().now())),
            None => Ok(()),
        }
    }

    /// Counts an attempt's outcome (one whose request was sent) and moves the circuit.
    pub fn observe(
        &mut self,
        config: &CircuitBreakerConfig,
        succeeded: bool,
        now_ms: u64,
    ) -> Option<Transition> {
        let health = &mut self.health;
        let window_ms = config.observability_window.saturating_mul(60_000);
        if now_ms.saturating_sub(health.window_start_ms) >= window_ms {
            health.window_start_ms = now_ms;
            health.success_count = 0;
            health.failure_count = 0;
        }
        if succeeded {
            health.success_count += 1;
            health.consecutive_failures = 0;
            self.probe_out = false;
            if health.cb_state == CircuitState::Closed {
                return None;
            }
            health.cb_state = CircuitState::Closed;
            return Some(Transition::Closed);
        }
        health.failure_count += 1;
        health.consecutive_failures += 1;
        match health.cb_state {
            CircuitState::HalfOpen => {
                health.cb_state = CircuitState::Open;
                health.opened_at_ms = now_ms;
                self.probe_out = false;
                Some(Transition::Reopened)
            }
            CircuitState::Closed
                if health.consecutive_failures >= config.consecutive_failure_threshold =>
            {
                health.cb_state = CircuitState::Open;
                health.opened_at_ms = now_ms;
                Some(Transition::Opened)
            }
            // Attempts sent before the circuit opened, failing after.
            CircuitState::Closed | CircuitState::Open => None,
        }
    }

    fn probe_at(&self, config: &CircuitBreakerConfig) -> u64 {
        self.health
            .opened_at_ms
            .saturating_add(config.error_timeout.saturating_mul(1000))
    }
}

impl Limit {
    fn new(rate: u64, per: u64) -> Self {
        // Both are bounded when an endpoint is written (at most a million per day).
        let burst =
            NonZeroU32::new(u32::try_from(rate).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
        let period = (Duration::from_secs(per) / burst.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst);
        Self {
            rate,
            per,
            limiter: DefaultDirectRateLimiter::direct(quota),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreakerConfig {
        CircuitBreakerConfig {
            consecutive_failure_threshold: 3,
            error_timeout: 10,
            observability_window: 1,
        }
    }

    #[test]
    fn failures_in_a_row_open_the_circuit_and_one_probe_closes_it() {
        let config = breaker();
        let mut gate = Gate::new(EndpointHealth::default());
        assert_eq!(gate.observe(&config, false, 1_000), None);
        assert_eq!(
            gate.observe(&config, true, 1_100),
            None,
            "a success resets the run"
        );
        assert_eq!(gate.observe(&config, false, 1_200), None);
        assert_eq!(gate.observe(&config, false, 1_300), None);
        assert_eq!(
            gate.observe(&config, false, 1_400),
            Some(Transition::Opened)
        );
        assert_eq!(gate.circuit_allows(&config, 5_000, 32), Err(Some(11_400)));
        // After error_timeout, one probe.
        assert_eq!(gate.circuit_allows(&config, 11_400, 32), Ok(1));
        gate.handed(1);
        assert_eq!(gate.health.cb_state, CircuitState::HalfOpen);
        assert_eq!(gate.circuit_allows(&config, 11_500, 32), Err(None));
        assert_eq!(
            gate.observe(&config, false, 12_000),
            Some(Transition::Reopened)
        );
        assert_eq!(gate.circuit_allows(&config, 12_001, 32), Err(Some(22_000)));
        gate.handed(1);
        assert_eq!(
            gate.observe(&config, true, 22_500),
            Some(Transition::Closed)
        );
        assert_eq!(gate.circuit_allows(&config, 22_501, 32), Ok(32));
        assert_eq!(gate.health.failure_count, 5);
        assert_eq!(gate.health.success_count, 2);
    }

    #[test]
    fn counts_run_over_the_observability_window() {
        let config = breaker();
        let mut gate = Gate::new(EndpointHealth::default());
        gate.observe(&config, false, 1_000);
        gate.observe(&config, true, 2_000);
        assert_eq!(gate.health.failure_rate(), Some(0.5));
        // A minute later the window starts again.
        gate.observe(&config, true, 61_000);
        assert_eq!(gate.health.failure_rate(), Some(0.0));
        assert_eq!(gate.health.success_count, 1);
    }

    #[test]
    fn a_rate_limit_lets_its_burst_through_then_says_how_long_to_wait() {
        let mut endpoint: Endpoint = serde_json::from_value(serde_json::json!({
            "uid": "e", "project_id": "p", "url": "http://x/", "name": "e", "secrets": [],
            "advanced_signatures": true, "status": "active", "http_timeout": 10,
            "content_type": "application/json", "created_at": "", "updated_at": "",
            "rate_limit": 3, "rate_limit_duration": 60
        }))
        .unwrap();
        let mut gate = Gate::new(EndpointHealth::default());
        for _ in 0..3 {
            assert!(gate.rate_allows(&endpoint).is_ok());
        }
        let wait = gate.rate_allows(&endpoint).unwrap_err();
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // A changed limit starts afresh; none is no limit.
        endpoint.rate_limit = 0;
        for _ in 0..100 {
            assert!(gate.rate_allows(&endpoint).is_ok());
        }
    }
}
