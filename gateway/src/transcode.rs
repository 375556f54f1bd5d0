//! REST/JSON ⇄ protobuf for one rule.
//!
//! The request is assembled as one protobuf-JSON object (body, then path
//! variables, then query parameters) and decoded once with the protobuf JSON
//! mapping, so every input path gets the same validation and unknown fields
//! are refused with the decoder's message.

use filieris_runtime::error::{ApiError, ErrorCode, FieldViolation};
use http::Method;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value as Json};

use crate::DOMAIN;
use crate::rules::{RestRule, field_by_name};
use crate::template::{Bindings, query_decode};

/// Longest accepted `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 200;

/// What a REST request carries besides its route.
#[derive(Debug, Clone, Copy)]
pub struct RestInput<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// The raw query string (without `?`).
    pub query: Option<&'a str>,
    /// The request body.
    pub body: &'a [u8],
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<&'a str>,
}

fn invalid(reason: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, DOMAIN, reason, message)
}

fn violation(reason: &str, field: &str, description: impl Into<String>) -> ApiError {
    let description = description.into();
    let mut err = invalid(reason, format!("{field}: {description}"));
    err.violations.push(FieldViolation { field: field.to_owned(), description });
    err
}

/// Builds the request message of `rule` from path bindings, query and body.
pub fn build_request(rule: &RestRule, bindings: &Bindings, input: RestInput<'_>) -> Result<DynamicMessage, ApiError> {
    let desc = rule.rpc.input();
    let mut root = Map::new();

    match rule.body.as_deref() {
        None => {}
        Some("*") => {
            if let Some(json) = parse_body(input.body)? {
                match json {
                    Json::Object(map) => root = map,
                    _ => return Err(invalid("INVALID_REQUEST_BODY", "the request body must be a JSON object")),
                }
            }
        }
        Some(_) => {
            if let (Some(json), Some(field)) = (parse_body(input.body)?, rule.body_field()) {
                root.insert(field.json_name().to_owned(), json);
            }
        }
    }

    for (path, value) in bindings {
        let fields = resolve(&desc, path).map_err(|e| invalid("INVALID_PATH", e))?;
        set_leaf(&mut root, &fields, coerce(&fields, value), false).map_err(|e| invalid("INVALID_PATH", e))?;
    }

    if let Some(query) = input.query.filter(|q| !q.is_empty()) {
        bind_query(rule, &desc, &mut root, query)?;
    }

    if matches!(*input.method, Method::POST | Method::PATCH)
        && let Some(key) = input.idempotency_key
    {
        apply_idempotency_key(&desc, &mut root, key)?;
    }

    DynamicMessage::deserialize(desc, Json::Object(root))
        .map_err(|e| invalid("INVALID_REQUEST", format!("the request does not match {}: {e}", rule.rpc.input().full_name())))
}

fn parse_body(body: &[u8]) -> Result<Option<Json>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|e| invalid("INVALID_REQUEST_BODY", format!("the request body is not valid JSON: {e}")))
}

fn resolve(desc: &MessageDescriptor, path: &[String]) -> Result<Vec<FieldDescriptor>, String> {
    let mut fields = Vec::with_capacity(path.len());
    let mut current = desc.clone();
    for (i, part) in path.iter().enumerate() {
        let field = field_by_name(&current, part).ok_or_else(|| format!("unknown field {}", path[..=i].join(".")))?;
        if i + 1 < path.len() {
            match field.kind() {
                Kind::Message(m) if !field.is_list() && !field.is_map() && !is_scalar_wkt(&m) => current = m,
                _ => return Err(format!("{} is not a message field", path[..=i].join("."))),
            }
        }
        fields.push(field);
    }
    Ok(fields)
}

/// Well-known message types whose JSON form is a string or a scalar.
fn is_scalar_wkt(m: &MessageDescriptor) -> bool {
    matches!(
        m.full_name(),
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask"
            | "google.protobuf.DoubleValue"
            | "google.protobuf.FloatValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
            | "google.protobuf.Int32Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.BoolValue"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
    )
}

/// The JSON form of a path or query value for the leaf field. Numbers are
/// passed as strings (the JSON mapping accepts both); bools and enum numbers
/// get their JSON type; anything that does not convert is left to the decoder
/// to refuse with its message.
fn coerce(fields: &[FieldDescriptor], raw: &str) -> Json {
    let Some(leaf) = fields.last() else {
        return Json::String(raw.to_owned());
    };
    let as_bool = |raw: &str| match raw {
        "true" => Json::Bool(true),
        "false" => Json::Bool(false),
        other => Json::String(other.to_owned()),
    };
    match leaf.kind() {
        Kind::Bool => as_bool(raw),
        Kind::Message(m) if m.full_name() == "google.protobuf.BoolValue" => as_bool(raw),
        Kind::Enum(_) => raw.parse::<i32>().map(Json::from).unwrap_or_else(|_| Json::String(raw.to_owned())),
        _ => Json::String(raw.to_owned()),
    }
}

/// Finds the object for the parent of `fields` in `root`, creating it, and
/// sets (or, with `append`, appends to) the leaf.
fn set_leaf(root: &mut Map<String, Json>, fields: &[FieldDescriptor], value: Json, append: bool) -> Result<(), String> {
    let Some((leaf, parents)) = fields.split_last() else {
        return Err("empty field path".into());
    };
    let mut object = root;
    for field in parents {
        let slot = take_aliased(object, field).unwrap_or(Json::Null);
        let slot = match slot {
            Json::Null => Json::Object(Map::new()),
            obj @ Json::Object(_) => obj,
            _ => return Err(format!("{} must be a JSON object", field.json_name())),
        };
        object.insert(field.json_name().to_owned(), slot);
        object = match object.get_mut(field.json_name()) {
            Some(Json::Object(map)) => map,
            _ => return Err(format!("{} must be a JSON object", field.json_name())),
        };
    }
    let previous = take_aliased(object, leaf);
    let value = if append {
        match previous {
            Some(Json::Array(mut items)) => {
                items.push(value);
                Json::Array(items)
            }
            _ => Json::Array(vec![value]),
        }
    } else {
        value
    };
    object.insert(leaf.json_name().to_owned(), value);
    Ok(())
}

/// Removes a field from a JSON object under either of its names.
fn take_aliased(object: &mut Map<String, Json>, field: &FieldDescriptor) -> Option<Json> {
    let by_json = object.remove(field.json_name());
    let by_name = if field.name() == field.json_name() { None } else { object.remove(field.name()) };
    by_json.or(by_name)
}

fn bind_query(rule: &RestRule, desc: &MessageDescriptor, root: &mut Map<String, Json>, query: &str) -> Result<(), ApiError> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = query_decode(raw_key).ok_or_else(|| invalid("INVALID_QUERY", format!("bad percent-encoding in {raw_key:?}")))?;
        let value = query_decode(raw_value).ok_or_else(|| violation("INVALID_QUERY", &key, "bad percent-encoding"))?;
        let unknown = |why: String| violation("UNKNOWN_QUERY_PARAMETER", &key, why);
        if rule.body.as_deref() == Some("*") {
            return Err(unknown("this method takes its input in the body; no query parameters".into()));
        }
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        let fields = resolve(desc, &path).map_err(unknown)?;
        if rule.template.binds(&path) {
            return Err(unknown("this field is bound by the URL path".into()));
        }
        if rule.body.as_deref() == Some(path[0].as_str()) || rule.body_field().is_some_and(|b| b == fields[0]) {
            return Err(unknown("this field is sent in the request body".into()));
        }
        let leaf = &fields[fields.len() - 1];
        if leaf.is_map() {
            return Err(unknown("map fields cannot be query parameters".into()));
        }
        if let Kind::Message(m) = leaf.kind()
            && !is_scalar_wkt(&m)
        {
            return Err(unknown("message fields cannot be query parameters; name one of their fields".into()));
        }
        set_leaf(root, &fields, coerce(&fields, &value), leaf.is_list()).map_err(|e| violation("INVALID_QUERY", &key, e))?;
    }
    Ok(())
}

fn apply_idempotency_key(desc: &MessageDescriptor, root: &mut Map<String, Json>, key: &str) -> Result<(), ApiError> {
    let Some(field) = desc.get_field_by_name("request_id") else {
        return Ok(());
    };
    if field.kind() != Kind::String || field.is_list() {
        return Ok(());
    }
    let present =
        [field.json_name(), field.name()].iter().any(|name| root.get(*name).and_then(Json::as_str).is_some_and(|s| !s.is_empty()));
    if present {
        return Ok(());
    }
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(violation(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters (a UUID is recommended)"),
        ));
    }
    take_aliased(root, &field);
    root.insert(field.json_name().to_owned(), Json::String(key.to_owned()));
    Ok(())
}

/// Decodes the response of `rule` and renders its JSON (honouring `response_body`).
pub fn render_response(rule: &RestRule, bytes: &[u8]) -> Result<Json, ApiError> {
    let message = DynamicMessage::decode(rule.rpc.output(), bytes)
        .map_err(|e| ApiError::internal(DOMAIN, &format!("undecodable response of {}: {e}", rule.rpc.full_name())))?;
    let json = serde_json::to_value(&message)
        .map_err(|e| ApiError::internal(DOMAIN, &format!("response of {} has no JSON form: {e}", rule.rpc.full_name())))?;
    let Some(field) = rule.response_field() else {
        return Ok(json);
    };
    let picked = match json {
        Json::Object(mut map) => map.remove(field.json_name()),
        _ => None,
    };
    // Default values are omitted by the JSON mapping: give the empty form of the field.
    Ok(picked.unwrap_or_else(|| {
        if field.is_list() {
            Json::Array(Vec::new())
        } else if field.is_map() || matches!(field.kind(), Kind::Message(_)) {
            Json::Object(Map::new())
        } else {
            Json::Null
        }
    }))
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_reflect::{DescriptorPool, Value};

    use crate::rules::RestRule;

    use super::*;
    use crate::rules::{RestRouter, RouteMatch, http_rules};

    fn router() -> RestRouter {
        let pool = crate::descriptors::pool().expect("descriptor set");
        RestRouter::new(http_rules(&pool, |_| true).expect("rules"))
    }

    fn build(method: Method, path: &str, query: Option<&str>, body: &str, key: Option<&str>) -> Result<DynamicMessage, ApiError> {
        let router = router();
        let RouteMatch::Found(rule, bindings) = router.find(&method, path) else {
            panic!("no route for {method} {path}");
        };
        build_request(rule, &bindings, RestInput { method: &method, query, body: body.as_bytes(), idempotency_key: key })
    }

    fn json(msg: &DynamicMessage) -> Json {
        serde_json::to_value(msg).expect("json")
    }

    #[test]
    fn path_and_query_bind_fields() {
        let msg = build(Method::GET, "/v1/structures/590000017", Some("as_of_date=2024-01-01"), "", None).expect("bind");
        assert_eq!(json(&msg), serde_json::json!({"name": "structures/590000017", "asOfDate": "2024-01-01"}));

        let msg =
            build(Method::GET, "/v1/structures", Some("page_size=20&pageToken=abc&filter=region%20%3D%20NORD"), "", None).expect("bind");
        assert_eq!(json(&msg), serde_json::json!({"pageSize": 20, "pageToken": "abc", "filter": "region = NORD"}));
    }

    #[test]
    fn unknown_query_parameter_is_refused() {
        let err = build(Method::GET, "/v1/structures", Some("page_size=2&colour=red"), "", None).expect_err("refused");
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert_eq!(err.reason, "UNKNOWN_QUERY_PARAMETER");
        assert_eq!(err.violations[0].field, "colour");
        // A path-bound field cannot be overridden from the query.
        let err = build(Method::GET, "/v1/structures/1", Some("name=structures/2"), "", None).expect_err("refused");
        assert_eq!(err.reason, "UNKNOWN_QUERY_PARAMETER");
    }

    #[test]
    fn bad_query_values_are_refused() {
        let err = build(Method::GET, "/v1/structures", Some("page_size=many"), "", None).expect_err("refused");
        assert_eq!(err.code, ErrorCode::InvalidArgument);
    }

    #[test]
    fn body_field_and_nested_path_variable() {
        let msg = build(
            Method::PATCH,
            "/v1/structures/42",
            Some("update_mask=displayName,phone&effective_date=2025-01-01"),
            r#"{"displayName": "Centre de santé", "etag": "e1"}"#,
            None,
        )
        .expect("bind");
        let j = json(&msg);
        assert_eq!(j["structure"]["name"], "structures/42");
        assert_eq!(j["structure"]["displayName"], "Centre de santé");
        assert_eq!(j["updateMask"], "displayName,phone");
        assert_eq!(j["effectiveDate"], "2025-01-01");
    }

    #[test]
    fn whole_body_with_path_variable_and_enum_by_name() {
        let msg = build(
            Method::POST,
            "/v1/structures/42:close",
            None,
            r#"{"name": "structures/other", "closeDate": "2025-06-30", "closure_type": "CLOSURE_TYPE_DEFINITIVE", "reason": "merged"}"#,
            None,
        )
        .expect("bind");
        let j = json(&msg);
        // The path wins over the body.
        assert_eq!(j["name"], "structures/42");
        assert_eq!(j["closeDate"], "2025-06-30");
        assert_eq!(j["closureType"], "CLOSURE_TYPE_DEFINITIVE");
        assert!(build(Method::POST, "/v1/structures/42:close", Some("reason=x"), "{}", None).is_err(), "no query with body *");
    }

    /// A small service whose request has the field kinds the registry lacks.
    fn synthetic_rule(template: &str) -> RestRule {
        use prost_types::field_descriptor_proto::{Label, Type};
        use prost_types::{
            DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto, FileDescriptorProto, FileDescriptorSet,
            MethodDescriptorProto, ServiceDescriptorProto,
        };
        let field = |name: &str, number: i32, label: Label, ty: Type, type_name: Option<&str>| FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            label: Some(label as i32),
            r#type: Some(ty as i32),
            type_name: type_name.map(str::to_owned),
            ..Default::default()
        };
        let file = FileDescriptorProto {
            name: Some("test/v1/things.proto".into()),
            package: Some("test.v1".into()),
            syntax: Some("proto3".into()),
            enum_type: vec![EnumDescriptorProto {
                name: Some("Colour".into()),
                value: ["COLOUR_UNSPECIFIED", "RED", "GREEN"]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| EnumValueDescriptorProto { name: Some((*n).into()), number: Some(i as i32), ..Default::default() })
                    .collect(),
                ..Default::default()
            }],
            message_type: vec![
                DescriptorProto {
                    name: Some("Range".into()),
                    field: vec![field("min_size", 1, Label::Optional, Type::Int64, None)],
                    ..Default::default()
                },
                DescriptorProto {
                    name: Some("ListThingsRequest".into()),
                    field: vec![
                        field("parent", 1, Label::Optional, Type::String, None),
                        field("tags", 2, Label::Repeated, Type::String, None),
                        field("colour", 3, Label::Optional, Type::Enum, Some(".test.v1.Colour")),
                        field("deleted", 4, Label::Optional, Type::Bool, None),
                        field("range", 5, Label::Optional, Type::Message, Some(".test.v1.Range")),
                        field("colours", 6, Label::Repeated, Type::Enum, Some(".test.v1.Colour")),
                    ],
                    ..Default::default()
                },
            ],
            service: vec![ServiceDescriptorProto {
                name: Some("Things".into()),
                method: vec![MethodDescriptorProto {
                    name: Some("ListThings".into()),
                    input_type: Some(".test.v1.ListThingsRequest".into()),
                    output_type: Some(".test.v1.ListThingsRequest".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let pool = DescriptorPool::from_file_descriptor_set(FileDescriptorSet { file: vec![file] }).expect("pool");
        let rpc = pool.get_service_by_name("test.v1.Things").and_then(|s| s.methods().next()).expect("method");
        RestRule {
            method: Method::GET,
            template: crate::template::PathTemplate::parse(template).expect("template"),
            body: None,
            response_body: None,
            rpc,
        }
    }

    #[test]
    fn query_binds_enums_repeated_bools_and_nested_fields() {
        let rule = synthetic_rule("/v1/{parent=shelves/*}/things");
        let bindings = rule.template.matches("/v1/shelves/s1/things").expect("match");
        // snake_case then lowerCamelCase for the same field: the last one wins.
        let query = "colour=GREEN&tags=a&tags=b%20c&deleted=true&range.min_size=5&range.minSize=6&colours=RED&colours=2";
        let input = RestInput { method: &Method::GET, query: Some(query), body: b"", idempotency_key: None };
        let msg = build_request(&rule, &bindings, input).expect("bind");
        assert_eq!(
            json(&msg),
            serde_json::json!({
                "parent": "shelves/s1",
                "colour": "GREEN",
                "tags": ["a", "b c"],
                "deleted": true,
                "range": {"minSize": "6"},
                "colours": ["RED", "GREEN"],
            })
        );
        // Enum by number, lowerCamelCase names.
        let input = RestInput { method: &Method::GET, query: Some("colour=1&range.minSize=7"), body: b"", idempotency_key: None };
        let j = json(&build_request(&rule, &bindings, input).expect("bind"));
        assert_eq!((j["colour"].as_str(), j["range"]["minSize"].as_str()), (Some("RED"), Some("7")));
    }

    #[test]
    fn query_refuses_unknown_names_values_and_messages() {
        let rule = synthetic_rule("/v1/{parent=shelves/*}/things");
        let bindings = rule.template.matches("/v1/shelves/s1/things").expect("match");
        for (query, reason) in [
            ("colour=BLUE", "INVALID_REQUEST"),
            ("deleted=maybe", "INVALID_REQUEST"),
            ("range=5", "UNKNOWN_QUERY_PARAMETER"),
            ("range.max=5", "UNKNOWN_QUERY_PARAMETER"),
            ("parent=shelves/x", "UNKNOWN_QUERY_PARAMETER"),
            ("size=1", "UNKNOWN_QUERY_PARAMETER"),
        ] {
            let input = RestInput { method: &Method::GET, query: Some(query), body: b"", idempotency_key: None };
            let err = build_request(&rule, &bindings, input).expect_err(query);
            assert_eq!((err.code, err.reason.as_str()), (ErrorCode::InvalidArgument, reason), "{query}: {err}");
        }
    }

    #[test]
    fn unknown_body_field_is_refused_with_the_decoder_message() {
        let err = build(Method::POST, "/v1/structures", None, r#"{"finess": "590000017", "colour": "red"}"#, None).expect_err("refused");
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        assert!(err.message.contains("colour"), "{}", err.message);
        let err = build(Method::POST, "/v1/structures", None, "{not json", None).expect_err("refused");
        assert_eq!(err.reason, "INVALID_REQUEST_BODY");
    }

    #[test]
    fn idempotency_key_fills_an_empty_request_id() {
        let msg = build(Method::POST, "/v1/structures", None, r#"{"finess": "590000017"}"#, Some("k-123")).expect("bind");
        assert_eq!(json(&msg)["requestId"], "k-123");
        // An explicit request_id wins (CloseStructure takes the whole body).
        let msg =
            build(Method::POST, "/v1/structures/1:close", None, r#"{"request_id": "mine", "reason": "x"}"#, Some("k-123")).expect("bind");
        assert_eq!(json(&msg)["requestId"], "mine");
        let err = build(Method::POST, "/v1/structures", None, "{}", Some(&"x".repeat(300))).expect_err("refused");
        assert_eq!(err.violations[0].field, "Idempotency-Key");
    }

    #[test]
    fn renders_the_response_body_field() {
        let router = router();
        let RouteMatch::Found(rule, _) = router.find(&Method::GET, "/v1/structures/1") else {
            panic!("route");
        };
        let output = rule.rpc.output();
        let mut response = DynamicMessage::new(output.clone());
        let structure_field = output.get_field_by_name("structure").expect("field");
        let Kind::Message(structure_desc) = structure_field.kind() else {
            panic!("message");
        };
        let mut structure = DynamicMessage::new(structure_desc);
        structure.set_field_by_name("finess", Value::String("590000017".into()));
        structure.set_field_by_name("display_name", Value::String("Centre".into()));
        response.set_field(&structure_field, Value::Message(structure));
        let json = render_response(rule, &response.encode_to_vec()).expect("render");
        assert_eq!(json, serde_json::json!({"finess": "590000017", "displayName": "Centre"}));
        // Absent message field → empty object.
        let empty = render_response(rule, &[]).expect("render");
        assert_eq!(empty, serde_json::json!({}));
    }
}
