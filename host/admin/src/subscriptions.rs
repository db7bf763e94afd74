//! `/api/v1/projects/{project_id}/subscriptions`: which events go to which endpoint, in
//! Convoy's JSON. Managed by the admin or the project's API key. A filter is compiled when
//! it is written, so that one that could never be evaluated is refused with where it is
//! wrong; `test_filter` tries a filter on a sample request without storing anything.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use inlet_model::delivery::{Endpoint, FilterConfig, RetryStrategy, StrategyType, Subscription};
use inlet_model::{Project, ProjectType, Source, new_uid, now_rfc3339};
use inlet_route::filter::{Filter, TestFilter};
use inlet_web::{ApiError, ApiPath, ListPage, ok};
use serde::{Deserialize, Serialize};

use crate::{Admin, Seconds, field, invalid, nullable};

/// Convoy's subscription body. Every field is optional so that the same shape serves a
/// create and a partial update. Convoy's fields Inlet does not use (`function`,
/// `alert_config`, `rate_limit_config`, `delivery_mode`) are accepted and ignored.
#[derive(Deserialize)]
struct SubscriptionInput {
    name: Option<String>,
    endpoint_id: Option<String>,
    source_id: Option<String>,
    filter_config: Option<FilterConfig>,
    /// `null` removes it: the project's strategy applies again.
    #[serde(default, deserialize_with = "nullable")]
    retry_config: Option<Option<RetryInput>>,
}

/// Convoy's `retry_config`: `duration` in seconds or as a duration string (`"10s"`), or
/// `interval_seconds`. What is left out is the project's.
#[derive(Deserialize)]
struct RetryInput {
    #[serde(rename = "type")]
    kind: Option<StrategyType>,
    duration: Option<Seconds>,
    interval_seconds: Option<u64>,
    retry_count: Option<u64>,
}

impl RetryInput {
    fn over(self, project: &RetryStrategy) -> RetryStrategy {
        RetryStrategy {
            kind: self.kind.unwrap_or(project.kind),
            duration: self
                .duration
                .map(|Seconds(s)| s)
                .or(self.interval_seconds)
                .unwrap_or(project.duration),
            retry_count: self.retry_count.unwrap_or(project.retry_count),
        }
    }
}

pub async fn create(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let input: SubscriptionInput = state.body(&headers, body).await?;
    let now = now_rfc3339();
    let mut subscription = Subscription {
        uid: new_uid(),
        name: String::new(),
        kind: "api".into(),
        project_id: project.uid.clone(),
        source_id: String::new(),
        endpoint_id: String::new(),
        filter_config: FilterConfig::default(),
        retry_config: None,
        created_at: now.clone(),
        updated_at: now,
    };
    apply(&mut subscription, input, &project);
    let (endpoint, source) = validate(&state, &project, &subscription)?;
    // Refused (404) when the project or the endpoint was deleted since they were read.
    state.store.create_subscription(&subscription).await?;
    tracing::info!(project = %project.uid, subscription = %subscription.uid, "subscription created");
    Ok(ok(
        StatusCode::CREATED,
        "Subscription created successfully",
        SubscriptionView::new(subscription, Some(endpoint), source),
    ))
}

/// Every subscription of the project (not paged, as endpoints), filtered by `endpointId`
/// (repeatable: any of them) and `name` (a part of it, in any case).
pub async fn list(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let (mut endpoint_ids, mut name) = (Vec::new(), None);
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "endpointId" if !value.is_empty() => endpoint_ids.push(value.into_owned()),
            "name" if !value.is_empty() => name = Some(value.to_lowercase()),
            _ => {}
        }
    }
    let (subscriptions, endpoints, sources) = state
        .scan(move |store| {
            Ok((
                store.subscriptions(&project.uid)?,
                store.endpoints(&project.uid)?,
                store.sources(&project.uid)?,
            ))
        })
        .await?;
    let endpoints: HashMap<String, Endpoint> =
        endpoints.into_iter().map(|e| (e.uid.clone(), e)).collect();
    let sources: HashMap<String, Source> =
        sources.into_iter().map(|s| (s.uid.clone(), s)).collect();
    let views = subscriptions
        .into_iter()
        .filter(|s| endpoint_ids.is_empty() || endpoint_ids.contains(&s.endpoint_id))
        .filter(|s| {
            name.as_ref()
                .is_none_or(|n| s.name.to_lowercase().contains(n))
        })
        .map(|s| {
            let endpoint = endpoints.get(&s.endpoint_id).cloned();
            let source = sources.get(&s.source_id).cloned();
            SubscriptionView::new(s, endpoint, source)
        })
        .collect();
    Ok(ok(
        StatusCode::OK,
        "Subscriptions fetched successfully",
        ListPage::whole(views),
    ))
}

pub async fn get(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, subscription_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let subscription = find(&state, &project.uid, &subscription_id)?;
    let endpoint = state
        .store
        .endpoint(&project.uid, &subscription.endpoint_id)?;
    let source = match subscription.source_id.as_str() {
        "" => None,
        source => state.store.source(&project.uid, source)?,
    };
    Ok(ok(
        StatusCode::OK,
        "Subscription fetched successfully",
        SubscriptionView::new(subscription, endpoint, source),
    ))
}

/// A partial update: fields present replace the stored ones, and the result is checked as a
/// new subscription is.
pub async fn update(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, subscription_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let mut subscription = find(&state, &project.uid, &subscription_id)?;
    let input: SubscriptionInput = state.body(&headers, body).await?;
    apply(&mut subscription, input, &project);
    let (endpoint, source) = validate(&state, &project, &subscription)?;
    subscription.updated_at = now_rfc3339();
    // Refused (404) when it or its endpoint was deleted since they were read.
    state.store.update_subscription(&subscription).await?;
    tracing::info!(project = %project.uid, subscription = %subscription.uid, "subscription updated");
    Ok(ok(
        StatusCode::OK,
        "Subscription updated successfully",
        SubscriptionView::new(subscription, Some(endpoint), source),
    ))
}

pub async fn delete(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, subscription_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let subscription = find(&state, &project.uid, &subscription_id)?;
    state.store.delete_subscription(&subscription).await?;
    tracing::info!(project = %project.uid, subscription = %subscription.uid, "subscription deleted");
    Ok(ok(StatusCode::OK, "Subscription deleted successfully", ()))
}

#[derive(Serialize)]
struct TestResult {
    is_match: bool,
}

/// Convoy's `test_filter`: whether the request given passes the schema given. A schema a
/// subscription would refuse is refused here too, located under `schema`.
pub async fn test_filter(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    super::projects::authorized(&state, &headers, &project_id)?;
    let test: TestFilter = state.body(&headers, body).await?;
    let is_match = test.is_match().map_err(invalid)?;
    Ok(ok(
        StatusCode::OK,
        "Filter tested successfully",
        TestResult { is_match },
    ))
}

fn find(state: &Admin, project_id: &str, subscription_id: &str) -> Result<Subscription, ApiError> {
    state
        .store
        .subscription(project_id, subscription_id)?
        .ok_or_else(|| ApiError::not_found("subscription"))
}

fn apply(subscription: &mut Subscription, input: SubscriptionInput, project: &Project) {
    if let Some(name) = input.name {
        subscription.name = name.trim().to_string();
    }
    if let Some(endpoint) = input.endpoint_id {
        subscription.endpoint_id = endpoint.trim().to_string();
    }
    if let Some(source) = input.source_id {
        subscription.source_id = source.trim().to_string();
    }
    if let Some(filter) = input.filter_config {
        subscription.filter_config = filter;
    }
    if let Some(retry) = input.retry_config {
        subscription.retry_config = retry.map(|r| r.over(&project.config.strategy));
    }
}

/// Checks a subscription as it is to be stored; returns its endpoint and source.
fn validate(
    state: &Admin,
    project: &Project,
    subscription: &Subscription,
) -> Result<(Endpoint, Option<Source>), ApiError> {
    if subscription.name.is_empty() {
        return Err(field("name", "a subscription needs a name"));
    }
    if subscription.endpoint_id.is_empty() {
        return Err(field("endpoint_id", "required: the endpoint events go to"));
    }
    let endpoint = state
        .store
        .endpoint(&project.uid, &subscription.endpoint_id)?
        .ok_or_else(|| {
            ApiError::bad_request(
                "unknown_endpoint",
                format!(
                    "endpoint_id: the project has no endpoint {:?}",
                    subscription.endpoint_id
                ),
            )
        })?;
    let source = match (project.kind, subscription.source_id.as_str()) {
        (ProjectType::Incoming, "") => {
            return Err(field(
                "source_id",
                "required in an incoming project: the source whose events it receives",
            ));
        }
        (ProjectType::Incoming, source_id) => Some(
            state
                .store
                .source(&project.uid, source_id)?
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "unknown_source",
                        format!("source_id: the project has no source {source_id:?}"),
                    )
                })?,
        ),
        (ProjectType::Outgoing, "") => None,
        (ProjectType::Outgoing, _) => {
            return Err(field(
                "source_id",
                "an outgoing project's subscription names no source: its events are \
                 addressed to endpoints (endpoint_id, owner_id, or a broadcast)",
            ));
        }
    };
    Filter::compile(&subscription.filter_config).map_err(invalid)?;
    if let Some(retry) = &subscription.retry_config {
        retry.validate("retry_config").map_err(invalid)?;
    }
    Ok((endpoint, source))
}

/// A subscription as Convoy answers it, with its endpoint and source (Inlet also keeps
/// `endpoint_id` and `source_id` as fields).
#[derive(Serialize)]
struct SubscriptionView {
    #[serde(flatten)]
    subscription: Subscription,
    endpoint_metadata: Option<Endpoint>,
    source_metadata: Option<Source>,
}

impl SubscriptionView {
    fn new(subscription: Subscription, endpoint: Option<Endpoint>, source: Option<Source>) -> Self {
        Self {
            subscription,
            endpoint_metadata: endpoint,
            source_metadata: source.map(redact_provider_config),
        }
    }
}

/// A source's secrets are masked by their types, except the plugin config fields a plugin
/// declares secret, which the sources API masks by asking the plugin; here every plugin
/// config field is masked (fail closed): the source itself shows the others.
fn redact_provider_config(mut source: Source) -> Source {
    source
        .provider_config
        .values_mut()
        .for_each(|value| value.make_secret());
    source
}
