//! A broker source's state and last error: shown on the source in the API, exported as
//! metrics, and logged once per change rather than once per attempt (a failure that keeps
//! coming back, once a minute).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use inlet_metrics::Metrics;
use inlet_model::now_rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Connecting and joining; nothing consumed yet.
    Starting,
    /// Consuming.
    Running,
    /// The broker, topic or credentials failed; retrying with backoff.
    Retrying,
    /// Disabled or shut down.
    Stopped,
    /// Not started: its configuration is refused (a destination outside the operator's
    /// allow-list, say); `last_error` says why. Fixed by updating the source or the list.
    Refused,
}

impl State {
    const ALL: [State; 5] = [
        State::Starting,
        State::Running,
        State::Retrying,
        State::Stopped,
        State::Refused,
    ];

    fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Retrying => "retrying",
            State::Stopped => "stopped",
            State::Refused => "refused",
        }
    }
}

/// The API representation, under a source's `status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub state: State,
    /// When the source entered this state.
    pub since: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
}

impl StatusView {
    /// A source with no consumers: disabled.
    pub fn stopped() -> Self {
        Self {
            state: State::Stopped,
            since: String::new(),
            last_error: None,
            last_error_at: None,
        }
    }
}

pub struct Status {
    source: String,
    metrics: Arc<Metrics>,
    inner: Mutex<Inner>,
}

struct Inner {
    view: StatusView,
    /// The last failure logged, and when: the same one again is logged at most every
    /// [`REPEAT_LOG_AFTER`], however often the source flips between failing and consuming
    /// (one worker of several failing, a broker that drops connections now and then).
    logged_failure: Option<(String, Instant)>,
    /// A failure was logged and recovery from it was not.
    recovery_owed: bool,
}

/// Most of a client library's error text that reaches the log.
const MAX_DETAIL: usize = 1024;

/// How often one failure, repeating, is logged again.
const REPEAT_LOG_AFTER: Duration = Duration::from_secs(60);

impl Status {
    pub fn new(source: &str, metrics: Arc<Metrics>) -> Self {
        metrics.broker_state(source, State::Starting.name(), &names());
        Self {
            source: source.to_string(),
            metrics,
            inner: Mutex::new(Inner {
                view: StatusView {
                    state: State::Starting,
                    since: now_rfc3339(),
                    last_error: None,
                    last_error_at: None,
                },
                logged_failure: None,
                recovery_owed: false,
            }),
        }
    }

    pub fn running(&self) {
        let mut inner = self.lock();
        let started = inner.view.state == State::Starting;
        if self.set(&mut inner.view, State::Running, None) && (started || inner.recovery_owed) {
            inner.recovery_owed = false;
            tracing::info!(source = %self.source, "pub_sub source is consuming");
        }
    }

    /// Records a failure; logs it when it differs from the last one logged, or when that
    /// was logged over a minute ago.
    pub fn failing(&self, error: &str) {
        self.metrics.broker_error(&self.source);
        let mut inner = self.lock();
        self.set(&mut inner.view, State::Retrying, Some(error));
        let repeated = inner
            .logged_failure
            .as_ref()
            .is_some_and(|(logged, at)| logged == error && at.elapsed() < REPEAT_LOG_AFTER);
        if !repeated {
            inner.logged_failure = Some((error.to_string(), Instant::now()));
            inner.recovery_owed = true;
            tracing::warn!(source = %self.source, error, "pub_sub source failing; retrying with backoff");
        }
    }

    /// The source is not started, and says why.
    pub fn refused(&self, reason: &str) {
        let mut inner = self.lock();
        self.set(&mut inner.view, State::Refused, Some(reason));
        tracing::warn!(source = %self.source, reason, "pub_sub source refused; not started");
    }

    /// Logs the whole text of a broker client's error, at debug and bounded: it may carry
    /// what a remote server answered, which the status (a bounded summary) never shows.
    pub fn log_detail(&self, failure: &str, detail: impl std::fmt::Display) {
        let mut detail = detail.to_string();
        if detail.len() > MAX_DETAIL {
            let mut end = MAX_DETAIL;
            while !detail.is_char_boundary(end) {
                end -= 1;
            }
            detail.truncate(end);
            detail.push('…');
        }
        tracing::debug!(source = %self.source, failure, detail, "pub_sub client error");
    }

    pub fn stopped(&self) {
        let mut inner = self.lock();
        self.set(&mut inner.view, State::Stopped, None);
        self.metrics.forget_broker_source(&self.source, &names());
    }

    pub fn view(&self) -> StatusView {
        self.lock().view.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("status lock")
    }

    /// Moves to `state` (recording `error`); true when the state changed.
    fn set(&self, view: &mut StatusView, state: State, error: Option<&str>) -> bool {
        if let Some(error) = error {
            view.last_error = Some(error.to_string());
            view.last_error_at = Some(now_rfc3339());
        }
        if view.state == state {
            return false;
        }
        view.state = state;
        view.since = now_rfc3339();
        self.metrics
            .broker_state(&self.source, state.name(), &names());
        true
    }
}

fn names() -> [&'static str; 5] {
    State::ALL.map(State::name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines logged through `tracing` while `f` runs.
    fn logged(f: impl FnOnce()) -> Vec<String> {
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines().map(String::from).collect()
    }

    #[test]
    fn a_failure_that_keeps_coming_back_is_logged_once_a_minute_not_per_flip() {
        let status = Status::new("s1", Arc::new(Metrics::default()));
        let lines = logged(|| {
            status.running();
            for _ in 0..100 {
                status.failing("broker 1 down");
                status.running();
            }
            status.failing("authentication failed");
            status.running();
            status.lock().logged_failure.as_mut().unwrap().1 =
                Instant::now().checked_sub(REPEAT_LOG_AFTER).unwrap();
            status.failing("authentication failed");
        });
        let said: Vec<_> = lines
            .iter()
            .map(|line| {
                if line.contains("WARN") && line.contains("failing") {
                    "failing"
                } else if line.contains("INFO") && line.contains("consuming") {
                    "consuming"
                } else {
                    "other"
                }
            })
            .collect();
        assert_eq!(
            said,
            [
                "consuming", // started
                "failing",   // broker 1 down, once for 100 flips
                "consuming",
                "failing", // another error
                "consuming",
                "failing", // the same error, a minute later
            ],
            "{lines:#?}"
        );
        let view = status.view();
        assert_eq!(view.state, State::Retrying);
        assert_eq!(view.last_error.as_deref(), Some("authentication failed"));
    }
}
