//! An SQS-compatible server for the tests: moto's server, a process on a free loopback
//! port, with IAM authentication on (`INITIAL_NO_AUTH_ACTION_COUNT`), so that wrong
//! credentials are refused as AWS refuses them. `scripts/setup.sh` installs it; the tests
//! find it through `INLET_MOTO_SERVER`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

pub const REGION: &str = "us-east-1";

/// The requests moto answers before it starts checking credentials: the IAM calls that
/// create the one user whose key the tests use.
const UNAUTHENTICATED_SETUP_CALLS: usize = 3;

pub struct Sqs {
    child: Child,
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_key: String,
    pub client: Client,
}

impl Drop for Sqs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sqs {
    pub async fn start() -> Self {
        let server = std::env::var("INLET_MOTO_SERVER").unwrap_or_else(|_| {
            panic!(
                "INLET_MOTO_SERVER is not set: the SQS tests need moto's server; \
                 run them through scripts/test.sh, which installs it"
            )
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env(
                "INITIAL_NO_AUTH_ACTION_COUNT",
                UNAUTHENTICATED_SETUP_CALLS.to_string(),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {server}: {e}"));
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut started = false;
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                started = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            started,
            "moto's server did not start listening on {endpoint}"
        );
        let (access_key_id, secret_key) = create_access_key(&endpoint).await;
        let client = client(&endpoint, &access_key_id, &secret_key);
        Self {
            child,
            endpoint,
            access_key_id,
            secret_key,
            client,
        }
    }

    /// Creates a queue whose messages come back `visibility_timeout` seconds after a
    /// receive that did not delete them; returns its URL.
    pub async fn create_queue(&self, name: &str, visibility_timeout: u32) -> String {
        self.client
            .create_queue()
            .queue_name(name)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_timeout.to_string(),
            )
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }

    /// Sends the bodies in batches of ten, each with a string attribute `trace-id` equal to
    /// its index.
    pub async fn send(&self, queue_url: &str, bodies: Vec<String>) {
        for (batch, chunk) in bodies.chunks(10).enumerate() {
            let entries = chunk.iter().enumerate().map(|(i, body)| {
                let trace_id = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value((batch * 10 + i).to_string())
                    .build()
                    .unwrap();
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .message_attributes("trace-id", trace_id)
                    .build()
                    .unwrap()
            });
            let sent = self
                .client
                .send_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries.collect()))
                .send()
                .await
                .unwrap();
            assert!(sent.failed.is_empty(), "{:?}", sent.failed);
        }
    }

    /// Messages in the queue: (visible, received and not yet deleted).
    pub async fn depth(&self, queue_url: &str) -> (u64, u64) {
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let count = |name| {
            attributes
                .get(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (
            count(QueueAttributeName::ApproximateNumberOfMessages),
            count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }
}

fn client(endpoint: &str, access_key_id: &str, secret_key: &str) -> Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            access_key_id,
            secret_key,
            None,
            None,
            "test",
        ))
        .build();
    Client::from_conf(config)
}

/// An IAM user allowed everything, and its access key, through moto's IAM Query API.
async fn create_access_key(endpoint: &str) -> (String, String) {
    let allow_all = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).to_string();
    let calls: [&[(&str, &str)]; UNAUTHENTICATED_SETUP_CALLS] = [
        &[("Action", "CreateUser"), ("UserName", "inlet")],
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "inlet"),
            ("PolicyName", "all"),
            ("PolicyDocument", &allow_all),
        ],
        &[("Action", "CreateAccessKey"), ("UserName", "inlet")],
    ];
    let http = HyperClient::builder(TokioExecutor::new()).build_http();
    let mut last = String::new();
    for params in calls {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .append_pair("Version", "2010-05-08")
            .finish();
        // moto routes a request to a service by the credential scope of its signature.
        let request = hyper::Request::post(format!("{endpoint}/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential=setup/20260101/{REGION}/iam/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = http.request(request).await.unwrap();
        let status = response.status();
        last = String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes())
            .into_owned();
        assert!(status.is_success(), "IAM setup failed: {status} {last}");
    }
    let tag = |name: &str| {
        let start = last.find(&format!("<{name}>")).unwrap() + name.len() + 2;
        let end = last.find(&format!("</{name}>")).unwrap();
        last[start..end].to_string()
    };
    (tag("AccessKeyId"), tag("SecretAccessKey"))
}

/// A `pub_sub` source of type sqs, in Convoy's JSON.
pub fn sqs_source(sqs: &Sqs, queue_name: &str, workers: u32) -> Value {
    json!({
        "name": "sqs",
        "type": "pub_sub",
        "pub_sub": {
            "type": "sqs",
            "workers": workers,
            "sqs": {
                "access_key_id": sqs.access_key_id,
                "secret_key": sqs.secret_key,
                "default_region": REGION,
                "queue_name": queue_name,
                "endpoint": sqs.endpoint,
            }
        }
    })
}
