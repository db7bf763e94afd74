//! Subscription filters: which events a subscription receives, in Convoy's filter language.
//!
//! A [`FilterConfig`] is what the API takes and stores (Convoy's `filter_config`). It is
//! checked once, when it is written, by [`Filter::compile`]; the compiled [`Filter`] is what
//! is evaluated for every event, and it cannot fail: every mistake a filter can hold is a
//! [`FilterError`] at write, naming its location (`filter_config.filter.body.amount.$gte`).
//!
//! # The language
//!
//! `event_types` lists the event types received (exact, case-sensitive); `"*"` among them, an
//! empty list or no list means every type. `filter` holds four documents, all of which must
//! hold: `headers`, `body`, `query` and `path`. An empty document holds for every event.
//!
//! A document maps field paths to conditions, all of which must hold:
//! - A path is dotted (`"a.b.c"`), and nesting is the same thing: `{"a": {"b": 1}}` is
//!   `{"a.b": 1}`. A segment is an object key, an array index (`items.0`), or `$`: any element
//!   of an array (`items.$.sku`, `orders.$.lines.$.sku`). A payload key that itself contains
//!   dots (`{"user.id": 5}`) is found by the same path as nested objects, as in Convoy, whose
//!   payloads are flattened before matching.
//! - A plain value (not an object) means equality, `$eq`.
//! - An object whose keys are operators tests the value there: `$eq $neq $gt $gte $lt $lte
//!   $in $nin $exist $regex`. Operators and further field names may be mixed in one object.
//! - `$or` and `$and` take a non-empty array of documents, relative to where they stand:
//!   `{"a": {"$or": [{"b": 1}, {"c": 2}]}}` tests `a.b` and `a.c`.
//!
//! A path can reach several values (through `$`) or none (a missing field). A positive
//! condition (`$eq $gt $gte $lt $lte $in $regex`) holds when it holds for one of them; for a
//! value that is an array, it also holds when it holds for one of its elements: `{"tags":
//! "vip"}` matches `{"tags": ["new", "vip"]}`, `{"scores": {"$gt": 5}}` matches `{"scores":
//! [1, 9]}`. The negations are exactly that, negations: `$neq` is "no value there is equal",
//! `$nin` "no value there is in the list", so both hold for a missing field. `$exist: true`
//! holds when the path reaches any value (`null` included), `$exist: false` when it reaches
//! none.
//!
//! Equality is JSON equality with numbers compared by value (`1` equals `1.0`). `$gt $gte $lt
//! $lte` compare numbers numerically and strings lexicographically (by code point); a value
//! of another type never satisfies them (false, not an error). `$in`/`$nin` take a list of
//! values, `$regex` a pattern in the `regex` crate's syntax that may match anywhere in a
//! string (anchor it with `^…$`); a value that is not a string never matches it.
//!
//! # What the four documents see
//!
//! - `body`: the event's `data`.
//! - `headers`: the event's headers, by lower-case name, each a list of its values (so a
//!   condition holds when it holds for one value). Names in a filter are case-insensitive.
//! - `query`: the URL query of the request, decoded, each name a list of its values
//!   (`?tag=a&tag=b` is `{"tag": ["a", "b"]}`). Names are case-sensitive, as in URLs.
//! - `path`: the URL path of the request as a list of its decoded segments: `/ingest/abc` is
//!   `["ingest", "abc"]`, so `{"1": "abc"}` tests the second segment and `{"$": "abc"}` any.
//!   REST API and broker events have no URL path: an empty list.
//!
//! Header, query and path values are strings, so a condition there that compares with
//! anything but a string could never hold, and is refused.
//!
//! # Bounds
//!
//! A filter has at most [`MAX_NODES`] JSON values, nests at most [`MAX_DEPTH`] deep, has
//! paths of at most [`MAX_PATH_SEGMENTS`] segments and at most [`MAX_REGEXES`] regular
//! expressions, each at most [`MAX_REGEX_PATTERN_BYTES`] long and small once compiled (the
//! `regex` crate matches in linear time). Evaluating one filter against one event takes at
//! most [`MAX_EVALUATION_STEPS`] steps: without `$` a condition costs a few steps, but a
//! wildcard visits every element of an array, and events are large (megabytes). A filter
//! that runs out of steps on an event does not match it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use inlet_model::delivery::null_as_empty;
pub use inlet_model::delivery::{FilterConfig, FilterSchema};
use inlet_model::{Invalid, MAX_EVENT_FIELD_BYTES};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

/// Most JSON values (objects, arrays and scalars) in one filter, all four documents together.
pub const MAX_NODES: usize = 1000;
/// Deepest nesting of objects and arrays in one document (the document itself is level 1).
pub const MAX_DEPTH: usize = 16;
/// Most segments in one field path, nesting and dots together.
pub const MAX_PATH_SEGMENTS: usize = 32;
/// Most entries in `event_types`.
pub const MAX_EVENT_TYPES: usize = 256;
/// Most `$regex` operators in one filter: each compiled one may hold up to
/// [`REGEX_SIZE_LIMIT`] + [`REGEX_DFA_SIZE_LIMIT`] of memory.
pub const MAX_REGEXES: usize = 16;
/// Longest `$regex` pattern, in bytes.
pub const MAX_REGEX_PATTERN_BYTES: usize = 1024;
/// Largest compiled program of one regex (`RegexBuilder::size_limit`).
pub const REGEX_SIZE_LIMIT: usize = 64 * 1024;
/// Largest lazy DFA cache of one regex (`RegexBuilder::dfa_size_limit`).
pub const REGEX_DFA_SIZE_LIMIT: usize = 256 * 1024;
/// Deepest nesting of groups and repetitions in one regex.
const REGEX_NEST_LIMIT: u32 = 32;
/// Most steps one evaluation may take: a step is one value visited on a path, one
/// comparison with one JSON value of an operand, or 64 bytes of a string given to a regex.
/// A few milliseconds at most.
pub const MAX_EVALUATION_STEPS: usize = 1_000_000;

const OPERATORS: &str = "$eq, $neq, $gt, $gte, $lt, $lte, $in, $nin, $exist, $regex, $or, $and";

/// Why a filter is refused: where (`filter_config.filter.body.amount.$gte`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub location: String,
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for FilterError {}

impl From<FilterError> for Invalid {
    fn from(e: FilterError) -> Self {
        Invalid::new("invalid_filter", e.to_string())
    }
}

/// A checked [`FilterConfig`], ready to evaluate.
#[derive(Debug, Clone)]
pub struct Filter {
    /// `None`: every event type.
    event_types: Option<BTreeSet<String>>,
    schema: CompiledSchema,
    /// Whether the schema has any condition: without one, an event's parts need not be
    /// prepared to match it.
    conditional: bool,
}

impl Filter {
    /// Checks a filter as it is written; the error names the first mistake found.
    pub fn compile(config: &FilterConfig) -> Result<Filter, FilterError> {
        let schema = &config.filter;
        Ok(Filter {
            event_types: compile_event_types(&config.event_types)?,
            schema: CompiledSchema::compile(
                [&schema.headers, &schema.body, &schema.query, &schema.path],
                &Loc::Key(&Loc::Root("filter_config"), "filter"),
                "headers",
            )?,
            conditional: [&schema.headers, &schema.body, &schema.query, &schema.path]
                .iter()
                .any(|document| !document.is_empty()),
        })
    }

    /// Whether an event of this type, with these parts, goes to the subscription.
    pub fn matches(&self, event_type: &str, parts: &EventParts) -> bool {
        self.receives_type(event_type) && self.schema.holds(parts)
    }

    /// Whether events of this type pass `event_types`.
    pub fn receives_type(&self, event_type: &str) -> bool {
        match &self.event_types {
            Some(types) => types.contains(event_type),
            None => true,
        }
    }

    /// Whether matching looks at an event's parts (headers, body, query, path) at all.
    pub fn is_conditional(&self) -> bool {
        self.conditional
    }
}

fn compile_event_types(types: &[String]) -> Result<Option<BTreeSet<String>>, FilterError> {
    let root = Loc::Key(&Loc::Root("filter_config"), "event_types");
    if types.len() > MAX_EVENT_TYPES {
        return Err(root.error(format!(
            "{} event types; a subscription lists at most {MAX_EVENT_TYPES}",
            types.len()
        )));
    }
    for (i, event_type) in types.iter().enumerate() {
        if event_type.is_empty() {
            return Err(Loc::Index(&root, i).error("an empty event type"));
        }
        if event_type.len() > MAX_EVENT_FIELD_BYTES {
            return Err(Loc::Index(&root, i).error(format!(
                "{} bytes; an event type has at most {MAX_EVENT_FIELD_BYTES}",
                event_type.len()
            )));
        }
    }
    if types.iter().any(|t| t == "*") {
        return Ok(None);
    }
    Ok(Some(types.iter().cloned().collect()))
}

/// What a filter sees of an event, prepared once per event for all its subscriptions.
#[derive(Debug, Clone)]
pub struct EventParts<'a> {
    headers: Value,
    body: &'a Value,
    query: Value,
    path: Value,
}

impl<'a> EventParts<'a> {
    /// An event's parts as Inlet stores them: its headers (name → values), its `data`
    /// parsed, its `url_query_params` (raw, without `?`) and its `url_path` (raw).
    pub fn new(
        headers: &BTreeMap<String, Vec<String>>,
        body: &'a Value,
        url_query: &str,
        url_path: &str,
    ) -> Self {
        let mut header_view = Map::new();
        for (name, values) in headers {
            push_values(
                &mut header_view,
                name.to_ascii_lowercase(),
                values.iter().cloned(),
            );
        }
        let mut query_view = Map::new();
        for pair in url_query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            push_values(
                &mut query_view,
                percent_decode(name, true),
                [percent_decode(value, true)],
            );
        }
        let path_view = url_path
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(|segment| Value::String(percent_decode(segment, false)))
            .collect();
        EventParts {
            headers: Value::Object(header_view),
            body,
            query: Value::Object(query_view),
            path: Value::Array(path_view),
        }
    }
}

fn push_values(
    view: &mut Map<String, Value>,
    name: String,
    values: impl IntoIterator<Item = String>,
) {
    let entry = view.entry(name).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(all) = entry {
        all.extend(values.into_iter().map(Value::String));
    }
}

/// URL percent-decoding; `+` is a space in a query. Bytes that do not form UTF-8 become
/// U+FFFD, and a `%` not followed by two hex digits stays as it is.
fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = match (byte, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&high), Some(&low)) => hex_digit(high).zip(hex_digit(low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                decoded.push(high << 4 | low);
                i += 3;
            }
            None => {
                decoded.push(if byte == b'+' && plus_is_space {
                    b' '
                } else {
                    byte
                });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Convoy's `POST …/subscriptions/test_filter` body: does this request pass this schema?
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFilter {
    pub request: TestRequest,
    /// With `header` for `headers`, as Convoy names it here.
    pub schema: FilterSchema,
}

/// A request to test a schema on. Header values may be strings or lists of strings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub header: Map<String, Value>,
    #[serde(default)]
    pub body: Value,
    #[serde(default)]
    pub query: Value,
    #[serde(default)]
    pub path: Value,
}

impl TestFilter {
    /// The answer's `is_match`; a schema that would be refused in a subscription is refused
    /// here too, located under `schema`.
    pub fn is_match(&self) -> Result<bool, FilterError> {
        let schema = &self.schema;
        let compiled = CompiledSchema::compile(
            [&schema.headers, &schema.body, &schema.query, &schema.path],
            &Loc::Root("schema"),
            "header",
        )?;
        let headers = self
            .request
            .header
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .collect();
        Ok(compiled.holds(&EventParts {
            headers: Value::Object(headers),
            body: &self.request.body,
            query: self.request.query.clone(),
            path: self.request.path.clone(),
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Headers,
    Body,
    Query,
    Path,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Headers => "header",
            Part::Body => "body",
            Part::Query => "query",
            Part::Path => "path",
        }
    }
}

/// The four documents, compiled; each a list of nodes that must all hold.
#[derive(Debug, Clone)]
struct CompiledSchema {
    headers: Vec<Node>,
    body: Vec<Node>,
    query: Vec<Node>,
    path: Vec<Node>,
}

impl CompiledSchema {
    /// `documents` in the order headers, body, query, path; `headers_key` is what the
    /// headers document is called in `root` (for locations).
    fn compile(
        documents: [&Map<String, Value>; 4],
        root: &Loc,
        headers_key: &str,
    ) -> Result<CompiledSchema, FilterError> {
        let [headers, body, query, path] = documents;
        let parts = [
            (Part::Headers, headers_key, headers),
            (Part::Body, "body", body),
            (Part::Query, "query", query),
            (Part::Path, "path", path),
        ];
        // Sizes first, so that compiling (recursive) only ever sees a bounded filter.
        let mut nodes = 0;
        for (_, key, document) in parts {
            measure_entries(document, &Loc::Key(root, key), 1, &mut nodes)?;
        }
        let mut compiler = Compiler {
            part: Part::Body,
            regexes: 0,
        };
        let mut compile = |(part, key, document): (Part, &str, &Map<String, Value>)| {
            compiler.part = part;
            compiler.document(document, &[], &Loc::Key(root, key))
        };
        let [headers, body, query, path] = parts;
        Ok(CompiledSchema {
            headers: compile(headers)?,
            body: compile(body)?,
            query: compile(query)?,
            path: compile(path)?,
        })
    }

    fn holds(&self, parts: &EventParts) -> bool {
        let mut budget = Budget {
            left: MAX_EVALUATION_STEPS,
        };
        let mut all = || -> Result<bool, Exhausted> {
            Ok(all_hold(&self.headers, &parts.headers, &mut budget)?
                && all_hold(&self.body, parts.body, &mut budget)?
                && all_hold(&self.query, &parts.query, &mut budget)?
                && all_hold(&self.path, &parts.path, &mut budget)?)
        };
        all().unwrap_or(false)
    }
}

fn measure_entries(
    document: &Map<String, Value>,
    loc: &Loc,
    depth: usize,
    nodes: &mut usize,
) -> Result<(), FilterError> {
    for (key, value) in document {
        measure(value, &Loc::Key(loc, key), depth + 1, nodes)?;
    }
    Ok(())
}

fn measure(value: &Value, loc: &Loc, depth: usize, nodes: &mut usize) -> Result<(), FilterError> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(loc.error(format!("the filter has more than {MAX_NODES} values")));
    }
    let nested = matches!(value, Value::Object(_) | Value::Array(_));
    if nested && depth > MAX_DEPTH {
        return Err(loc.error(format!("nested more than {MAX_DEPTH} levels deep")));
    }
    match value {
        Value::Object(map) => measure_entries(map, loc, depth, nodes),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                measure(item, &Loc::Index(loc, i), depth + 1, nodes)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Where in the request body a filter value is, built on the stack as compiling descends
/// and written out only for an error.
enum Loc<'a> {
    Root(&'a str),
    Key(&'a Loc<'a>, &'a str),
    Index(&'a Loc<'a>, usize),
}

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Root(name) => f.write_str(name),
            Loc::Key(parent, key) => write!(f, "{parent}.{key}"),
            Loc::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

impl Loc<'_> {
    fn error(&self, message: impl Into<String>) -> FilterError {
        FilterError {
            location: self.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Condition(Condition),
    /// `$or`: one of the documents holds.
    Any(Vec<Vec<Node>>),
    /// `$and`: every document holds.
    All(Vec<Vec<Node>>),
}

#[derive(Debug, Clone)]
struct Condition {
    path: Vec<Segment>,
    test: Test,
    /// `$neq`, `$nin`, `$exist: false`: the test must hold for no value on the path.
    negated: bool,
    /// Steps one application of the test takes.
    cost: usize,
}

#[derive(Debug, Clone)]
enum Test {
    Equals(Value),
    OneOf(Vec<Value>),
    Order(Comparison, Value),
    Matches(Regex),
    Exists,
}

#[derive(Debug, Clone, Copy)]
enum Comparison {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Comparison {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Greater => ordering.is_gt(),
            Comparison::GreaterOrEqual => ordering.is_ge(),
            Comparison::Less => ordering.is_lt(),
            Comparison::LessOrEqual => ordering.is_le(),
        }
    }
}

#[derive(Debug, Clone)]
enum Segment {
    /// `$`: every element of an array.
    AnyElement,
    /// An object key, or an array index when it is a number.
    Key { name: String, index: Option<usize> },
}

struct Compiler {
    part: Part,
    regexes: usize,
}

impl Compiler {
    fn document(
        &mut self,
        document: &Map<String, Value>,
        prefix: &[Segment],
        loc: &Loc,
    ) -> Result<Vec<Node>, FilterError> {
        let mut nodes = Vec::with_capacity(document.len());
        for (key, value) in document {
            let loc = Loc::Key(loc, key);
            if key == "$or" || key == "$and" {
                let documents = self.documents(value, prefix, &loc)?;
                nodes.push(if key == "$or" {
                    Node::Any(documents)
                } else {
                    Node::All(documents)
                });
            } else if is_operator(key) {
                if prefix.is_empty() {
                    return Err(loc.error(
                        "an operator tests a field: put it under the field's name, as in {\"amount\": {\"$gte\": 10}}",
                    ));
                }
                nodes.push(Node::Condition(self.operator(key, value, prefix, &loc)?));
            } else {
                let path = self.path(prefix, key, &loc)?;
                match value {
                    Value::Object(inner) if inner.is_empty() => {
                        return Err(loc.error(
                            "an empty object is no condition; to compare with {} write {\"$eq\": {}}",
                        ));
                    }
                    Value::Object(inner) => nodes.extend(self.document(inner, &path, &loc)?),
                    plain => nodes.push(Node::Condition(self.equality(path, plain, false, &loc)?)),
                }
            }
        }
        Ok(nodes)
    }

    fn documents(
        &mut self,
        value: &Value,
        prefix: &[Segment],
        loc: &Loc,
    ) -> Result<Vec<Vec<Node>>, FilterError> {
        let Value::Array(items) = value else {
            return Err(loc.error("needs an array of documents (objects)"));
        };
        if items.is_empty() {
            return Err(loc.error("an empty array; it needs at least one document"));
        }
        let mut documents = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let loc = Loc::Index(loc, i);
            match item {
                Value::Object(document) if document.is_empty() => {
                    return Err(loc.error("an empty document is no condition"));
                }
                Value::Object(document) => documents.push(self.document(document, prefix, &loc)?),
                _ => return Err(loc.error("needs a document (an object)")),
            }
        }
        Ok(documents)
    }

    fn path(&self, prefix: &[Segment], key: &str, loc: &Loc) -> Result<Vec<Segment>, FilterError> {
        let mut path = prefix.to_vec();
        for segment in key.split('.') {
            if segment.is_empty() {
                return Err(loc.error(
                    "an empty segment in the field path (an empty name, `..`, or a leading or trailing dot)",
                ));
            }
            path.push(if segment == "$" {
                Segment::AnyElement
            } else if segment.starts_with('$') {
                return Err(loc.error(format!(
                    "`{segment}` in a field path: only `$` alone (any array element) begins with `$`; \
                     an operator goes in an object, as in {{\"amount\": {{\"$gte\": 10}}}}"
                )));
            } else {
                let name = if self.part == Part::Headers {
                    segment.to_ascii_lowercase()
                } else {
                    segment.to_string()
                };
                // Digits only: `usize::from_str` would also take `+1`.
                let index = if name.bytes().all(|b| b.is_ascii_digit()) {
                    name.parse().ok()
                } else {
                    None
                };
                Segment::Key { name, index }
            });
        }
        if path.len() > MAX_PATH_SEGMENTS {
            return Err(loc.error(format!(
                "a field path of more than {MAX_PATH_SEGMENTS} segments"
            )));
        }
        Ok(path)
    }

    fn operator(
        &mut self,
        operator: &str,
        argument: &Value,
        path: &[Segment],
        loc: &Loc,
    ) -> Result<Condition, FilterError> {
        let order = |comparison| -> Result<(Test, bool), FilterError> {
            match argument {
                Value::Number(_) | Value::String(_) => {
                    self.check_string_part(argument, loc)?;
                    Ok((Test::Order(comparison, argument.clone()), false))
                }
                _ => Err(loc.error("needs a number or a string")),
            }
        };
        let (test, negated) = match operator {
            "$eq" => return self.equality(path.to_vec(), argument, false, loc),
            "$neq" => return self.equality(path.to_vec(), argument, true, loc),
            "$gt" => order(Comparison::Greater)?,
            "$gte" => order(Comparison::GreaterOrEqual)?,
            "$lt" => order(Comparison::Less)?,
            "$lte" => order(Comparison::LessOrEqual)?,
            "$in" | "$nin" => (self.one_of(argument, loc)?, operator == "$nin"),
            "$exist" => match argument {
                Value::Bool(exists) => (Test::Exists, !exists),
                _ => return Err(loc.error("needs true or false")),
            },
            "$regex" => (Test::Matches(self.regex(argument, loc)?), false),
            _ => {
                return Err(loc.error(format!(
                    "unknown operator `{operator}`; the operators are {OPERATORS}"
                )));
            }
        };
        Ok(condition(path.to_vec(), test, negated))
    }

    fn equality(
        &self,
        path: Vec<Segment>,
        argument: &Value,
        negated: bool,
        loc: &Loc,
    ) -> Result<Condition, FilterError> {
        self.check_string_part(argument, loc)?;
        Ok(condition(path, Test::Equals(argument.clone()), negated))
    }

    fn one_of(&self, argument: &Value, loc: &Loc) -> Result<Test, FilterError> {
        let Value::Array(options) = argument else {
            return Err(loc.error("needs an array of values"));
        };
        if options.is_empty() {
            return Err(loc.error("an empty array; it needs at least one value"));
        }
        for (i, option) in options.iter().enumerate() {
            self.check_string_part(option, &Loc::Index(loc, i))?;
        }
        Ok(Test::OneOf(options.clone()))
    }

    fn regex(&mut self, argument: &Value, loc: &Loc) -> Result<Regex, FilterError> {
        let Value::String(pattern) = argument else {
            return Err(loc.error("needs a string (a regular expression)"));
        };
        if pattern.len() > MAX_REGEX_PATTERN_BYTES {
            return Err(loc.error(format!(
                "a pattern of {} bytes; at most {MAX_REGEX_PATTERN_BYTES}",
                pattern.len()
            )));
        }
        self.regexes += 1;
        if self.regexes > MAX_REGEXES {
            return Err(loc.error(format!(
                "more than {MAX_REGEXES} regular expressions in one filter"
            )));
        }
        RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
            .nest_limit(REGEX_NEST_LIMIT)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(limit) => loc.error(format!(
                    "the regular expression is too large once compiled (limit {limit} bytes)"
                )),
                other => loc.error(format!("not a valid regular expression: {other}")),
            })
    }

    /// Header, query and path values are strings: comparing them with anything else could
    /// never hold.
    fn check_string_part(&self, argument: &Value, loc: &Loc) -> Result<(), FilterError> {
        if self.part == Part::Body || argument.is_string() {
            return Ok(());
        }
        Err(loc.error(format!(
            "{} values are strings: compare with a string, as in \"5\" for 5",
            self.part.name()
        )))
    }
}

fn condition(path: Vec<Segment>, test: Test, negated: bool) -> Condition {
    let cost = match &test {
        Test::Equals(value) => node_count(value),
        Test::OneOf(options) => options.iter().map(node_count).sum(),
        Test::Order(..) | Test::Matches(_) | Test::Exists => 1,
    };
    Condition {
        path,
        test,
        negated,
        cost,
    }
}

/// Filter values are measured before they are compiled, so this recursion is bounded.
fn node_count(value: &Value) -> usize {
    1 + match value {
        Value::Object(map) => map.values().map(node_count).sum(),
        Value::Array(items) => items.iter().map(node_count).sum(),
        _ => 0,
    }
}

fn is_operator(key: &str) -> bool {
    key.starts_with('$') && key != "$" && !key.starts_with("$.")
}

struct Budget {
    left: usize,
}

/// The evaluation ran out of steps.
struct Exhausted;

impl Budget {
    fn spend(&mut self, steps: usize) -> Result<(), Exhausted> {
        self.left = self.left.checked_sub(steps).ok_or(Exhausted)?;
        Ok(())
    }
}

fn all_hold(nodes: &[Node], value: &Value, budget: &mut Budget) -> Result<bool, Exhausted> {
    for node in nodes {
        if !node.holds(value, budget)? {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Node {
    fn holds(&self, value: &Value, budget: &mut Budget) -> Result<bool, Exhausted> {
        match self {
            Node::Condition(condition) => condition.holds(value, budget),
            Node::Any(documents) => {
                for document in documents {
                    if all_hold(document, value, budget)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Node::All(documents) => {
                for document in documents {
                    if !all_hold(document, value, budget)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }
}

impl Condition {
    fn holds(&self, root: &Value, budget: &mut Budget) -> Result<bool, Exhausted> {
        let found = any_at(root, &self.path, budget, &mut |value, budget| {
            self.holds_on(value, budget)
        })?;
        Ok(found != self.negated)
    }

    /// The test on one value the path reaches, or on one of its elements if it is an array.
    fn holds_on(&self, value: &Value, budget: &mut Budget) -> Result<bool, Exhausted> {
        if let Test::Exists = self.test {
            return Ok(true);
        }
        if self.test_one(value, budget)? {
            return Ok(true);
        }
        if let Value::Array(items) = value {
            for item in items {
                if self.test_one(item, budget)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn test_one(&self, value: &Value, budget: &mut Budget) -> Result<bool, Exhausted> {
        budget.spend(self.cost)?;
        Ok(match &self.test {
            Test::Equals(expected) => json_equal(value, expected),
            Test::OneOf(options) => options.iter().any(|option| json_equal(value, option)),
            Test::Order(comparison, bound) => {
                compare(value, bound).is_some_and(|ordering| comparison.accepts(ordering))
            }
            Test::Matches(regex) => match value {
                Value::String(text) => {
                    budget.spend(text.len() / 64)?;
                    regex.is_match(text)
                }
                _ => false,
            },
            Test::Exists => true,
        })
    }
}

/// Whether `found` holds for one of the values `path` reaches from `value`. The recursion
/// follows the path, so it is at most [`MAX_PATH_SEGMENTS`] deep.
fn any_at(
    value: &Value,
    path: &[Segment],
    budget: &mut Budget,
    found: &mut dyn FnMut(&Value, &mut Budget) -> Result<bool, Exhausted>,
) -> Result<bool, Exhausted> {
    budget.spend(1)?;
    let Some((first, rest)) = path.split_first() else {
        return found(value, budget);
    };
    match (first, value) {
        (Segment::AnyElement, Value::Array(items)) => {
            for item in items {
                if any_at(item, rest, budget, found)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        (Segment::Key { index, .. }, Value::Array(items)) => {
            match index.and_then(|i| items.get(i)) {
                Some(item) => any_at(item, rest, budget, found),
                None => Ok(false),
            }
        }
        (Segment::Key { .. }, Value::Object(map)) => {
            // `a.b.c` reaches `{"a": {"b": {"c": …}}}`, but also `{"a.b": {"c": …}}` and
            // `{"a.b.c": …}`: keys that contain dots.
            let mut key = String::new();
            for (taken, segment) in path.iter().enumerate() {
                let Segment::Key { name, .. } = segment else {
                    break;
                };
                if taken > 0 {
                    key.push('.');
                }
                key.push_str(name);
                budget.spend(1)?;
                if let Some(child) = map.get(&key)
                    && any_at(child, &path[taken + 1..], budget, found)?
                {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// JSON equality, numbers by value. Its recursion is bounded by `expected`, a filter value.
fn json_equal(value: &Value, expected: &Value) -> bool {
    match (value, expected) {
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b) == Some(Ordering::Equal),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && b.iter()
                    .all(|(key, b)| a.get(key).is_some_and(|a| json_equal(a, b)))
        }
        _ => value == expected,
    }
}

/// Numbers numerically, strings by code point, nothing else.
fn compare(value: &Value, bound: &Value) -> Option<Ordering> {
    match (value, bound) {
        (Value::Number(a), Value::Number(b)) => compare_numbers(a, b),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    // Integers exactly (i128 holds every i64 and u64); a float in either, as floats.
    fn integer(n: &Number) -> Option<i128> {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    }
    if let (Some(a), Some(b)) = (integer(a), integer(b)) {
        return Some(a.cmp(&b));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: Value) -> FilterConfig {
        serde_json::from_value(value).expect("a filter_config in Convoy's shape")
    }

    fn compile(value: Value) -> Result<Filter, FilterError> {
        Filter::compile(&config(value))
    }

    fn no_headers() -> BTreeMap<String, Vec<String>> {
        BTreeMap::new()
    }

    /// Whether a body filter matches a body.
    fn body_matches(filter: Value, body: Value) -> bool {
        let filter = compile(json!({"filter": {"body": filter}})).expect("a valid filter");
        filter.matches("any", &EventParts::new(&no_headers(), &body, "", ""))
    }

    /// Where a body filter is refused, and why.
    fn body_error(filter: Value) -> FilterError {
        compile(json!({"filter": {"body": filter}})).expect_err("a refused filter")
    }

    fn assert_refused(config_json: Value, location: &str, message_part: &str) {
        let error = compile(config_json.clone()).expect_err("a refused filter");
        assert_eq!(error.location, location, "for {config_json}");
        assert!(
            error.message.contains(message_part),
            "for {config_json}: {:?} lacks {message_part:?}",
            error.message
        );
    }

    #[test]
    fn each_operator_matches_and_misses() {
        let body = json!({"amount": 150, "currency": "USD", "note": "refund #42", "flag": true});
        let cases = [
            (json!({"currency": "USD"}), true),
            (json!({"currency": "EUR"}), false),
            (json!({"currency": {"$eq": "USD"}}), true),
            (json!({"currency": {"$eq": "usd"}}), false),
            (json!({"currency": {"$neq": "EUR"}}), true),
            (json!({"currency": {"$neq": "USD"}}), false),
            (json!({"amount": {"$gt": 149}}), true),
            (json!({"amount": {"$gt": 150}}), false),
            (json!({"amount": {"$gte": 150}}), true),
            (json!({"amount": {"$gte": 151}}), false),
            (json!({"amount": {"$lt": 151}}), true),
            (json!({"amount": {"$lt": 150}}), false),
            (json!({"amount": {"$lte": 150}}), true),
            (json!({"amount": {"$lte": 149}}), false),
            (json!({"currency": {"$in": ["EUR", "USD"]}}), true),
            (json!({"currency": {"$in": ["EUR", "GBP"]}}), false),
            (json!({"currency": {"$nin": ["EUR", "GBP"]}}), true),
            (json!({"currency": {"$nin": ["EUR", "USD"]}}), false),
            (json!({"note": {"$exist": true}}), true),
            (json!({"missing": {"$exist": true}}), false),
            (json!({"missing": {"$exist": false}}), true),
            (json!({"note": {"$exist": false}}), false),
            (json!({"note": {"$regex": "#[0-9]+$"}}), true),
            (json!({"note": {"$regex": "^#"}}), false),
            (json!({"flag": true}), true),
            (json!({"flag": false}), false),
            // Several operators on one field, and several fields: all must hold.
            (json!({"amount": {"$gt": 100, "$lt": 200}}), true),
            (json!({"amount": {"$gt": 100, "$lt": 120}}), false),
            (json!({"amount": 150, "currency": "EUR"}), false),
        ];
        for (filter, expected) in cases {
            assert_eq!(
                body_matches(filter.clone(), body.clone()),
                expected,
                "{filter}"
            );
        }
    }

    #[test]
    fn comparisons_order_numbers_and_strings_and_refuse_other_types() {
        assert!(body_matches(json!({"s": {"$gt": "a"}}), json!({"s": "b"})));
        // Lexicographic, not numeric, for strings.
        assert!(body_matches(json!({"s": {"$lt": "9"}}), json!({"s": "10"})));
        // Mismatched types: false for every comparison, `$lte` included (not "not `$gt`").
        for operator in ["$gt", "$gte", "$lt", "$lte"] {
            assert!(!body_matches(
                json!({"n": {operator: 5}}),
                json!({"n": "5"})
            ));
            assert!(!body_matches(
                json!({"n": {operator: "5"}}),
                json!({"n": 5})
            ));
            assert!(!body_matches(
                json!({"n": {operator: 5}}),
                json!({"n": null})
            ));
            assert!(!body_matches(
                json!({"n": {operator: 5}}),
                json!({"n": {"x": 5}})
            ));
        }
        // `$regex` on a value that is not a string.
        assert!(!body_matches(
            json!({"n": {"$regex": "5"}}),
            json!({"n": 5})
        ));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(body_matches(json!({"n": 1}), json!({"n": 1.0})));
        assert!(body_matches(json!({"n": 1.0}), json!({"n": 1})));
        assert!(body_matches(
            json!({"n": {"$in": [2, 1.0]}}),
            json!({"n": 1})
        ));
        assert!(!body_matches(json!({"n": {"$neq": 1}}), json!({"n": 1.0})));
        assert!(body_matches(json!({"n": {"$gt": 1.5}}), json!({"n": 2})));
        assert!(!body_matches(json!({"n": {"$gt": 2}}), json!({"n": 2.0})));
        // Integers beyond f64's precision and beyond i64 compare exactly.
        assert!(!body_matches(
            json!({"n": 9007199254740993_u64}),
            json!({"n": 9007199254740992_u64})
        ));
        assert!(body_matches(
            json!({"n": {"$gt": -1}}),
            json!({"n": u64::MAX})
        ));
        assert!(body_matches(json!({"n": u64::MAX}), json!({"n": u64::MAX})));
        // Inside compared objects and arrays too.
        assert!(body_matches(
            json!({"o": {"$eq": {"a": [1, 2.0]}}}),
            json!({"o": {"a": [1.0, 2]}})
        ));
    }

    #[test]
    fn missing_fields_and_negations() {
        let body = json!({"present": "x"});
        // A positive test on a missing field fails; its negation holds.
        assert!(!body_matches(json!({"missing": "x"}), body.clone()));
        assert!(!body_matches(json!({"missing": {"$gt": 0}}), body.clone()));
        assert!(!body_matches(
            json!({"missing": {"$in": ["x"]}}),
            body.clone()
        ));
        assert!(body_matches(
            json!({"missing": {"$neq": "x"}}),
            body.clone()
        ));
        assert!(body_matches(
            json!({"missing": {"$nin": ["x"]}}),
            body.clone()
        ));
        assert!(body_matches(
            json!({"missing": {"$exist": false}}),
            body.clone()
        ));
        // One missing field among present ones still fails the document (unlike Convoy).
        assert!(!body_matches(
            json!({"present": "x", "missing": "y"}),
            body.clone()
        ));
        // `null` is a value: it exists, and equals null.
        assert!(body_matches(
            json!({"n": {"$exist": true}}),
            json!({"n": null})
        ));
        assert!(body_matches(json!({"n": null}), json!({"n": null})));
        assert!(!body_matches(json!({"n": null}), json!({})));
        // A path through a scalar reaches nothing.
        assert!(body_matches(
            json!({"present.deeper": {"$exist": false}}),
            body
        ));
    }

    #[test]
    fn nested_objects_and_dotted_paths_are_the_same() {
        let filters = [
            json!({"a": {"b": {"c": 1}}}),
            json!({"a.b.c": 1}),
            json!({"a": {"b.c": 1}}),
            json!({"a.b": {"c": {"$eq": 1}}}),
        ];
        let bodies = [
            (json!({"a": {"b": {"c": 1}}}), true),
            // Keys that contain dots are reached by the same paths (Convoy flattens payloads).
            (json!({"a.b": {"c": 1}}), true),
            (json!({"a.b.c": 1}), true),
            (json!({"a": {"b": {"c": 2}}}), false),
            (json!({"a": {"b": 1}}), false),
            (json!({}), false),
        ];
        for filter in &filters {
            for (body, expected) in &bodies {
                assert_eq!(
                    body_matches(filter.clone(), body.clone()),
                    *expected,
                    "{filter} on {body}"
                );
            }
        }
    }

    #[test]
    fn plain_values_are_members_of_array_values() {
        let body = json!({"tags": ["new", "vip"], "scores": [1, 9], "pairs": [[1, 2], [3]]});
        assert!(body_matches(json!({"tags": "vip"}), body.clone()));
        assert!(!body_matches(json!({"tags": "old"}), body.clone()));
        assert!(body_matches(
            json!({"tags": {"$in": ["old", "new"]}}),
            body.clone()
        ));
        assert!(body_matches(
            json!({"tags": {"$nin": ["old"]}}),
            body.clone()
        ));
        assert!(!body_matches(
            json!({"tags": {"$nin": ["vip"]}}),
            body.clone()
        ));
        assert!(!body_matches(
            json!({"tags": {"$neq": "vip"}}),
            body.clone()
        ));
        assert!(body_matches(
            json!({"tags": {"$regex": "^v"}}),
            body.clone()
        ));
        assert!(body_matches(json!({"scores": {"$gt": 5}}), body.clone()));
        assert!(!body_matches(json!({"scores": {"$gt": 9}}), body.clone()));
        // An array value equals the whole array, or is a member of an array of arrays.
        assert!(body_matches(json!({"tags": ["new", "vip"]}), body.clone()));
        assert!(!body_matches(json!({"tags": ["vip", "new"]}), body.clone()));
        assert!(body_matches(json!({"pairs": [3]}), body.clone()));
        // Membership is one level deep: `3` is not an element of `pairs`.
        assert!(!body_matches(json!({"pairs": 3}), body));
    }

    #[test]
    fn wildcards_reach_every_element() {
        let body = json!({
            "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}],
            "orders": [
                {"lines": [{"sku": "X"}, {"sku": "Y"}]},
                {"lines": [{"sku": "Z"}]}
            ],
            "tags": ["new", "vip"],
            "name": "not an array"
        });
        assert!(body_matches(json!({"items.$.sku": "B"}), body.clone()));
        assert!(!body_matches(json!({"items.$.sku": "C"}), body.clone()));
        assert!(body_matches(
            json!({"items": {"$": {"qty": {"$gte": 5}}}}),
            body.clone()
        ));
        assert!(!body_matches(
            json!({"items.$.qty": {"$gt": 5}}),
            body.clone()
        ));
        // Conditions on wildcard paths are separate: here different elements satisfy them.
        assert!(body_matches(
            json!({"items.$.sku": "A", "items.$.qty": 5}),
            body.clone()
        ));
        // Nested arrays.
        assert!(body_matches(
            json!({"orders.$.lines.$.sku": "Z"}),
            body.clone()
        ));
        assert!(body_matches(
            json!({"orders.$.lines.$.sku": "Y"}),
            body.clone()
        ));
        assert!(!body_matches(
            json!({"orders.$.lines.$.sku": "W"}),
            body.clone()
        ));
        // Negated: no element has it.
        assert!(body_matches(
            json!({"orders.$.lines.$.sku": {"$neq": "W"}}),
            body.clone()
        ));
        assert!(!body_matches(
            json!({"orders.$.lines.$.sku": {"$neq": "X"}}),
            body.clone()
        ));
        // An index is one element.
        assert!(body_matches(json!({"items.1.sku": "B"}), body.clone()));
        assert!(!body_matches(json!({"items.+1.sku": "B"}), body.clone()));
        assert!(!body_matches(json!({"items.0.sku": "B"}), body.clone()));
        assert!(!body_matches(
            json!({"items.7.sku": {"$exist": true}}),
            body.clone()
        ));
        // A trailing `$`: each element.
        assert!(body_matches(
            json!({"tags.$": {"$regex": "^n"}}),
            body.clone()
        ));
        // `$` on something that is not an array reaches nothing.
        assert!(!body_matches(json!({"name.$": {"$exist": true}}), body));
        // A body that is an array.
        assert!(body_matches(
            json!({"$.id": 2}),
            json!([{"id": 1}, {"id": 2}])
        ));
        assert!(body_matches(json!({"$": 2}), json!([1, 2])));
    }

    #[test]
    fn or_and_and_nest() {
        // The reference's example.
        let filter =
            json!({"amount": {"$gte": 100}, "$or": [{"currency": "USD"}, {"currency": "EUR"}]});
        assert!(body_matches(
            filter.clone(),
            json!({"amount": 100, "currency": "EUR"})
        ));
        assert!(!body_matches(
            filter.clone(),
            json!({"amount": 100, "currency": "GBP"})
        ));
        assert!(!body_matches(
            filter,
            json!({"amount": 99, "currency": "USD"})
        ));

        let nested = json!({"$or": [
            {"$and": [{"type": "invoice"}, {"amount": {"$gt": 10}}]},
            {"$and": [{"type": "refund"}, {"$or": [{"urgent": true}, {"amount": {"$gt": 1000}}]}]}
        ]});
        let cases = [
            (json!({"type": "invoice", "amount": 11}), true),
            (json!({"type": "invoice", "amount": 5}), false),
            (json!({"type": "refund", "amount": 5, "urgent": true}), true),
            (json!({"type": "refund", "amount": 5000}), true),
            (json!({"type": "refund", "amount": 5}), false),
        ];
        for (body, expected) in cases {
            assert_eq!(
                body_matches(nested.clone(), body.clone()),
                expected,
                "{body}"
            );
        }

        // Under a field, `$or` is relative to it, and may hold operators on that field.
        let relative = json!({"customer": {"$or": [{"tier": "gold"}, {"spend": {"$gte": 1000}}]}});
        assert!(body_matches(
            relative.clone(),
            json!({"customer": {"tier": "gold"}})
        ));
        assert!(body_matches(
            relative.clone(),
            json!({"customer": {"spend": 1000}})
        ));
        assert!(!body_matches(relative, json!({"tier": "gold"})));
        let on_field = json!({"amount": {"$or": [{"$lt": 10}, {"$gt": 100}]}});
        assert!(body_matches(on_field.clone(), json!({"amount": 5})));
        assert!(!body_matches(on_field, json!({"amount": 50})));
    }

    #[test]
    fn headers_match_names_case_insensitively() {
        let filter = compile(json!({"filter": {"headers": {
            "X-Tenant": "acme",
            "user-agent": {"$regex": "^Stripe/"}
        }}}))
        .unwrap();
        let body = Value::Null;
        let event = |headers: &[(&str, &[&str])]| {
            let headers: BTreeMap<String, Vec<String>> = headers
                .iter()
                .map(|(name, values)| {
                    (
                        name.to_string(),
                        values.iter().map(|v| v.to_string()).collect(),
                    )
                })
                .collect();
            filter.matches("any", &EventParts::new(&headers, &body, "", ""))
        };
        assert!(event(&[
            ("x-tenant", &["acme"]),
            ("user-agent", &["Stripe/1.0"])
        ]));
        assert!(event(&[
            ("X-TENANT", &["acme"]),
            ("User-Agent", &["Stripe/1.0"])
        ]));
        // Several values: one of them is enough.
        assert!(event(&[
            ("x-tenant", &["other", "acme"]),
            ("user-agent", &["Stripe/1.0"])
        ]));
        // Values are case-sensitive.
        assert!(!event(&[
            ("x-tenant", &["ACME"]),
            ("user-agent", &["Stripe/1.0"])
        ]));
        assert!(!event(&[
            ("x-tenant", &["acme"]),
            ("user-agent", &["curl/8"])
        ]));
        assert!(!event(&[("user-agent", &["Stripe/1.0"])]));
    }

    #[test]
    fn query_and_path_are_decoded() {
        let filter = compile(json!({"filter": {
            "query": {"tenant": "acme", "tag": "b", "q": "hello world!", "raw": "100%zz"},
            "path": {"0": "ingest", "$": "a b"}
        }}))
        .unwrap();
        let body = Value::Null;
        let query = "tenant=acme&tag=a&tag=b&q=hello+world%21&raw=100%zz&flag";
        assert!(filter.matches(
            "any",
            &EventParts::new(&no_headers(), &body, query, "/ingest/a%20b")
        ));
        assert!(!filter.matches(
            "any",
            &EventParts::new(&no_headers(), &body, query, "/ingest/ab")
        ));
        assert!(!filter.matches(
            "any",
            &EventParts::new(&no_headers(), &body, "tenant=acme", "/ingest/a%20b")
        ));

        // Query names are case-sensitive; a name without a value has the empty value.
        let named = |filter: Value, query: &str| {
            compile(json!({"filter": {"query": filter}}))
                .unwrap()
                .matches("any", &EventParts::new(&no_headers(), &body, query, ""))
        };
        assert!(!named(json!({"Tenant": "acme"}), "tenant=acme"));
        assert!(named(json!({"flag": ""}), "flag"));
        assert!(named(json!({"tenant": {"$exist": false}}), ""));

        // REST and broker events have no URL path.
        let path_filter = compile(json!({"filter": {"path": {"0": {"$exist": false}}}})).unwrap();
        assert!(path_filter.matches("any", &EventParts::new(&no_headers(), &body, "", "")));
    }

    #[test]
    fn event_types_select_events() {
        let body = Value::Null;
        let parts = EventParts::new(&no_headers(), &body, "", "");
        for all in [
            json!({}),
            json!({"event_types": ["*"]}),
            json!({"event_types": []}),
            json!({"event_types": null}),
            json!({"event_types": ["a", "*"]}),
        ] {
            let filter = compile(all.clone()).unwrap();
            assert!(filter.matches("invoice.paid", &parts), "{all}");
        }
        let listed = compile(json!({"event_types": ["invoice.paid", "invoice.failed"]})).unwrap();
        assert!(listed.matches("invoice.paid", &parts));
        assert!(listed.matches("invoice.failed", &parts));
        assert!(!listed.matches("invoice.created", &parts));
        assert!(!listed.matches("Invoice.Paid", &parts));

        // The event type and the documents must both hold.
        let both = compile(json!({"event_types": ["a"], "filter": {"body": {"x": 1}}})).unwrap();
        let body = json!({"x": 1});
        let parts = EventParts::new(&no_headers(), &body, "", "");
        assert!(both.matches("a", &parts));
        assert!(!both.matches("b", &parts));
    }

    #[test]
    fn config_is_convoys_json() {
        let parsed = config(json!({
            "event_types": ["invoice.paid"],
            "filter": {"headers": {"x-tenant": "acme"}, "body": {"amount": {"$gte": 100}},
                       "query": null}
        }));
        assert_eq!(parsed.filter.query, Map::new());
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            json!({
                "event_types": ["invoice.paid"],
                "filter": {"headers": {"x-tenant": "acme"}, "body": {"amount": {"$gte": 100}},
                           "query": {}, "path": {}}
            })
        );
        assert_eq!(config(json!({})), FilterConfig::default());
        assert_eq!(config(json!({"event_types": []})).event_types, ["*"]);
        assert_eq!(
            serde_json::to_value(FilterConfig::default()).unwrap(),
            json!({"event_types": ["*"], "filter": {"headers": {}, "body": {}, "query": {}, "path": {}}})
        );
        // Unknown keys are refused, at both levels.
        for unknown in [
            json!({"event_type": ["a"]}),
            json!({"filter": {"bodies": {}}}),
        ] {
            let error = serde_json::from_value::<FilterConfig>(unknown.clone()).unwrap_err();
            assert!(
                error.to_string().contains("unknown field"),
                "{unknown}: {error}"
            );
        }
        // A document is an object.
        assert!(serde_json::from_value::<FilterConfig>(json!({"filter": {"body": [1]}})).is_err());
    }

    #[test]
    fn every_mistake_is_refused_where_it_is() {
        let body = "filter_config.filter.body";
        let cases = [
            (
                json!({"amount": {"$gte": true}}),
                ".amount.$gte",
                "needs a number or a string",
            ),
            (
                json!({"amount": {"$gt": [1]}}),
                ".amount.$gt",
                "needs a number or a string",
            ),
            (
                json!({"amount": {"$foo": 1}}),
                ".amount.$foo",
                "unknown operator `$foo`",
            ),
            (json!({"a": {"$in": 5}}), ".a.$in", "needs an array"),
            (json!({"a": {"$nin": "x"}}), ".a.$nin", "needs an array"),
            (json!({"a": {"$in": []}}), ".a.$in", "an empty array"),
            (
                json!({"a": {"$exist": "yes"}}),
                ".a.$exist",
                "needs true or false",
            ),
            (json!({"a": {"$regex": 5}}), ".a.$regex", "needs a string"),
            (
                json!({"a": {"$regex": "(unclosed"}}),
                ".a.$regex",
                "not a valid regular expression",
            ),
            (
                json!({"$or": {"a": 1}}),
                ".$or",
                "needs an array of documents",
            ),
            (
                json!({"$and": [{"a": 1}, 5]}),
                ".$and[1]",
                "needs a document",
            ),
            (json!({"$or": []}), ".$or", "an empty array"),
            (json!({"$and": [{}]}), ".$and[0]", "an empty document"),
            (
                json!({"$or": [{"a": 1}, {"b": {"c": {"$bad": 1}}}]}),
                ".$or[1].b.c.$bad",
                "unknown operator",
            ),
            (
                json!({"x": {"$or": [{"$lt": "a"}, {"$gt": {}}]}}),
                ".x.$or[1].$gt",
                "needs a number or a string",
            ),
            (json!({"a..b": 1}), ".a..b", "an empty segment"),
            (json!({"a.": 1}), ".a.", "an empty segment"),
            (json!({"": 1}), ".", "an empty segment"),
            (json!({"a": {"": 1}}), ".a.", "an empty segment"),
            (json!({"amount.$gte": 1}), ".amount.$gte", "only `$` alone"),
            (json!({"$gte": 1}), ".$gte", "an operator tests a field"),
            (
                json!({"$exist": true}),
                ".$exist",
                "an operator tests a field",
            ),
            (json!({"a": {}}), ".a", "an empty object is no condition"),
        ];
        for (filter, location, message) in cases {
            assert_refused(
                json!({"filter": {"body": filter}}),
                &format!("{body}{location}"),
                message,
            );
        }
        // Only strings can match headers, query and path values.
        let others = [
            (
                json!({"headers": {"X-Count": 5}}),
                "filter_config.filter.headers.X-Count",
                "header values are strings",
            ),
            (
                json!({"query": {"page": {"$gt": 2}}}),
                "filter_config.filter.query.page.$gt",
                "query values are strings",
            ),
            (
                json!({"path": {"0": {"$in": ["a", 1]}}}),
                "filter_config.filter.path.0.$in[1]",
                "path values are strings",
            ),
            (
                json!({"headers": {"x": {"$neq": null}}}),
                "filter_config.filter.headers.x.$neq",
                "header values are strings",
            ),
        ];
        for (filter, location, message) in others {
            assert_refused(json!({"filter": filter}), location, message);
        }
        assert_refused(
            json!({"event_types": ["a", ""]}),
            "filter_config.event_types[1]",
            "an empty event type",
        );
        assert_refused(
            json!({"event_types": ["a".repeat(MAX_EVENT_FIELD_BYTES + 1)]}),
            "filter_config.event_types[0]",
            "1025 bytes",
        );
        let many: Vec<String> = (0..=MAX_EVENT_TYPES).map(|i| format!("t{i}")).collect();
        assert_refused(
            json!({"event_types": many}),
            "filter_config.event_types",
            "257 event types",
        );

        // The message says what to do.
        assert_eq!(
            body_error(json!({"a": {"$gte": true}})).to_string(),
            "filter_config.filter.body.a.$gte: needs a number or a string"
        );
    }

    /// A document nested `levels` deep (itself level 1), whose innermost object is `{"a": 1}`.
    fn nested(levels: usize) -> Value {
        let mut value = json!({"a": 1});
        for _ in 1..levels {
            value = json!({"a": value});
        }
        value
    }

    #[test]
    fn size_limits_are_enforced() {
        assert!(body_matches(nested(MAX_DEPTH), nested(MAX_DEPTH)));
        let too_deep = format!("filter_config.filter.body{}", ".a".repeat(MAX_DEPTH));
        assert_refused(
            json!({"filter": {"body": nested(MAX_DEPTH + 1)}}),
            &too_deep,
            "nested more than 16",
        );

        // Values in all four documents count together.
        let wide = |count: usize| -> Value {
            (0..count)
                .map(|i| (format!("k{i:04}"), json!(i)))
                .collect::<Map<_, _>>()
                .into()
        };
        compile(json!({"filter": {"body": wide(MAX_NODES - 1), "headers": {"h": "v"}}})).unwrap();
        assert_refused(
            json!({"filter": {"body": wide(MAX_NODES - 1), "headers": {"h": "v"}, "query": {"q": "v"}}}),
            "filter_config.filter.query.q",
            "more than 1000 values",
        );
        // Values inside operands count too: with the field and the list, item 998 is the
        // 1001st value.
        let list: Vec<u32> = (0..2000).collect();
        assert_refused(
            json!({"filter": {"body": {"a": {"$in": list}}}}),
            "filter_config.filter.body.a.$in[998]",
            "more than 1000",
        );

        let long_path = vec!["p"; MAX_PATH_SEGMENTS + 1].join(".");
        assert_refused(
            json!({"filter": {"body": {long_path.clone(): 1}}}),
            &format!("filter_config.filter.body.{long_path}"),
            "more than 32 segments",
        );
        // Nesting and dots add up.
        let half = vec!["p"; MAX_PATH_SEGMENTS / 2 + 1].join(".");
        assert_refused(
            json!({"filter": {"body": {half.clone(): {half.clone(): 1}}}}),
            &format!("filter_config.filter.body.{half}.{half}"),
            "more than 32 segments",
        );
    }

    #[test]
    fn hostile_filters_are_refused_without_harm() {
        // Far deeper than allowed: refused at the limit, without recursing further.
        let error = body_error(nested(1000));
        assert_eq!(error.location.matches(".a").count(), MAX_DEPTH);

        // A huge flat filter: refused at the limit.
        let huge: Map<String, Value> = (0..100_000)
            .map(|i| (format!("k{i:06}"), json!(i)))
            .collect();
        assert_eq!(
            body_error(Value::Object(huge)).location,
            "filter_config.filter.body.k001000"
        );

        // Regexes: too long a pattern, too large once compiled, too many.
        let long = "a".repeat(MAX_REGEX_PATTERN_BYTES + 1);
        assert_refused(
            json!({"filter": {"body": {"a": {"$regex": long}}}}),
            "filter_config.filter.body.a.$regex",
            "a pattern of 1025 bytes",
        );
        assert_refused(
            json!({"filter": {"body": {"a": {"$regex": "\\w{500}\\w{500}"}}}}),
            "filter_config.filter.body.a.$regex",
            "too large once compiled",
        );
        assert_refused(
            json!({"filter": {"body": {"a": {"$regex": "(".repeat(40) + &")".repeat(40)}}}}),
            "filter_config.filter.body.a.$regex",
            "not a valid regular expression",
        );
        let regexes = |count: usize| -> Value {
            (0..count)
                .map(|i| (format!("r{i:02}"), json!({"$regex": "^x"})))
                .collect::<Map<_, _>>()
                .into()
        };
        compile(json!({"filter": {"body": regexes(MAX_REGEXES)}})).unwrap();
        assert_refused(
            json!({"filter": {"body": regexes(MAX_REGEXES + 1)}}),
            "filter_config.filter.body.r16.$regex",
            "more than 16 regular expressions",
        );
    }

    #[test]
    fn evaluation_stops_at_its_step_limit() {
        // 100 options tried on each of 20,000 elements: 2,000,000 steps. The match is the
        // last element, past the limit, so the filter does not match this event.
        let options: Vec<u32> = (1..=100).collect();
        let filter = json!({"$": {"$in": options}});
        let mut long = vec![json!(0); 20_000];
        long.push(json!(100));
        assert!(!body_matches(filter.clone(), Value::Array(long)));
        // The same filter on a short event.
        assert!(body_matches(filter, json!([0, 0, 100])));

        // A regex over a string costs its length.
        let text = "x".repeat(MAX_EVALUATION_STEPS * 64) + "!";
        assert!(!body_matches(
            json!({"t": {"$regex": "!"}}),
            json!({"t": text})
        ));
        assert!(body_matches(
            json!({"t": {"$regex": "!"}}),
            json!({"t": "xx!"})
        ));
    }

    #[test]
    fn test_filter_answers_convoys_request() {
        let request: TestFilter = serde_json::from_value(json!({
            "request": {
                "header": {"X-Tenant": "acme", "X-Tags": ["a", "b"]},
                "body": {"amount": 150, "currency": "EUR"},
                "query": {"page": "2"},
                "path": {}
            },
            "schema": {
                "header": {"x-tenant": "acme", "x-tags": "b"},
                "body": {"amount": {"$gte": 100}, "$or": [{"currency": "USD"}, {"currency": "EUR"}]},
                "query": {"page": "2"},
                "path": {}
            }
        }))
        .unwrap();
        assert_eq!(request.is_match(), Ok(true));

        let mut missed = request.clone();
        missed.request.body = json!({"amount": 50, "currency": "EUR"});
        assert_eq!(missed.is_match(), Ok(false));

        let mut refused = request;
        refused.schema.body = json!({"amount": {"$gte": {}}}).as_object().unwrap().clone();
        assert_eq!(
            refused.is_match(),
            Err(FilterError {
                location: "schema.body.amount.$gte".into(),
                message: "needs a number or a string".into()
            })
        );
        refused.schema.headers = json!({"x": 1}).as_object().unwrap().clone();
        assert_eq!(refused.is_match().unwrap_err().location, "schema.header.x");

        // A subscription's spelling, `headers`, means the same; an unknown part is refused.
        let spelled = |schema: Value| {
            serde_json::from_value::<TestFilter>(json!({"request": {}, "schema": schema}))
        };
        let as_subscription = spelled(json!({"headers": {"x": 1}})).unwrap();
        assert_eq!(
            as_subscription.schema,
            spelled(json!({"header": {"x": 1}})).unwrap().schema
        );
        assert!(spelled(json!({"heads": {}})).is_err());
    }

    #[test]
    fn errors_become_invalid_filter() {
        let invalid = Invalid::from(body_error(json!({"a": {"$nope": 1}})));
        assert_eq!(invalid.code, "invalid_filter");
        assert!(
            invalid
                .message
                .starts_with("filter_config.filter.body.a.$nope: unknown operator")
        );
    }

    #[test]
    fn compiled_filters_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<Filter>();
    }
}
