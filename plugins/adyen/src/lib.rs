//! Adyen standard webhooks (notifications) with HMAC signatures enabled; the source's secret
//! is the webhook's HMAC key as Adyen shows it, in hex.
//!
//! - No header is checked: Adyen signs inside the JSON body. For every
//!   `notificationItems[].NotificationRequestItem`, `additionalData.hmacSignature` must be
//!   `base64(HMAC-SHA256(hex-decoded key, "<pspReference>:<originalReference>:
//!   <merchantAccountCode>:<merchantReference>:<amount.value>:<amount.currency>:<eventCode>:
//!   <success>"))`, absent fields as empty strings and numbers in decimal. All items must
//!   verify (with any active key: rotation); a body with no item, more than [`MAX_ITEMS`], or
//!   an item without a signature is rejected.
//! - Adyen signs no timestamp (`eventDate` is not in the signed string), so there is no replay
//!   window: a replay is caught by the idempotency key.
//! - No handshake: every verdict is an accept or a reject, so nothing the plugin answers signs
//!   anything.
//! - Event type: the first item's `eventCode` (`AUTHORISATION`, `REFUND`, ...). Idempotency
//!   key: the first item's `<pspReference>:<eventCode>`, which Adyen keeps when it retries a
//!   notification (it sends one item per notification today; older batched notifications are
//!   keyed by their first item).
//! - Only the HMAC of standard notification items is supported, not the `HmacSignature`
//!   header of Adyen's platform (Balance/Management) webhooks, which signs the whole body.

use inlet_sdk::crypto::{constant_time_eq, hmac_sha256};
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, base64_decode, hex_decode};
use serde::Deserialize;
use serde_json::Value;

/// The host refuses event types and keys longer than this.
const MAX_LEN: usize = 1024;
/// Adyen batched at most a few items; the bound keeps the work per request small.
const MAX_ITEMS: usize = 100;

pub struct Adyen;

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "notificationItems")]
    items: Vec<Wrapper>,
}

#[derive(Deserialize)]
struct Wrapper {
    #[serde(rename = "NotificationRequestItem")]
    item: Item,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Item {
    psp_reference: Option<Value>,
    original_reference: Option<Value>,
    merchant_account_code: Option<Value>,
    merchant_reference: Option<Value>,
    amount: Option<Amount>,
    event_code: Option<Value>,
    success: Option<Value>,
    additional_data: Option<AdditionalData>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Amount {
    value: Option<Value>,
    currency: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AdditionalData {
    hmac_signature: Option<String>,
}

/// A signed field as Adyen writes it into the string: absent or null is empty, a number in
/// decimal; `None` for an object or array, which no signed field can be.
fn text(value: &Option<Value>) -> Option<String> {
    match value {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(_) => None,
    }
}

impl Item {
    /// The string Adyen signs for this item.
    fn signed_string(&self) -> Option<String> {
        let amount = self.amount.as_ref();
        let fields = [
            text(&self.psp_reference)?,
            text(&self.original_reference)?,
            text(&self.merchant_account_code)?,
            text(&self.merchant_reference)?,
            text(&amount.and_then(|a| a.value.clone()))?,
            text(&amount.and_then(|a| a.currency.clone()))?,
            text(&self.event_code)?,
            text(&self.success)?,
        ];
        Some(fields.join(":"))
    }
}

impl Plugin for Adyen {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "adyen",
            env!("CARGO_PKG_VERSION"),
            "Adyen standard webhooks, each notification item signed with additionalData.hmacSignature",
        )
        .secret()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        // Adyen shows the HMAC key in hex; the HMAC is keyed with its bytes.
        let keys: Vec<Vec<u8>> = config.secrets().filter_map(hex_decode).collect();
        if keys.is_empty() {
            return Verdict::reject("plugin misconfigured: secret must be the hex HMAC key");
        }
        let Ok(notification) = serde_json::from_slice::<Notification>(&request.body) else {
            return Verdict::reject("body is not an Adyen notification");
        };
        let items: Vec<&Item> = notification.items.iter().map(|w| &w.item).collect();
        if items.is_empty() || items.len() > MAX_ITEMS {
            return Verdict::reject("unexpected number of notification items");
        }
        for item in &items {
            let Some(signature) = item
                .additional_data
                .as_ref()
                .and_then(|d| d.hmac_signature.as_deref())
            else {
                return Verdict::reject("missing signature");
            };
            let genuine = match (base64_decode(signature), item.signed_string()) {
                (Some(signature), Some(signed)) => keys
                    .iter()
                    .any(|key| constant_time_eq(&signature, &hmac_sha256(key, signed.as_bytes()))),
                _ => false,
            };
            if !genuine {
                return Verdict::reject("invalid signature");
            }
        }
        let first = items[0];
        let event_code = first.event_code.as_ref().and_then(Value::as_str);
        let psp_reference = first.psp_reference.as_ref().and_then(Value::as_str);
        let key = match (psp_reference, event_code) {
            (Some(psp), Some(code)) => Some(format!("{psp}:{code}")),
            _ => None,
        };
        Verdict::accept()
            .with_event_type(event_code.filter(|c| c.len() <= MAX_LEN))
            .with_idempotency_key(key.as_deref().filter(|k| k.len() <= MAX_LEN))
    }
}

/// Adyen's side, for the conformance cases: it signs every `NotificationRequestItem` of the
/// JSON body with the hex-decoded HMAC key and writes the signature into the item's
/// `additionalData.hmacSignature`. A key that is not hex, or a body that is not a
/// notification, is left as it is.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Adyen {
    fn sign(request: &mut Request, config: &Config) {
        let Some(key) = config.secret().and_then(hex_decode) else {
            return;
        };
        let Ok(mut body) = serde_json::from_slice::<Value>(&request.body) else {
            return;
        };
        let Some(items) = body
            .get_mut("notificationItems")
            .and_then(Value::as_array_mut)
        else {
            return;
        };
        for wrapper in items {
            let Some(item) = wrapper
                .get_mut("NotificationRequestItem")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            // Adyen's signed string: the fields joined with ':', absent ones empty.
            let field = |value: Option<&Value>| match value {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                _ => String::new(),
            };
            let amount = item.get("amount");
            let signed = [
                field(item.get("pspReference")),
                field(item.get("originalReference")),
                field(item.get("merchantAccountCode")),
                field(item.get("merchantReference")),
                field(amount.and_then(|a| a.get("value"))),
                field(amount.and_then(|a| a.get("currency"))),
                field(item.get("eventCode")),
                field(item.get("success")),
            ]
            .join(":");
            let signature = inlet_sdk::base64_encode(&hmac_sha256(&key, signed.as_bytes()));
            let data = item
                .entry("additionalData")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(data) = data.as_object_mut() {
                data.insert("hmacSignature".into(), signature.into());
            }
        }
        request.body = body.to_string().into_bytes();
    }
}

inlet_sdk::export_plugin!(Adyen);

#[cfg(test)]
mod tests {
    use super::*;

    /// Adyen's published key and the item of adyen-php-api-library's HmacSignatureTest.
    const KEY: &str = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00";
    const SIGNATURE: &str = "Ny9gS2veKo5E4w8/OL6xz1/wvT/hYkAXy1xNc/QvO4I=";

    fn item(signature: Option<&str>, value: &str) -> String {
        let extra = signature.map_or(String::new(), |s| {
            format!(r#""additionalData":{{"hmacSignature":"{s}"}},"#)
        });
        format!(
            r#"{{"NotificationRequestItem":{{{extra}"amount":{{"currency":"EUR","value":{value}}},"eventCode":"AUTHORISATION","merchantAccountCode":"TestMerchant","merchantReference":"TestPayment-1407325143704","pspReference":"7914073381342284","success":"true"}}}}"#
        )
    }

    fn body(items: &[String]) -> String {
        format!(
            r#"{{"live":"false","notificationItems":[{}]}}"#,
            items.join(",")
        )
    }

    /// Signs an item's fields as Adyen does (for building cases by hand).
    fn adyen_hmac(key_hex: &str, signed: &str) -> String {
        inlet_sdk::base64_encode(&hmac_sha256(
            &hex_decode(key_hex).unwrap(),
            signed.as_bytes(),
        ))
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Adyen>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        assert_eq!(Adyen::describe().name, "adyen");
    }

    #[test]
    fn the_signed_string_matches_adyens_published_example() {
        let signed =
            "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true";
        assert_eq!(adyen_hmac(KEY, signed), SIGNATURE);
    }

    #[test]
    fn the_signer_signs_as_adyens_published_example() {
        use inlet_sdk::conformance::Signer;
        let mut request = Request::post(body(&[item(None, "1130")]));
        Adyen::sign(&mut request, &Config::with_secret(KEY));
        let signed: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            signed["notificationItems"][0]["NotificationRequestItem"]["additionalData"]["hmacSignature"],
            SIGNATURE
        );
    }

    #[test]
    fn every_item_must_verify() {
        let config = Config::with_secret(KEY);
        let good = item(Some(SIGNATURE), "1130");
        let expected = Verdict::accept()
            .with_event_type("AUTHORISATION")
            .with_idempotency_key("7914073381342284:AUTHORISATION");
        let request = Request::post(body(&[good.clone(), good.clone()]));
        assert_eq!(Adyen::verify(&request, &config), expected);
        let tampered = item(Some(SIGNATURE), "1");
        let request = Request::post(body(&[good.clone(), tampered]));
        assert_eq!(
            Adyen::verify(&request, &config),
            Verdict::reject("invalid signature")
        );
        let unsigned = item(None, "1130");
        let request = Request::post(body(&[good.clone(), unsigned]));
        assert_eq!(
            Adyen::verify(&request, &config),
            Verdict::reject("missing signature")
        );
        let too_many = vec![good; MAX_ITEMS + 1];
        assert!(!Adyen::verify(&Request::post(body(&too_many)), &config).is_accept());
    }

    #[test]
    fn malformed_bodies_and_fields_are_rejected() {
        let config = Config::with_secret(KEY);
        for body in [
            String::new(),
            "{}".into(),
            r#"{"notificationItems":[]}"#.into(),
            r#"{"notificationItems":{}}"#.into(),
            body(&[item(Some(SIGNATURE), r#"{"x":1}"#)]),
            body(&[item(Some("not base64!"), "1130")]),
        ] {
            assert!(
                !Adyen::verify(&Request::post(body.clone()), &config).is_accept(),
                "{body}"
            );
        }
    }

    #[test]
    fn the_key_must_be_hex() {
        let request = Request::post(body(&[item(Some(SIGNATURE), "1130")]));
        assert_eq!(
            Adyen::verify(&request, &Config::with_secret("not hex")),
            Verdict::reject("plugin misconfigured: secret must be the hex HMAC key")
        );
        assert_eq!(
            Adyen::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
