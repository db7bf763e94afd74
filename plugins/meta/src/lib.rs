//! Meta webhooks (Facebook Pages, Instagram, WhatsApp Cloud API, Messenger): the Graph API
//! webhooks product, whose secret is the app secret.
//!
//! - A `POST` event carries `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>`
//!   over the raw body. Only this SHA-256 header is checked: the legacy `X-Hub-Signature`
//!   (SHA-1) that Meta also sends is ignored, and alone it is not enough. Meta sends no
//!   timestamp, so there is no replay window.
//! - The verification request, `GET ?hub.mode=subscribe&hub.verify_token=<t>&hub.challenge=<c>`,
//!   is answered `200` (`text/plain`) with `<c>` only if `<t>` equals the `verify_token`
//!   field (compared in constant time) and `<c>` is 1 to 128 ASCII letters or digits (Meta
//!   sends a number). Anything else is rejected.
//! - The event type is the body's `object` (`page`, `instagram`, `whatsapp_business_account`,
//!   ...), followed by `.` and the first entry's first change `field` when there is one
//!   (`whatsapp_business_account.messages`, `page.feed`). Meta sends no delivery id, so there
//!   is no idempotency key.
//!
//! The handshake is not a signing oracle: it signs nothing, it only echoes a challenge, and
//! only to a caller that knows the verify token. The challenge is bounded and alphanumeric,
//! so the echo cannot carry markup, and the answer says `nosniff`.

use inlet_sdk::crypto::{HashAlgorithm, constant_time_eq};
use inlet_sdk::{Alphabet, Config, ConfigField, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-hub-signature-256",
    prefix: "sha256=",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

/// The longest challenge echoed. Meta's are 9 to 10 digit numbers.
const MAX_CHALLENGE_LEN: usize = 128;
/// The host refuses longer event types.
const MAX_EVENT_TYPE_LEN: usize = 1024;

pub struct Meta;

impl Plugin for Meta {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "meta",
            env!("CARGO_PKG_VERSION"),
            "Meta (Facebook, Instagram, WhatsApp) webhooks, signed with X-Hub-Signature-256",
        )
        .secret()
        .field(ConfigField {
            name: "verify_token".into(),
            description: "the Verify Token entered with the callback URL in the App Dashboard"
                .into(),
            required: true,
            secret: true,
        })
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        if request.method.eq_ignore_ascii_case("GET") {
            return verification(request, config);
        }
        // Any active secret (rotation) may have signed it.
        if let Err(reject) = SIGNATURE.verify(request, config, &request.body) {
            return reject;
        }
        let event_type = event_type(request);
        Verdict::accept().with_event_type(event_type.as_deref())
    }
}

/// The subscription check Meta makes when the callback URL is saved.
fn verification(request: &Request, config: &Config) -> Verdict {
    let Some(expected) = config.get("verify_token") else {
        return Verdict::misconfigured("verify_token");
    };
    if request.query_param("hub.mode").as_deref() != Some("subscribe") {
        return Verdict::reject("not a subscription verification");
    }
    let token = request.query_param("hub.verify_token").unwrap_or_default();
    if !constant_time_eq(token.as_bytes(), expected.as_bytes()) {
        return Verdict::reject("invalid verify token");
    }
    match request.query_param("hub.challenge") {
        Some(challenge) if is_challenge(&challenge) => {
            Verdict::respond(200, "text/plain", challenge)
                .with_header("X-Content-Type-Options", "nosniff")
        }
        _ => Verdict::reject("malformed challenge"),
    }
}

/// 1 to [`MAX_CHALLENGE_LEN`] ASCII letters or digits.
fn is_challenge(challenge: &str) -> bool {
    (1..=MAX_CHALLENGE_LEN).contains(&challenge.len())
        && challenge.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `object`, or `object.field` from `entry[0].changes[0].field`; `None` when the body is not
/// such an object (it is still genuine, so it is accepted with the default type).
fn event_type(request: &Request) -> Option<String> {
    let [object, field] = request.json_values(["/object", "/entry/0/changes/0/field"]);
    let object = object?;
    let event_type = match field {
        Some(field) => format!("{object}.{field}"),
        None => object,
    };
    (!event_type.is_empty() && event_type.len() <= MAX_EVENT_TYPE_LEN).then_some(event_type)
}

/// Meta's side, for the conformance cases: it signs the body with the app secret.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Meta {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Meta);

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        Request::post(body).with_header("X-Hub-Signature-256", &signature)
    }

    fn config() -> Config {
        Config::with_secret("app-secret").with_field("verify_token", "tok")
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Meta>(include_str!("../cases.json"));
    }

    #[test]
    fn an_independent_signature_verifies() {
        let body = r#"{"object":"page","entry":[{"id":"1","changes":[{"field":"feed"}]}]}"#;
        assert_eq!(
            Meta::verify(&signed(body, "app-secret"), &config()),
            Verdict::accept().with_event_type("page.feed")
        );
    }

    #[test]
    fn event_types_from_the_body() {
        let cases = [
            (r#"{"object":"instagram","entry":[]}"#, Some("instagram")),
            (
                r#"{"object":"page","entry":[{"messaging":[{}]}]}"#,
                Some("page"),
            ),
            (
                r#"{"object":"page","entry":[{"changes":[]}]}"#,
                Some("page"),
            ),
            (
                r#"{"object":"page","entry":[{"changes":"x"}]}"#,
                Some("page"),
            ),
            (r#"{"entry":[]}"#, None),
            (r#"{"object":1}"#, Some("1")),
            ("[]", None),
            ("not json", None),
            (r#"{"object":""}"#, None),
        ];
        for (body, expected) in cases {
            assert_eq!(
                event_type(&Request::post(body)).as_deref(),
                expected,
                "{body}"
            );
        }
        let long = format!(r#"{{"object":"{}"}}"#, "a".repeat(MAX_EVENT_TYPE_LEN + 1));
        assert_eq!(event_type(&Request::post(long)), None);
    }

    #[test]
    fn the_verification_echoes_only_bounded_alphanumeric_challenges() {
        let ok = |challenge: &str| {
            let query =
                format!("hub.mode=subscribe&hub.verify_token=tok&hub.challenge={challenge}");
            Meta::verify(&Request::get(&query), &config())
        };
        assert!(matches!(
            ok("1158201444"),
            Verdict::Respond { status: 200, .. }
        ));
        assert!(matches!(
            ok(&"a".repeat(MAX_CHALLENGE_LEN)),
            Verdict::Respond { .. }
        ));
        for bad in [
            "",
            "a%20b",
            "%3Cscript%3E",
            "a-b",
            &"a".repeat(MAX_CHALLENGE_LEN + 1),
        ] {
            assert_eq!(ok(bad), Verdict::reject("malformed challenge"), "{bad}");
        }
        let wrong = Request::get("hub.mode=subscribe&hub.verify_token=toke&hub.challenge=1");
        assert_eq!(
            Meta::verify(&wrong, &config()),
            Verdict::reject("invalid verify token")
        );
        let mode = Request::get("hub.mode=unsubscribe&hub.verify_token=tok&hub.challenge=1");
        assert!(!matches!(
            Meta::verify(&mode, &config()),
            Verdict::Respond { .. }
        ));
        let no_token = Config::with_secret("app-secret");
        let request = Request::get("hub.mode=subscribe&hub.verify_token=&hub.challenge=1");
        assert_eq!(
            Meta::verify(&request, &no_token),
            Verdict::misconfigured("verify_token")
        );
    }

    #[test]
    fn fails_closed_and_rejects_malformed_headers() {
        let request = signed("{}", "app-secret");
        assert_eq!(
            Meta::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
        for header in ["", "sha256=", "sha256=zz", "sha1=00", "00"] {
            let request = Request::post("{}").with_header("X-Hub-Signature-256", header);
            assert_eq!(
                Meta::verify(&request, &config()),
                Verdict::reject("invalid signature")
            );
        }
    }
}
