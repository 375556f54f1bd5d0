//! The OpenAPI 3.0.3 document of the REST API, generated from the same
//! descriptors and rules the transcoder serves, so it cannot drift.
//!
//! Schemas follow the protobuf JSON mapping: lowerCamelCase properties,
//! 64-bit integers as strings, enums as their value names, `Timestamp` as a
//! `date-time` string, `FieldMask` as a comma-separated string, `Struct` as a
//! free-form object. Descriptions are the proto comments.
//!
//! Path variables that bind a resource name (`{name=structures/*}`) are shown
//! as one parameter per wildcard segment (`/v1/structures/{name}`): the URL
//! is the same, and OpenAPI cannot express a parameter containing `/`.

use std::collections::{BTreeMap, HashMap, HashSet};

use http::Method;
use prost_reflect::{DescriptorPool, EnumDescriptor, ExtensionDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, Value};
use serde_json::{Map, Value as Json, json};

use crate::rules::RestRule;
use crate::template::Segment;

/// Name of the error schema and response in `components`.
const ERROR: &str = "ErrorResponse";
/// `google.api.FieldBehavior.OUTPUT_ONLY`.
const OUTPUT_ONLY: i32 = 3;
/// `google.api.FieldBehavior.REQUIRED`.
const REQUIRED: i32 = 2;
/// How deep nested message fields are flattened into query parameters.
const MAX_QUERY_DEPTH: usize = 3;

/// The OpenAPI document of `rules`.
pub fn document(pool: &DescriptorPool, rules: &[RestRule]) -> Json {
    let mut generator = Generator::new(pool, rules);
    let mut paths: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
    let mut skeleton_names: HashMap<String, Vec<String>> = HashMap::new();
    let mut operation_ids: HashSet<String> = HashSet::new();
    for rule in rules {
        let (mut path, mut params) = openapi_path(rule);
        // Two templates with the same shape must use the same parameter names.
        let skeleton = skeleton(&path);
        let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
        match skeleton_names.get(&skeleton) {
            Some(first) if *first != names && first.len() == names.len() => {
                for (p, name) in params.iter_mut().zip(first) {
                    path = path.replace(&format!("{{{}}}", p.name), &format!("{{{name}}}"));
                    p.name = name.clone();
                }
            }
            Some(_) => {}
            None => {
                skeleton_names.insert(skeleton, names);
            }
        }
        let mut id = format!("{}_{}", rule.rpc.parent_service().name(), rule.rpc.name());
        let mut n = 1;
        while !operation_ids.insert(id.clone()) {
            n += 1;
            id = format!("{}_{}_{n}", rule.rpc.parent_service().name(), rule.rpc.name());
        }
        let op = generator.operation(rule, &params, id);
        paths.entry(path).or_default().insert(rule.method.as_str().to_ascii_lowercase(), op);
    }
    let schemas = generator.finish();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Filieris API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "REST/JSON API of the Filieris platform, generated from the protobuf definitions \
                (google.api.http annotations, protobuf JSON mapping). The same methods are available over \
                gRPC and gRPC-Web on the same port. Every call needs an API key: `Authorization: Bearer <key>` \
                or `x-api-key: <key>`. Errors are `google.rpc.Status` objects with the matching HTTP status.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"apiKeyAuth": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                ERROR: {
                    "description": "An error: a `google.rpc.Status` with an `ErrorInfo` (stable `reason`, `domain`) \
                        and, for invalid input, a `BadRequest` with field violations.",
                    "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{ERROR}")}}},
                }
            },
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key as a bearer token."},
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    })
}

/// One OpenAPI path parameter.
#[derive(Debug, Clone)]
struct PathParam {
    name: String,
    /// The request field it fills.
    field: String,
    /// The resource-name pattern of the variable, e.g. `structures/{name}`.
    pattern: String,
}

/// The OpenAPI path of a rule and its path parameters.
fn openapi_path(rule: &RestRule) -> (String, Vec<PathParam>) {
    let t = &rule.template;
    let mut params = Vec::new();
    let mut rendered: Vec<String> = Vec::with_capacity(t.segments.len());
    let mut last_names: HashMap<String, usize> = HashMap::new();
    for v in &t.variables {
        *last_names.entry(v.field_path.last().cloned().unwrap_or_default()).or_default() += 1;
    }
    let mut i = 0;
    while i < t.segments.len() {
        if let Some(var) = t.variables.iter().find(|v| v.start == i) {
            let last = var.field_path.last().cloned().unwrap_or_default();
            let base = if last_names.get(&last).copied().unwrap_or(0) > 1 { var.dotted() } else { last };
            let wildcards = t.segments[var.start..var.end].iter().filter(|s| !matches!(s, Segment::Literal(_))).count();
            let mut pattern = Vec::new();
            let mut k = 0;
            for seg in &t.segments[var.start..var.end] {
                match seg {
                    Segment::Literal(l) => {
                        rendered.push(l.clone());
                        pattern.push(l.clone());
                    }
                    Segment::Single | Segment::Rest => {
                        k += 1;
                        let name = if wildcards == 1 { base.clone() } else { format!("{base}_{k}") };
                        rendered.push(format!("{{{name}}}"));
                        pattern.push(format!("{{{name}}}"));
                        params.push(PathParam { name, field: var.dotted(), pattern: String::new() });
                    }
                }
            }
            let pattern = pattern.join("/");
            for p in params.iter_mut().filter(|p| p.field == var.dotted()) {
                p.pattern = pattern.clone();
            }
            i = var.end;
        } else {
            match &t.segments[i] {
                Segment::Literal(l) => rendered.push(l.clone()),
                Segment::Single | Segment::Rest => rendered.push("*".into()),
            }
            i += 1;
        }
    }
    let mut path = format!("/{}", rendered.join("/"));
    if let Some(verb) = &t.verb {
        path.push(':');
        path.push_str(verb);
    }
    (path, params)
}

fn skeleton(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            c => out.push(c),
        }
    }
    out
}

struct Generator {
    /// Component name of each message and enum referenced.
    names: HashMap<String, String>,
    /// Messages and enums still to describe.
    pending: Vec<Described>,
    done: HashSet<String>,
    schemas: BTreeMap<String, Json>,
    comments: HashMap<String, HashMap<Vec<i32>, String>>,
    behavior: Option<ExtensionDescriptor>,
}

#[derive(Clone)]
enum Described {
    Message(MessageDescriptor),
    Enum(EnumDescriptor),
}

impl Generator {
    fn new(pool: &DescriptorPool, rules: &[RestRule]) -> Self {
        let mut generator = Self {
            names: HashMap::new(),
            pending: Vec::new(),
            done: HashSet::new(),
            schemas: BTreeMap::new(),
            comments: HashMap::new(),
            behavior: pool.get_extension_by_name("google.api.field_behavior"),
        };
        generator.assign_names(rules);
        generator
    }

    /// Short component names (without the package) unless two types share one.
    fn assign_names(&mut self, rules: &[RestRule]) {
        let mut seen: HashSet<String> = HashSet::new();
        let mut queue: Vec<MessageDescriptor> = Vec::new();
        let mut reachable: Vec<(String, String)> = Vec::new(); // (full name, short name)
        for rule in rules {
            queue.push(rule.rpc.input());
            queue.push(rule.rpc.output());
        }
        while let Some(m) = queue.pop() {
            if !seen.insert(m.full_name().to_owned()) || wkt_schema(&m).is_some() {
                continue;
            }
            reachable.push((m.full_name().to_owned(), short_name(m.full_name(), m.package_name())));
            for f in m.fields() {
                let kind = if f.is_map() { map_value(&f).map(|v| v.kind()).unwrap_or(f.kind()) } else { f.kind() };
                match kind {
                    Kind::Message(sub) => queue.push(sub),
                    Kind::Enum(e) if seen.insert(e.full_name().to_owned()) => {
                        reachable.push((e.full_name().to_owned(), short_name(e.full_name(), e.package_name())));
                    }
                    _ => {}
                }
            }
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (_, short) in &reachable {
            *counts.entry(short.as_str()).or_default() += 1;
        }
        let names: Vec<(String, String)> = reachable
            .iter()
            .map(|(full, short)| {
                let taken = counts.get(short.as_str()).copied().unwrap_or(0) > 1 || short == ERROR;
                (full.clone(), if taken { full.clone() } else { short.clone() })
            })
            .collect();
        self.names.extend(names);
    }

    fn reference(&mut self, item: Described) -> Json {
        let full = match &item {
            Described::Message(m) => m.full_name().to_owned(),
            Described::Enum(e) => e.full_name().to_owned(),
        };
        let name = self.names.entry(full.clone()).or_insert_with(|| full.clone()).clone();
        if !self.done.contains(&full) {
            self.done.insert(full);
            self.pending.push(item);
        }
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    fn finish(mut self) -> BTreeMap<String, Json> {
        while let Some(item) = self.pending.pop() {
            let (name, schema) = match item {
                Described::Message(m) => {
                    let name = self.names.get(m.full_name()).cloned().unwrap_or_else(|| m.full_name().to_owned());
                    (name, self.message_schema(&m, &[]))
                }
                Described::Enum(e) => {
                    let name = self.names.get(e.full_name()).cloned().unwrap_or_else(|| e.full_name().to_owned());
                    let mut schema = json!({
                        "type": "string",
                        "enum": e.values().map(|v| v.name().to_owned()).collect::<Vec<_>>(),
                    });
                    if let Some(doc) = self.comment(&e.parent_file(), e.path()) {
                        schema["description"] = Json::String(doc);
                    }
                    (name, schema)
                }
            };
            self.schemas.insert(name, schema);
        }
        self.schemas.insert(ERROR.to_owned(), error_schema());
        self.schemas
    }

    /// The object schema of a message, leaving out `skip` (top-level field names).
    fn message_schema(&mut self, m: &MessageDescriptor, skip: &[String]) -> Json {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for f in m.fields() {
            if skip.iter().any(|s| s == f.name()) {
                continue;
            }
            if self.behaviors(&f).contains(&REQUIRED) {
                required.push(Json::String(f.json_name().to_owned()));
            }
            let schema = self.field_schema(&f);
            properties.insert(f.json_name().to_owned(), schema);
        }
        let mut schema = json!({"type": "object", "properties": properties});
        if let Some(doc) = self.comment(&m.parent_file(), m.path()) {
            schema["description"] = Json::String(doc);
        }
        // Listed for documentation; a field REQUIRED on create may be absent from
        // an update whose mask leaves it out, so clients should not enforce it blindly.
        if !required.is_empty() {
            schema["x-required-on-create"] = Json::Array(required);
        }
        schema
    }

    fn behaviors(&self, f: &FieldDescriptor) -> Vec<i32> {
        let Some(ext) = &self.behavior else {
            return Vec::new();
        };
        let options = f.options();
        if !options.has_extension(ext) {
            return Vec::new();
        }
        match options.get_extension(ext).as_ref() {
            Value::List(items) => items.iter().filter_map(Value::as_enum_number).collect(),
            Value::EnumNumber(n) => vec![*n],
            _ => Vec::new(),
        }
    }

    /// The schema of a field's value, without its documentation.
    fn value_schema(&mut self, f: &FieldDescriptor) -> Json {
        let base = if f.is_map() {
            let value = match map_value(f) {
                Some(v) => self.kind_schema(&v.kind()),
                None => json!({}),
            };
            json!({"type": "object", "additionalProperties": value})
        } else {
            self.kind_schema(&f.kind())
        };
        if f.is_list() { json!({"type": "array", "items": base}) } else { base }
    }

    /// The schema of a field, with its comment and `readOnly` for output-only fields.
    fn field_schema(&mut self, f: &FieldDescriptor) -> Json {
        let mut schema = self.value_schema(f);
        let doc = self.comment(&f.parent_file(), f.path());
        let output_only = self.behaviors(f).contains(&OUTPUT_ONLY);
        if doc.is_none() && !output_only {
            return schema;
        }
        // OpenAPI 3.0 ignores siblings of $ref: wrap it to keep the description.
        if schema.get("$ref").is_some() {
            schema = json!({"allOf": [schema]});
        }
        if let Some(doc) = doc {
            schema["description"] = Json::String(doc);
        }
        if output_only {
            schema["readOnly"] = Json::Bool(true);
        }
        schema
    }

    fn kind_schema(&mut self, kind: &Kind) -> Json {
        match kind {
            Kind::Double => json!({"type": "number", "format": "double"}),
            Kind::Float => json!({"type": "number", "format": "float"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!({"type": "integer", "format": "int32"}),
            Kind::Uint32 | Kind::Fixed32 => json!({"type": "integer", "format": "int64", "minimum": 0}),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({"type": "string", "format": "int64"}),
            Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte"}),
            Kind::Enum(e) => self.reference(Described::Enum(e.clone())),
            Kind::Message(m) => match wkt_schema(m) {
                Some(schema) => schema,
                None => self.reference(Described::Message(m.clone())),
            },
        }
    }

    fn comment(&mut self, file: &FileDescriptor, path: &[i32]) -> Option<String> {
        let by_path = self.comments.entry(file.name().to_owned()).or_insert_with(|| {
            let mut map = HashMap::new();
            if let Some(info) = &file.file_descriptor_proto().source_code_info {
                for loc in &info.location {
                    if let Some(text) = loc.leading_comments.as_deref().map(clean_comment).filter(|t| !t.is_empty()) {
                        map.insert(loc.path.clone(), text);
                    }
                }
            }
            map
        });
        by_path.get(path).cloned()
    }

    fn operation(&mut self, rule: &RestRule, path_params: &[PathParam], operation_id: String) -> Json {
        let input = rule.rpc.input();
        let mut parameters: Vec<Json> = path_params
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "in": "path",
                    "required": true,
                    "schema": {"type": "string"},
                    "description": format!("Fills `{}` of the request with `{}`.", p.field, p.pattern),
                })
            })
            .collect();
        if rule.body.as_deref() != Some("*") {
            let mut out = Vec::new();
            self.query_params(rule, &input, &mut Vec::new(), &mut out);
            parameters.extend(out);
        }
        if matches!(rule.method, Method::POST | Method::PATCH)
            && input.get_field_by_name("request_id").is_some_and(|f| f.kind() == Kind::String)
        {
            parameters.push(json!({
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "schema": {"type": "string", "maxLength": 200},
                "description": "Sets `request_id` when the body leaves it empty: a retry with the same key returns the original response.",
            }));
        }

        let doc = self.comment(&rule.rpc.parent_file(), rule.rpc.path()).unwrap_or_default();
        let summary = doc.split("\n\n").next().unwrap_or("").replace('\n', " ");
        let mut op = json!({
            "operationId": operation_id,
            "tags": [rule.rpc.parent_service().name()],
            "summary": if summary.is_empty() { rule.rpc.name().to_owned() } else { summary },
            "description": format!("{doc}\n\ngRPC: `{}`.", rule.grpc_path()).trim().to_owned(),
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": self.response_schema(rule)}},
                },
                "default": {"$ref": format!("#/components/responses/{ERROR}")},
            },
        });
        if let Some(body) = self.request_body(rule) {
            op["requestBody"] = body;
        }
        op
    }

    fn response_schema(&mut self, rule: &RestRule) -> Json {
        match rule.response_field() {
            Some(f) => self.value_schema(&f),
            None => self.reference(Described::Message(rule.rpc.output())),
        }
    }

    fn request_body(&mut self, rule: &RestRule) -> Option<Json> {
        let schema = match rule.body.as_deref()? {
            "*" => {
                let input = rule.rpc.input();
                // Top-level fields taken from the path are not part of the body.
                let bound: Vec<String> =
                    rule.template.variables.iter().filter(|v| v.field_path.len() == 1).map(|v| v.field_path[0].clone()).collect();
                if bound.is_empty() { self.reference(Described::Message(input)) } else { self.message_schema(&input, &bound) }
            }
            _ => self.value_schema(&rule.body_field()?),
        };
        Some(json!({"required": rule.body.as_deref() != Some("*"), "content": {"application/json": {"schema": schema}}}))
    }

    /// Query parameters: the request's scalar fields not bound by the path or
    /// the body, nested messages flattened as `a.b`.
    fn query_params(&mut self, rule: &RestRule, m: &MessageDescriptor, prefix: &mut Vec<String>, out: &mut Vec<Json>) {
        for f in m.fields() {
            prefix.push(f.name().to_owned());
            let path = prefix.clone();
            let bound_here_or_below = rule.template.variables.iter().any(|v| path.starts_with(&v.field_path));
            let in_body = path.len() == 1 && rule.body.as_deref() == Some(f.name());
            if !(bound_here_or_below || in_body || f.is_map()) {
                match f.kind() {
                    Kind::Message(sub) if wkt_schema(&sub).is_none() => {
                        if !f.is_list() && prefix.len() < MAX_QUERY_DEPTH {
                            self.query_params(rule, &sub, prefix, out);
                        }
                    }
                    Kind::Message(sub) if !is_scalar_json(&sub) => {}
                    _ => {
                        let mut param = json!({
                            "name": path.join("."),
                            "in": "query",
                            "required": false,
                            "schema": self.field_schema(&f),
                        });
                        if let Some(doc) = self.comment(&f.parent_file(), f.path()) {
                            param["description"] = Json::String(doc);
                        }
                        if f.is_list() {
                            param["style"] = json!("form");
                            param["explode"] = json!(true);
                        }
                        out.push(param);
                    }
                }
            }
            prefix.pop();
        }
    }
}

fn short_name(full: &str, package: &str) -> String {
    full.strip_prefix(package).map(|s| s.trim_start_matches('.')).filter(|s| !s.is_empty()).unwrap_or(full).to_owned()
}

fn map_value(f: &FieldDescriptor) -> Option<FieldDescriptor> {
    match f.kind() {
        Kind::Message(entry) if entry.is_map_entry() => Some(entry.map_entry_value_field()),
        _ => None,
    }
}

/// Well-known types whose JSON form is a plain value (usable as a query parameter).
fn is_scalar_json(m: &MessageDescriptor) -> bool {
    !matches!(
        m.full_name(),
        "google.protobuf.Struct" | "google.protobuf.Value" | "google.protobuf.ListValue" | "google.protobuf.Any" | "google.protobuf.Empty"
    )
}

/// The schema of a well-known type, `None` for other messages.
fn wkt_schema(m: &MessageDescriptor) -> Option<Json> {
    Some(match m.full_name() {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$", "example": "3.5s"}),
        "google.protobuf.FieldMask" => {
            json!({"type": "string", "description": "Comma-separated field paths.", "example": "displayName,address"})
        }
        "google.protobuf.Struct" => json!({"type": "object", "additionalProperties": true}),
        "google.protobuf.Value" => json!({"nullable": true}),
        "google.protobuf.ListValue" => json!({"type": "array", "items": {}}),
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Any" => {
            json!({"type": "object", "properties": {"@type": {"type": "string"}}, "additionalProperties": true})
        }
        "google.protobuf.DoubleValue" => json!({"type": "number", "format": "double", "nullable": true}),
        "google.protobuf.FloatValue" => json!({"type": "number", "format": "float", "nullable": true}),
        "google.protobuf.Int64Value" => json!({"type": "string", "format": "int64", "nullable": true}),
        "google.protobuf.UInt64Value" => json!({"type": "string", "format": "uint64", "nullable": true}),
        "google.protobuf.Int32Value" => json!({"type": "integer", "format": "int32", "nullable": true}),
        "google.protobuf.UInt32Value" => json!({"type": "integer", "format": "int64", "minimum": 0, "nullable": true}),
        "google.protobuf.BoolValue" => json!({"type": "boolean", "nullable": true}),
        "google.protobuf.StringValue" => json!({"type": "string", "nullable": true}),
        "google.protobuf.BytesValue" => json!({"type": "string", "format": "byte", "nullable": true}),
        _ => return None,
    })
}

fn error_schema() -> Json {
    json!({
        "type": "object",
        "description": "A `google.rpc.Status` in its JSON form.",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "integer", "format": "int32", "description": "The HTTP status."},
                    "status": {"type": "string", "description": "The canonical gRPC code, e.g. INVALID_ARGUMENT.", "example": "INVALID_ARGUMENT"},
                    "message": {"type": "string", "description": "A developer-facing message."},
                    "details": {
                        "type": "array",
                        "description": "`google.rpc.ErrorInfo` (reason, domain, metadata), `google.rpc.BadRequest` (fieldViolations: field, description), `google.rpc.RetryInfo`, …",
                        "items": {
                            "type": "object",
                            "properties": {"@type": {"type": "string", "example": "type.googleapis.com/google.rpc.ErrorInfo"}},
                            "additionalProperties": true,
                        },
                    },
                },
            },
        },
    })
}

/// Trims the comment markers' leftovers: leading spaces per line, blank edges.
fn clean_comment(raw: &str) -> String {
    let lines: Vec<&str> = raw.lines().map(str::trim).collect();
    let text = lines.join("\n");
    text.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::http_rules;

    fn doc() -> Json {
        let pool = crate::descriptors::pool().expect("descriptor set");
        let rules = http_rules(&pool, |_| true).expect("rules");
        document(&pool, &rules)
    }

    fn param<'a>(op: &'a Json, name: &str) -> Option<&'a Json> {
        op["parameters"].as_array()?.iter().find(|p| p["name"] == name)
    }

    #[test]
    fn lists_structures_with_query_parameters() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.0.3");
        let list = &doc["paths"]["/v1/structures"]["get"];
        for name in ["page_size", "page_token", "filter", "search", "as_of_date"] {
            let p = param(list, name).unwrap_or_else(|| panic!("query parameter {name}"));
            assert_eq!(p["in"], "query");
        }
        assert_eq!(param(list, "page_size").map(|p| p["schema"]["type"].clone()), Some(json!("integer")));
        assert!(param(list, "page_size").and_then(|p| p["description"].as_str()).is_some_and(|d| d.contains("200")));
        assert_eq!(
            list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ListStructuresResponse"
        );
        assert!(doc["paths"]["/v1/structures"]["post"].is_object());
    }

    #[test]
    fn resource_paths_have_path_parameters() {
        let doc = doc();
        let get = &doc["paths"]["/v1/structures/{name}"]["get"];
        let name = param(get, "name").expect("name");
        assert_eq!(name["in"], "path");
        assert_eq!(name["required"], true);
        // response_body: the structure itself.
        assert_eq!(get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Structure");
        // The update binds structure.name at the same place: same parameter name.
        assert!(doc["paths"]["/v1/structures/{name}"]["patch"].is_object());
        let close = &doc["paths"]["/v1/structures/{name}:close"]["post"];
        assert!(param(close, "name").is_some());
        // The whole-body request leaves the path field out of the body schema.
        let body = &close["requestBody"]["content"]["application/json"]["schema"];
        assert!(body["properties"]["closeDate"].is_object() && body["properties"]["name"].is_null(), "{body}");
        assert!(doc["paths"]["/v1/structureGroups/{group}/members"]["get"].is_object());
        let patch = &doc["paths"]["/v1/structures/{name}"]["patch"];
        assert!(param(patch, "update_mask").is_some(), "non-body fields are query parameters");
        assert!(param(patch, "Idempotency-Key").is_some());
    }

    #[test]
    fn schemas_follow_the_json_mapping() {
        let doc = doc();
        let structure = &doc["components"]["schemas"]["Structure"];
        assert_eq!(structure["properties"]["finess"]["type"], "string");
        assert!(structure["properties"]["finess"]["description"].as_str().is_some_and(|d| d.contains("FINESS")));
        assert_eq!(structure["properties"]["revision"]["type"], "string", "int64 is a string");
        assert_eq!(structure["properties"]["revision"]["readOnly"], true);
        assert_eq!(structure["properties"]["createTime"]["format"], "date-time");
        assert_eq!(structure["properties"]["aliases"]["type"], "array");
        let category = &doc["components"]["schemas"]["Category"];
        assert_eq!(category["type"], "string");
        assert!(category["enum"].as_array().is_some_and(|v| !v.is_empty()));
        let fhir = &doc["paths"]["/v1/structures/{name}:fhir"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(fhir["type"], "object", "Struct is a free-form object: {fhir}");
        assert!(doc["components"]["schemas"][ERROR]["properties"]["error"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearerAuth"].is_object());
    }

    #[test]
    fn every_reference_resolves() {
        let doc = doc();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas").clone();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            if let Some(name) = r.strip_prefix("#/components/schemas/") {
                assert!(schemas.contains_key(name), "dangling {r}");
            } else {
                assert_eq!(r, format!("#/components/responses/{ERROR}"));
            }
        }
    }

    fn collect_refs(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::Object(map) => {
                for (k, v) in map {
                    if k == "$ref" {
                        out.extend(v.as_str().map(str::to_owned));
                    } else {
                        collect_refs(v, out);
                    }
                }
            }
            Json::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
            _ => {}
        }
    }

    #[test]
    fn skeletons_ignore_parameter_names() {
        assert_eq!(skeleton("/v1/structures/{name}:close"), "/v1/structures/{}:close");
    }
}
