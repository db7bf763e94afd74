//! `/api/v1/projects/{project_id}/endpoints`: where a project's events are delivered, in
//! Convoy's JSON. Managed by the admin or the project's API key. An endpoint's URL (or a
//! `kafka` endpoint's brokers) is checked against the operator's outbound policy when it is
//! written (and again by the delivery worker: on every connection, or for Kafka before it
//! produces); its secrets are generated when none is given,
//! rotated only through `expire_secret`, and always masked on the way out.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use inlet_delivery::connect::validate_endpoint_url;
use inlet_delivery::kafka::{check_brokers, validate_key};
use inlet_delivery::signature::{
    ConvoyScheme, MAX_LIVE_SECRETS, SignatureForm, generate_secret, validate_secret,
};
use inlet_model::delivery::{
    CircuitState, Endpoint, EndpointAuthentication, EndpointHealth, EndpointSecret, EndpointStatus,
    EndpointType, FilterConfig, KafkaDestination, SignatureFormat, Subscription,
};
use inlet_model::{ProjectType, REDACTED, Secret, new_uid, now_rfc3339, rfc3339};
use inlet_store::Store;
use inlet_web::{ApiError, ApiPath, ListPage, ok};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Admin, Seconds, field, invalid, nullable};

/// Convoy's default attempt timeout, in seconds.
const DEFAULT_HTTP_TIMEOUT: u64 = 10;
/// Longest attempt timeout accepted: five minutes.
const MAX_HTTP_TIMEOUT: u64 = 300;
/// Longest time a rotated-out secret may stay valid: a year.
const MAX_EXPIRATION_HOURS: i64 = 24 * 365;
const DEFAULT_CONTENT_TYPE: &str = "application/json";
/// Headers an endpoint's `authentication` may not set: they frame the request itself.
const RESERVED_HEADERS: [&str; 5] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
];

/// Convoy's endpoint body. Every field is optional so that the same shape serves a create
/// (where what is required is checked) and a partial update. Convoy's fields Inlet does not
/// use (`support_email`, `slack_webhook_url`, …) are accepted and ignored.
#[derive(Deserialize)]
struct EndpointInput {
    url: Option<String>,
    name: Option<String>,
    secret: Option<Secret>,
    owner_id: Option<String>,
    description: Option<String>,
    advanced_signatures: Option<bool>,
    signature_format: Option<SignatureFormat>,
    http_timeout: Option<Seconds>,
    rate_limit: Option<u64>,
    rate_limit_duration: Option<Seconds>,
    content_type: Option<String>,
    ordered: Option<bool>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    authentication: Option<Option<EndpointAuthentication>>,
    is_disabled: Option<bool>,
    /// `http` (the default) or `kafka`.
    #[serde(rename = "type")]
    kind: Option<EndpointType>,
    /// A `kafka` endpoint's topic, replaced whole; a password echoed back redacted keeps the
    /// stored one.
    kafka: Option<KafkaDestination>,
}

pub async fn create(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let mut input: EndpointInput = state.body(&headers, body).await?;
    let now = now_rfc3339();
    let mut endpoint = Endpoint {
        uid: new_uid(),
        project_id: project.uid,
        owner_id: String::new(),
        url: String::new(),
        name: String::new(),
        secrets: Vec::new(),
        advanced_signatures: true,
        signature_format: SignatureFormat::default(),
        description: String::new(),
        status: EndpointStatus::Active,
        http_timeout: DEFAULT_HTTP_TIMEOUT,
        rate_limit: 0,
        rate_limit_duration: 0,
        ordered: false,
        content_type: DEFAULT_CONTENT_TYPE.into(),
        authentication: None,
        kind: EndpointType::Http,
        kafka: None,
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    if input.kind.unwrap_or_default() == EndpointType::Http && input.url.is_none() {
        return Err(field("url", "required: where the events are sent"));
    }
    if input.name.is_none() {
        return Err(field("name", "an endpoint needs a name"));
    }
    let secret = input.secret.take();
    apply(&mut endpoint, input, &state)?;
    check_kafka_brokers(&endpoint, &state).await?;
    let value = new_secret(&endpoint, secret)?;
    endpoint.secrets.push(EndpointSecret {
        uid: new_uid(),
        value,
        expires_at: None,
        created_at: now.clone(),
        updated_at: now,
    });
    // As Convoy: an outgoing project's endpoint receives every event addressed to it until
    // its subscriptions say otherwise. An incoming project's subscription names a source,
    // so none is made for it.
    let subscription =
        (project.kind == ProjectType::Outgoing).then(|| default_subscription(&endpoint));
    // Refused (404) when the project was deleted since it was read.
    state
        .store
        .create_endpoint(&endpoint, subscription.as_ref())
        .await?;
    tracing::info!(project = %endpoint.project_id, endpoint = %endpoint.uid, "endpoint created");
    Ok(ok(
        StatusCode::CREATED,
        "Endpoint created successfully",
        view(&state, endpoint)?,
    ))
}

/// Every endpoint of the project (endpoints are few: not paged), filtered by `q` (a part of
/// the name, in any case) and `ownerId`.
pub async fn list(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let (mut name, mut owner) = (None, None);
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        let value = Some(value.into_owned()).filter(|v| !v.is_empty());
        match key.as_ref() {
            "q" => name = value.map(|v| v.to_lowercase()),
            "ownerId" => owner = value,
            _ => {}
        }
    }
    let endpoints = state
        .scan(move |store| {
            let mut endpoints = store.endpoints(&project.uid)?;
            endpoints.retain(|e| {
                name.as_ref()
                    .is_none_or(|n| e.name.to_lowercase().contains(n))
                    && owner.as_ref().is_none_or(|o| e.owner_id == *o)
            });
            endpoints
                .into_iter()
                .map(|endpoint| EndpointView::read(store, endpoint))
                .collect::<inlet_store::Result<Vec<_>>>()
        })
        .await?;
    Ok(ok(
        StatusCode::OK,
        "Endpoints fetched successfully",
        ListPage::whole(endpoints),
    ))
}

pub async fn get(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, endpoint_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let endpoint = authorized(&state, &headers, &project_id, &endpoint_id)?;
    Ok(ok(
        StatusCode::OK,
        "Endpoint fetched successfully",
        view(&state, endpoint)?,
    ))
}

/// A partial update: fields present replace the stored ones. The secrets are kept (they
/// change only through `expire_secret`); an authentication header echoed back redacted
/// keeps the stored value.
pub async fn update(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, endpoint_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut endpoint = authorized(&state, &headers, &project_id, &endpoint_id)?;
    let mut input: EndpointInput = state.body(&headers, body).await?;
    // A client echoing the secret it configured (or its redaction) changes nothing; any
    // other is a rotation, which has its own route so that receivers get a grace period.
    if let Some(secret) = input.secret.take()
        && !secret.is_empty()
        && secret.expose() != REDACTED
        && !endpoint.secrets.iter().any(|s| s.value == secret)
    {
        return Err(field(
            "secret",
            "an update keeps the endpoint's secrets; rotate them with \
             PUT …/endpoints/{endpoint_id}/expire_secret",
        ));
    }
    apply(&mut endpoint, input, &state)?;
    check_kafka_brokers(&endpoint, &state).await?;
    // A new signature format must still read the secrets that sign.
    let form = secret_form(&endpoint);
    let now = OffsetDateTime::now_utc();
    for (i, secret) in endpoint.secrets.iter().enumerate() {
        if is_live(secret, now) {
            validate_secret(&form, &secret.value, &format!("secrets[{i}]")).map_err(|e| {
                field(
                    &e.field,
                    format!(
                        "{} for signature_format {:?}; rotate to such a secret with \
                         PUT …/expire_secret first",
                        e.message, endpoint.signature_format
                    ),
                )
            })?;
        }
    }
    save(&state, endpoint, "Endpoint updated successfully").await
}

pub async fn delete(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, endpoint_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let endpoint = authorized(&state, &headers, &project_id, &endpoint_id)?;
    // Its subscriptions go with it; its queued deliveries are discarded when their turn
    // comes.
    state.store.delete_endpoint(&endpoint).await?;
    state.metrics.forget_endpoint(&endpoint.uid);
    tracing::info!(project = %endpoint.project_id, endpoint = %endpoint.uid, "endpoint deleted");
    Ok(ok(StatusCode::OK, "Endpoint deleted successfully", ()))
}

/// Convoy's rotation body: the new secret (generated when absent) and how many hours the
/// current one stays valid beside it.
#[derive(Deserialize)]
struct ExpireSecretInput {
    secret: Option<Secret>,
    expiration: Option<i64>,
}

/// Rotates the signing secret: the current one expires in `expiration` hours (0: now) and
/// the new one signs from now on, so that until then requests carry a signature by each
/// and receivers can switch without losing a delivery. Secrets past their expiry are
/// dropped.
pub async fn expire_secret(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, endpoint_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut endpoint = authorized(&state, &headers, &project_id, &endpoint_id)?;
    let input: ExpireSecretInput = state.body(&headers, body).await?;
    let hours = input
        .expiration
        .filter(|h| (0..=MAX_EXPIRATION_HOURS).contains(h))
        .ok_or_else(|| {
            field(
                "expiration",
                format!(
                    "required: the hours from 0 to {MAX_EXPIRATION_HOURS} the current secret \
                     stays valid (0 expires it now)"
                ),
            )
        })?;
    let now = OffsetDateTime::now_utc();
    let now_text = rfc3339(now);
    if let Some(current) = endpoint
        .secrets
        .iter_mut()
        .rev()
        .find(|s| s.expires_at.is_none())
    {
        current.expires_at = Some(rfc3339(now + time::Duration::hours(hours)));
        current.updated_at = now_text.clone();
    }
    endpoint.secrets.retain(|s| is_live(s, now));
    if endpoint.secrets.len() >= MAX_LIVE_SECRETS {
        return Err(ApiError::bad_request(
            "too_many_secrets",
            format!(
                "the endpoint has {} live secrets, the most it may sign with; wait until one \
                 expires, or expire the current one now (\"expiration\": 0)",
                endpoint.secrets.len()
            ),
        ));
    }
    let value = new_secret(&endpoint, input.secret)?;
    endpoint.secrets.push(EndpointSecret {
        uid: new_uid(),
        value,
        expires_at: None,
        created_at: now_text.clone(),
        updated_at: now_text,
    });
    save(&state, endpoint, "Endpoint secret expired successfully").await
}

/// Convoy's toggle: an active endpoint is paused (its deliveries wait), a paused one
/// resumes. An inactive endpoint is neither: activate it.
pub async fn pause(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, endpoint_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut endpoint = authorized(&state, &headers, &project_id, &endpoint_id)?;
    endpoint.status = match endpoint.status {
        EndpointStatus::Active => EndpointStatus::Paused,
        EndpointStatus::Paused => EndpointStatus::Active,
        EndpointStatus::Inactive => {
            return Err(ApiError::bad_request(
                "endpoint_inactive",
                "the endpoint is inactive, so it cannot be paused; activate it with \
                 POST …/endpoints/{endpoint_id}/activate",
            ));
        }
    };
    save(&state, endpoint, "Endpoint status updated successfully").await
}

pub async fn activate(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, endpoint_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut endpoint = authorized(&state, &headers, &project_id, &endpoint_id)?;
    endpoint.status = EndpointStatus::Active;
    save(&state, endpoint, "Endpoint activated successfully").await
}

/// Stores a changed endpoint and answers it.
async fn save(state: &Admin, mut endpoint: Endpoint, message: &str) -> Result<Response, ApiError> {
    endpoint.updated_at = now_rfc3339();
    // Refused (404) when the endpoint was deleted since it was read: never brought back.
    state.store.update_endpoint(&endpoint).await?;
    tracing::info!(project = %endpoint.project_id, endpoint = %endpoint.uid, "endpoint updated");
    Ok(ok(StatusCode::OK, message, view(state, endpoint)?))
}

/// An endpoint as answered: with its circuit and recent counts (Convoy's fields; `null`
/// before its first attempt).
#[derive(Serialize)]
struct EndpointView {
    #[serde(flatten)]
    endpoint: Endpoint,
    cb_state: Option<CircuitState>,
    failure_rate: Option<f64>,
    success_count: Option<u64>,
    failure_count: Option<u64>,
}

impl EndpointView {
    fn read(store: &Store, endpoint: Endpoint) -> inlet_store::Result<Self> {
        let health = store.endpoint_health(&endpoint.project_id, &endpoint.uid)?;
        Ok(Self {
            cb_state: health.as_ref().map(|h| h.cb_state),
            failure_rate: health.as_ref().and_then(EndpointHealth::failure_rate),
            success_count: health.as_ref().map(|h| h.success_count),
            failure_count: health.as_ref().map(|h| h.failure_count),
            endpoint,
        })
    }
}

fn view(state: &Admin, endpoint: Endpoint) -> Result<EndpointView, ApiError> {
    Ok(EndpointView::read(&state.store, endpoint)?)
}

/// The endpoint, for the admin or the holder of its project's API key.
fn authorized(
    state: &Admin,
    headers: &HeaderMap,
    project_id: &str,
    endpoint_id: &str,
) -> Result<Endpoint, ApiError> {
    state
        .auth
        .require_project(&state.store, headers, project_id)?;
    find(state, project_id, endpoint_id)
}

fn find(state: &Admin, project_id: &str, endpoint_id: &str) -> Result<Endpoint, ApiError> {
    state
        .store
        .endpoint(project_id, endpoint_id)?
        .ok_or_else(|| ApiError::not_found("endpoint"))
}

/// Checks each field given and applies it.
/// Most requests a rate limit may allow per window, and the longest window.
const MAX_RATE_LIMIT: u64 = 1_000_000;
const MAX_RATE_LIMIT_DURATION: u64 = 86_400;

/// A limit needs its window (Convoy's `0` is no limit); both are bounded.
fn check_rate_limit(endpoint: &Endpoint) -> Result<(), ApiError> {
    if endpoint.rate_limit > MAX_RATE_LIMIT {
        return Err(field(
            "rate_limit",
            format!("must be at most {MAX_RATE_LIMIT} requests (0: no limit)"),
        ));
    }
    if endpoint.rate_limit_duration > MAX_RATE_LIMIT_DURATION {
        return Err(field(
            "rate_limit_duration",
            format!("must be at most {MAX_RATE_LIMIT_DURATION} seconds"),
        ));
    }
    if endpoint.rate_limit > 0 && endpoint.rate_limit_duration == 0 {
        return Err(field(
            "rate_limit_duration",
            "required with rate_limit: the seconds in which at most rate_limit requests are sent",
        ));
    }
    Ok(())
}

fn apply(endpoint: &mut Endpoint, input: EndpointInput, state: &Admin) -> Result<(), ApiError> {
    let kind = input.kind.unwrap_or(endpoint.kind);
    if let Some(url) = input.url {
        let url = url.trim();
        if kind == EndpointType::Kafka {
            // An endpoint read back and sent again has `"url": ""`.
            if !url.is_empty() {
                return Err(field(
                    "url",
                    "a kafka endpoint has no URL: its messages go to kafka.topic_name",
                ));
            }
        } else {
            validate_endpoint_url(url, &state.policy).map_err(invalid)?;
            endpoint.url = url.to_string();
        }
    }
    apply_destination(endpoint, kind, input.kafka)?;
    if let Some(name) = input.name {
        let name = name.trim();
        if name.is_empty() {
            return Err(field("name", "an endpoint needs a name"));
        }
        endpoint.name = name.to_string();
    }
    if let Some(owner) = input.owner_id {
        endpoint.owner_id = owner.trim().to_string();
    }
    if let Some(description) = input.description {
        endpoint.description = description;
    }
    if let Some(advanced) = input.advanced_signatures {
        endpoint.advanced_signatures = advanced;
    }
    if let Some(format) = input.signature_format {
        endpoint.signature_format = format;
    }
    if let Some(Seconds(timeout)) = input.http_timeout {
        if !(1..=MAX_HTTP_TIMEOUT).contains(&timeout) {
            return Err(field(
                "http_timeout",
                format!("must be from 1 to {MAX_HTTP_TIMEOUT} seconds"),
            ));
        }
        endpoint.http_timeout = timeout;
    }
    if let Some(limit) = input.rate_limit {
        endpoint.rate_limit = limit;
    }
    if let Some(Seconds(duration)) = input.rate_limit_duration {
        endpoint.rate_limit_duration = duration;
    }
    check_rate_limit(endpoint)?;
    if let Some(ordered) = input.ordered {
        endpoint.ordered = ordered;
    }
    if let Some(content_type) = input.content_type {
        let content_type = content_type.trim();
        if HeaderValue::from_str(content_type).is_err() {
            return Err(field("content_type", "must be a valid Content-Type value"));
        }
        endpoint.content_type = match content_type {
            "" => DEFAULT_CONTENT_TYPE.into(),
            given => given.into(),
        };
    }
    if let Some(authentication) = input.authentication {
        endpoint.authentication = match authentication {
            Some(mut given) => {
                let stored = endpoint.authentication.as_ref();
                check_authentication(&mut given, stored)?;
                Some(given)
            }
            None => None,
        };
    }
    match input.is_disabled {
        Some(true) => endpoint.status = EndpointStatus::Inactive,
        // Enabling does not resume a paused endpoint: that is `pause`'s toggle.
        Some(false) if endpoint.status == EndpointStatus::Inactive => {
            endpoint.status = EndpointStatus::Active;
        }
        _ => {}
    }
    Ok(())
}

/// Sets the endpoint's type, and checks that it has what that type sends to: a URL, or a
/// Kafka topic (whose brokers are judged by the outbound policy afterwards, in
/// [`check_kafka_brokers`]).
fn apply_destination(
    endpoint: &mut Endpoint,
    kind: EndpointType,
    kafka: Option<KafkaDestination>,
) -> Result<(), ApiError> {
    endpoint.kind = kind;
    match kind {
        EndpointType::Http => {
            if kafka.is_some() {
                return Err(field("kafka", "only for an endpoint of type kafka"));
            }
            endpoint.kafka = None;
            if endpoint.url.is_empty() {
                return Err(field("url", "required: where the events are sent"));
            }
        }
        EndpointType::Kafka => {
            if let Some(mut given) = kafka {
                if let Some(auth) = &mut given.auth {
                    let stored = endpoint.kafka.as_ref().and_then(|k| k.auth.as_ref());
                    auth.password
                        .restore_from(stored.map(|a| &a.password), "kafka.auth.password")
                        .map_err(invalid)?;
                }
                for broker in &mut given.brokers {
                    *broker = broker.trim().to_string();
                }
                given.validate().map_err(invalid)?;
                validate_key(&given.key).map_err(invalid)?;
                endpoint.kafka = Some(given);
            }
            if endpoint.kafka.is_none() {
                return Err(field(
                    "kafka",
                    "required for an endpoint of type kafka: {\"brokers\": [\"host:port\"], \
                     \"topic_name\": \"…\"}",
                ));
            }
            endpoint.url.clear();
        }
    }
    Ok(())
}

/// A `kafka` endpoint's brokers, resolved and judged by the outbound policy as an HTTP
/// endpoint's URL is (librdkafka's later connections are checked when it produces: see
/// `inlet_delivery::kafka`).
async fn check_kafka_brokers(endpoint: &Endpoint, state: &Admin) -> Result<(), ApiError> {
    match &endpoint.kafka {
        Some(kafka) => check_brokers(kafka, &state.policy).await.map_err(invalid),
        None => Ok(()),
    }
}

/// Convoy's `api_key` authentication: a header sent with every request. A value echoed
/// back redacted keeps the stored one.
fn check_authentication(
    given: &mut EndpointAuthentication,
    stored: Option<&EndpointAuthentication>,
) -> Result<(), ApiError> {
    if given.kind != "api_key" {
        return Err(field(
            "authentication.type",
            "must be api_key (a header sent with every request)",
        ));
    }
    let key = &mut given.api_key;
    key.header_name = key.header_name.trim().to_string();
    let name = HeaderName::from_bytes(key.header_name.as_bytes()).map_err(|_| {
        field(
            "authentication.api_key.header_name",
            "must be a valid HTTP header name",
        )
    })?;
    if RESERVED_HEADERS.contains(&name.as_str()) {
        return Err(field(
            "authentication.api_key.header_name",
            format!("{name} is set by Inlet for each request; use another header"),
        ));
    }
    let value_field = "authentication.api_key.header_value";
    key.header_value
        .restore_from(stored.map(|s| &s.api_key.header_value), value_field)
        .map_err(invalid)?;
    if key.header_value.is_empty() || HeaderValue::from_str(key.header_value.expose()).is_err() {
        return Err(field(
            value_field,
            "must be a non-empty header value (no line breaks)",
        ));
    }
    Ok(())
}

/// A secret given for the endpoint, checked for its signature format, or a new random one.
fn new_secret(endpoint: &Endpoint, given: Option<Secret>) -> Result<Secret, ApiError> {
    let form = secret_form(endpoint);
    match given.filter(|s| !s.is_empty()) {
        Some(mut secret) => {
            // The redaction stands for no stored secret here: refused, never kept as one.
            secret.restore_from(None, "secret").map_err(invalid)?;
            validate_secret(&form, &secret, "secret").map_err(invalid)?;
            Ok(secret)
        }
        None => Ok(generate_secret(&form)),
    }
}

/// The form an endpoint's secrets are checked and generated for. Only the format bears on
/// secrets (not the project's hash and encoding), so Convoy's default scheme stands in.
fn secret_form(endpoint: &Endpoint) -> SignatureForm {
    match endpoint.signature_format {
        SignatureFormat::Convoy => SignatureForm::ConvoyAdvanced(ConvoyScheme::default()),
        SignatureFormat::StandardWebhooks => SignatureForm::StandardWebhooks,
    }
}

/// Whether a secret still signs: it has no expiry, or one after `now`.
fn is_live(secret: &EndpointSecret, now: OffsetDateTime) -> bool {
    secret
        .expires_at
        .as_deref()
        .is_none_or(|at| OffsetDateTime::parse(at, &Rfc3339).is_ok_and(|at| at > now))
}

/// The subscription an outgoing project's new endpoint gets: every event addressed to it.
fn default_subscription(endpoint: &Endpoint) -> Subscription {
    Subscription {
        uid: new_uid(),
        name: format!("{}-subscription", endpoint.name),
        kind: "api".into(),
        project_id: endpoint.project_id.clone(),
        source_id: String::new(),
        endpoint_id: endpoint.uid.clone(),
        filter_config: FilterConfig::default(),
        retry_config: None,
        created_at: endpoint.created_at.clone(),
        updated_at: endpoint.created_at.clone(),
    }
}
