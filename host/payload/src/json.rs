//! JSON bodies parsed into clear errors: the message names the field at fault, or the syntax.

use inlet_model::Invalid;
use serde::de::DeserializeOwned;

/// Parses JSON; the error names the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Invalid> {
    // Tracking the path slows every parse down; only a body that fails is parsed again
    // with it, to name the field.
    serde_json::from_slice(bytes).map_err(|error| invalid_json::<T>(bytes, error))
}

fn invalid_json<T: DeserializeOwned>(bytes: &[u8], error: serde_json::Error) -> Invalid {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let message = match serde_path_to_error::deserialize::<_, T>(de) {
        Err(e) if !(e.inner().is_syntax() || e.inner().is_eof() || e.path().to_string() == ".") => {
            format!("{}: {}", e.path(), e.inner())
        }
        // A syntax error, or trailing characters after a valid body.
        _ => format!("the body is not valid JSON: {error}"),
    };
    Invalid::new("invalid_json", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Order {
        #[allow(dead_code)]
        count: u32,
    }

    fn error(body: &str) -> String {
        let e = parse::<Order>(body.as_bytes()).unwrap_err();
        assert_eq!(e.code, "invalid_json");
        e.message
    }

    #[test]
    fn json_errors_name_the_field_or_the_syntax() {
        assert_eq!(parse::<Order>(b" {\"count\": 3} ").unwrap().count, 3);
        assert!(error("{\"count\": -1}").starts_with("count: invalid value"));
        assert!(error("{\"count\": ").starts_with("the body is not valid JSON: EOF"));
        assert!(error("{}").starts_with("the body is not valid JSON: missing field `count`"));
        assert_eq!(
            error("{\"count\": 3} {}"),
            "the body is not valid JSON: trailing characters at line 1 column 14"
        );
    }
}
