//! A broker source's state and last error: shown on the source in the API, exported as
//! metrics, and logged once per change rather than once per attempt.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::metrics::Metrics;
use crate::model::now_rfc3339;

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
}

impl State {
    const ALL: [State; 4] = [
        State::Starting,
        State::Running,
        State::Retrying,
        State::Stopped,
    ];

    fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Retrying => "retrying",
            State::Stopped => "stopped",
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
    view: Mutex<StatusView>,
}

impl Status {
    pub fn new(source: &str, metrics: Arc<Metrics>) -> Self {
        metrics.broker_state(source, State::Starting.name(), &names());
        Self {
            source: source.to_string(),
            metrics,
            view: Mutex::new(StatusView {
                state: State::Starting,
                since: now_rfc3339(),
                last_error: None,
                last_error_at: None,
            }),
        }
    }

    pub fn running(&self) {
        if self.set(State::Running, None) {
            tracing::info!(source = %self.source, "pub_sub source is consuming");
        }
    }

    /// Records a failure; logs it only when it differs from the last one.
    pub fn failing(&self, error: &str) {
        self.metrics.broker_error(&self.source);
        if self.set(State::Retrying, Some(error)) {
            tracing::warn!(source = %self.source, error, "pub_sub source failing; retrying with backoff");
        }
    }

    pub fn stopped(&self) {
        self.set(State::Stopped, None);
        self.metrics.forget_broker_source(&self.source, &names());
    }

    pub fn view(&self) -> StatusView {
        self.view.lock().expect("status lock").clone()
    }

    /// Moves to `state` (recording `error`); true when the state or the error changed.
    fn set(&self, state: State, error: Option<&str>) -> bool {
        let mut view = self.view.lock().expect("status lock");
        let new_error = error.is_some_and(|e| view.last_error.as_deref() != Some(e));
        if let Some(error) = error {
            view.last_error = Some(error.to_string());
            view.last_error_at = Some(now_rfc3339());
        }
        if view.state == state {
            return new_error;
        }
        view.state = state;
        view.since = now_rfc3339();
        self.metrics
            .broker_state(&self.source, state.name(), &names());
        true
    }
}

fn names() -> [&'static str; 4] {
    State::ALL.map(State::name)
}
