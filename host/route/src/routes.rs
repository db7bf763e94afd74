//! An event's routes: the subscriptions it matches, each with the endpoint it goes to and the
//! retry schedule its delivery gets. Computed from a project's subscriptions and endpoints,
//! compiled once per change of them ([`ProjectRoutes`]), for every event before it is stored.

use std::collections::HashMap;

use inlet_model::delivery::{Endpoint, EndpointStatus, RetryStrategy, Subscription};
use inlet_model::{Event, Project, ProjectType};
use serde_json::Value;

use crate::filter::{EventParts, Filter};

/// Where one event goes through one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub subscription_id: String,
    pub endpoint_id: String,
    pub strategy: RetryStrategy,
    /// The endpoint is inactive: the delivery is stored `Discarded`, never sent.
    pub discarded: bool,
}

struct Compiled {
    uid: String,
    source_id: String,
    endpoint_id: String,
    filter: Filter,
    strategy: RetryStrategy,
}

struct Target {
    owner_id: String,
    status: EndpointStatus,
}

/// A project's subscriptions, compiled, and its endpoints, as routing needs them.
pub struct ProjectRoutes {
    kind: ProjectType,
    /// The project's strategy, for meta events (they have no subscription).
    strategy: RetryStrategy,
    subscriptions: Vec<Compiled>,
    endpoints: HashMap<String, Target>,
}

impl ProjectRoutes {
    /// Compiles the subscriptions (each was checked when written; one that no longer
    /// compiles is logged and routes nothing, so that its events show as unrouted).
    pub fn new(project: &Project, endpoints: &[Endpoint], subscriptions: &[Subscription]) -> Self {
        let compiled = subscriptions
            .iter()
            .filter_map(|s| match Filter::compile(&s.filter_config) {
                Ok(filter) => Some(Compiled {
                    uid: s.uid.clone(),
                    source_id: s.source_id.clone(),
                    endpoint_id: s.endpoint_id.clone(),
                    filter,
                    strategy: s.retry_config.unwrap_or(project.config.strategy),
                }),
                Err(e) => {
                    tracing::error!(subscription = %s.uid, error = %e, "a stored subscription's filter does not compile; it receives nothing");
                    None
                }
            })
            .collect();
        let endpoints = endpoints
            .iter()
            .map(|e| {
                let target = Target {
                    owner_id: e.owner_id.clone(),
                    status: e.status,
                };
                (e.uid.clone(), target)
            })
            .collect();
        Self {
            kind: project.kind,
            strategy: project.config.strategy,
            subscriptions: compiled,
            endpoints,
        }
    }

    /// The routes of an event of this project. Incoming projects: the subscriptions of its
    /// source (or of every source, when a subscription names none). Outgoing projects: of
    /// the endpoint it names, of every endpoint of the owner it names, or, naming neither
    /// (a broadcast), every subscription. Each must also match the event's type and filter.
    pub fn routes(&self, event: &Event) -> Vec<Route> {
        if event.is_meta_event {
            return self.meta_route(event).into_iter().collect();
        }
        let candidates: Vec<&Compiled> = self
            .subscriptions
            .iter()
            .filter(|s| self.addressed(s, event) && s.filter.receives_type(&event.event_type))
            .collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        // The body is parsed only for a filter that looks at it.
        let body = if candidates.iter().any(|s| s.filter.is_conditional()) {
            serde_json::from_str(event.data.get()).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let parts = EventParts::new(
            &event.headers,
            &body,
            &event.url_query_params,
            &event.url_path,
        );
        candidates
            .into_iter()
            .filter(|s| !s.filter.is_conditional() || s.filter.matches(&event.event_type, &parts))
            .filter_map(|s| {
                let target = self.endpoints.get(&s.endpoint_id)?;
                Some(Route {
                    subscription_id: s.uid.clone(),
                    endpoint_id: s.endpoint_id.clone(),
                    strategy: s.strategy,
                    discarded: target.status == EndpointStatus::Inactive,
                })
            })
            .collect()
    }

    /// A meta event goes to the endpoint it names, whatever the subscriptions say.
    fn meta_route(&self, event: &Event) -> Option<Route> {
        let endpoint_id = event.endpoint_id.as_ref()?;
        let target = self.endpoints.get(endpoint_id)?;
        Some(Route {
            subscription_id: String::new(),
            endpoint_id: endpoint_id.clone(),
            strategy: self.strategy,
            discarded: target.status == EndpointStatus::Inactive,
        })
    }

    fn addressed(&self, subscription: &Compiled, event: &Event) -> bool {
        match self.kind {
            ProjectType::Incoming => {
                subscription.source_id.is_empty() || subscription.source_id == event.source_id
            }
            ProjectType::Outgoing => match (&event.endpoint_id, &event.owner_id) {
                (Some(endpoint), _) => subscription.endpoint_id == *endpoint,
                (None, Some(owner)) => self
                    .endpoints
                    .get(&subscription.endpoint_id)
                    .is_some_and(|target| target.owner_id == *owner),
                (None, None) => true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn project(kind: &str) -> Project {
        serde_json::from_value(json!({
            "uid": "p", "name": "p", "type": kind, "created_at": "", "updated_at": "",
            "config": {"strategy": {"type": "exponential", "duration": 3, "retry_count": 4}}
        }))
        .unwrap()
    }

    fn endpoint(uid: &str, owner: &str, status: &str) -> Endpoint {
        serde_json::from_value(json!({
            "uid": uid, "project_id": "p", "owner_id": owner, "url": "http://x/", "name": uid,
            "secrets": [], "advanced_signatures": true, "status": status, "http_timeout": 10,
            "content_type": "application/json", "created_at": "", "updated_at": ""
        }))
        .unwrap()
    }

    fn subscription(uid: &str, endpoint: &str, source: &str, filter: Value) -> Subscription {
        serde_json::from_value(json!({
            "uid": uid, "name": uid, "type": "api", "project_id": "p", "source_id": source,
            "endpoint_id": endpoint, "filter_config": filter, "created_at": "", "updated_at": ""
        }))
        .unwrap()
    }

    fn event(fields: Value) -> Event {
        let mut event = json!({"event_type": "paid", "project_id": "p", "data": {"amount": 120},
            "raw": "", "raw_encoding": "data"});
        event
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        serde_json::from_value(event).unwrap()
    }

    fn routed(routes: &ProjectRoutes, event: &Event) -> Vec<String> {
        routes
            .routes(event)
            .into_iter()
            .map(|r| r.subscription_id)
            .collect()
    }

    #[test]
    fn outgoing_events_go_to_their_endpoint_their_owner_or_everyone() {
        let endpoints = [
            endpoint("e1", "o1", "active"),
            endpoint("e2", "o1", "active"),
            endpoint("e3", "o2", "active"),
        ];
        let subscriptions = [
            subscription("s1", "e1", "", json!({})),
            subscription(
                "s2",
                "e2",
                "",
                json!({"filter": {"body": {"amount": {"$gte": 100}}}}),
            ),
            subscription("s3", "e3", "", json!({"event_types": ["refunded"]})),
        ];
        let routes = ProjectRoutes::new(&project("outgoing"), &endpoints, &subscriptions);
        assert_eq!(
            routed(&routes, &event(json!({"endpoint_id": "e1"}))),
            ["s1"]
        );
        assert_eq!(
            routed(&routes, &event(json!({"owner_id": "o1"}))),
            ["s1", "s2"]
        );
        assert_eq!(routed(&routes, &event(json!({}))), ["s1", "s2"]);
        let small = event(json!({"data": {"amount": 5}}));
        assert_eq!(routed(&routes, &small), ["s1"]);
        let refund = event(json!({"event_type": "refunded"}));
        assert_eq!(routed(&routes, &refund), ["s1", "s2", "s3"]);
        // The project's strategy, unless the subscription has its own.
        assert_eq!(routes.routes(&event(json!({})))[0].strategy.duration, 3);
    }

    #[test]
    fn incoming_events_go_to_their_sources_subscriptions_and_inactive_endpoints_discard() {
        let endpoints = [endpoint("e1", "", "active"), endpoint("e2", "", "inactive")];
        let mut own = subscription("s1", "e1", "src1", json!({}));
        own.retry_config = Some(RetryStrategy {
            duration: 7,
            ..RetryStrategy::default()
        });
        let subscriptions = [
            own,
            subscription("s2", "e1", "src2", json!({})),
            subscription("s3", "e2", "src1", json!({})),
            subscription("s4", "gone", "src1", json!({})),
        ];
        let routes = ProjectRoutes::new(&project("incoming"), &endpoints, &subscriptions);
        let got = routes.routes(&event(json!({"source_id": "src1"})));
        let summary: Vec<_> = got
            .iter()
            .map(|r| (r.subscription_id.as_str(), r.discarded, r.strategy.duration))
            .collect();
        assert_eq!(summary, [("s1", false, 7), ("s3", true, 3)]);
    }

    #[test]
    fn a_meta_event_goes_only_to_the_endpoint_it_names() {
        let endpoints = [endpoint("e1", "", "active"), endpoint("meta", "", "active")];
        let subscriptions = [subscription("s1", "e1", "", json!({}))];
        let routes = ProjectRoutes::new(&project("incoming"), &endpoints, &subscriptions);
        let meta = event(json!({"is_meta_event": true, "endpoint_id": "meta",
            "event_type": "endpoint.disabled"}));
        let got = routes.routes(&meta);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].endpoint_id, "meta");
        assert_eq!(got[0].subscription_id, "");
        assert_eq!(got[0].strategy.duration, 3);
        // Naming an endpoint that does not exist, it goes nowhere.
        let lost = event(json!({"is_meta_event": true, "endpoint_id": "gone"}));
        assert!(routes.routes(&lost).is_empty());
    }
}
