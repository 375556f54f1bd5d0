//! REST routes derived from the `google.api.http` annotations of the
//! descriptor set, and the router choosing one for a request.

use filieris_proto::google::api::{HttpRule, http_rule::Pattern};
use http::Method;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor, Value};

use crate::template::{Bindings, PathTemplate, TemplateError};

/// Full name of the `google.api.http` method option.
pub const HTTP_EXTENSION: &str = "google.api.http";

/// One REST binding of an RPC.
#[derive(Debug, Clone)]
pub struct RestRule {
    /// HTTP method.
    pub method: Method,
    /// Path template.
    pub template: PathTemplate,
    /// `None`: no body; `Some("*")`: the whole request; `Some(field)`: one field.
    pub body: Option<String>,
    /// The response field returned instead of the whole response.
    pub response_body: Option<String>,
    /// The RPC.
    pub rpc: MethodDescriptor,
}

impl RestRule {
    /// The gRPC path of the RPC, `/<package>.<Service>/<Method>`.
    pub fn grpc_path(&self) -> String {
        format!("/{}/{}", self.rpc.parent_service().full_name(), self.rpc.name())
    }

    /// The body field, when the body is one field of the request.
    pub fn body_field(&self) -> Option<FieldDescriptor> {
        match self.body.as_deref() {
            None | Some("*") => None,
            Some(name) => self.rpc.input().get_field_by_name(name),
        }
    }

    /// The response field returned as the body, if any.
    pub fn response_field(&self) -> Option<FieldDescriptor> {
        self.response_body.as_deref().and_then(|name| self.rpc.output().get_field_by_name(name))
    }
}

/// An annotation that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The path template does not parse.
    #[error("{method}: {source}")]
    Template { method: String, source: TemplateError },
    /// The annotation names a field the message does not have, or one that cannot be bound.
    #[error("{method}: {reason}")]
    Field { method: String, reason: String },
    /// The `google.api.http` extension is missing from the descriptor set.
    #[error("the descriptor set does not define google.api.http")]
    NoExtension,
}

/// Resolves a field by proto name, then by JSON name.
pub fn field_by_name(desc: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    desc.get_field_by_name(name).or_else(|| desc.get_field_by_json_name(name))
}

/// Every REST binding of the methods of the services `keep` accepts.
pub fn http_rules(pool: &DescriptorPool, keep: impl Fn(&str) -> bool) -> Result<Vec<RestRule>, RuleError> {
    let ext = pool.get_extension_by_name(HTTP_EXTENSION).ok_or(RuleError::NoExtension)?;
    let mut rules = Vec::new();
    for service in pool.services().filter(|s| keep(s.full_name())) {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&ext) {
                continue;
            }
            let Value::Message(annotation) = options.get_extension(&ext).into_owned() else {
                continue;
            };
            let rule: HttpRule = annotation.transcode_to().map_err(|e| RuleError::Field {
                method: method.full_name().to_owned(),
                reason: format!("unreadable google.api.http option: {e}"),
            })?;
            let mut bindings = vec![rule.clone()];
            bindings.extend(rule.additional_bindings.iter().cloned());
            for binding in bindings {
                if let Some(r) = to_rule(&method, &binding)? {
                    rules.push(r);
                }
            }
        }
    }
    Ok(rules)
}

fn to_rule(method: &MethodDescriptor, rule: &HttpRule) -> Result<Option<RestRule>, RuleError> {
    let name = method.full_name().to_owned();
    let field_err = |reason: String| RuleError::Field { method: name.clone(), reason };
    let (verb, path) = match &rule.pattern {
        None => return Ok(None),
        Some(Pattern::Get(p)) => (Method::GET, p.clone()),
        Some(Pattern::Put(p)) => (Method::PUT, p.clone()),
        Some(Pattern::Post(p)) => (Method::POST, p.clone()),
        Some(Pattern::Delete(p)) => (Method::DELETE, p.clone()),
        Some(Pattern::Patch(p)) => (Method::PATCH, p.clone()),
        Some(Pattern::Custom(c)) => {
            let m = Method::from_bytes(c.kind.as_bytes()).map_err(|_| field_err(format!("invalid custom method {:?}", c.kind)))?;
            (m, c.path.clone())
        }
    };
    let template = PathTemplate::parse(&path).map_err(|source| RuleError::Template { method: name.clone(), source })?;
    let input = method.input();
    for var in &template.variables {
        let leaf = resolve_path(&input, &var.field_path).map_err(&field_err)?;
        if leaf.is_list() || leaf.is_map() || matches!(leaf.kind(), Kind::Message(_)) {
            return Err(field_err(format!("path variable {} must be a singular scalar field", var.dotted())));
        }
    }
    let body = match rule.body.as_str() {
        "" => None,
        "*" => Some("*".to_owned()),
        field => {
            input.get_field_by_name(field).ok_or_else(|| field_err(format!("body field {field:?} does not exist")))?;
            Some(field.to_owned())
        }
    };
    let response_body = match rule.response_body.as_str() {
        "" => None,
        field => {
            method.output().get_field_by_name(field).ok_or_else(|| field_err(format!("response_body field {field:?} does not exist")))?;
            Some(field.to_owned())
        }
    };
    Ok(Some(RestRule { method: verb, template, body, response_body, rpc: method.clone() }))
}

/// Resolves a dotted field path: every component but the last must be a
/// singular message field.
pub fn resolve_path(desc: &MessageDescriptor, path: &[String]) -> Result<FieldDescriptor, String> {
    let mut current = desc.clone();
    let mut found = None;
    for (i, part) in path.iter().enumerate() {
        let field = field_by_name(&current, part).ok_or_else(|| format!("{} has no field {part:?}", current.full_name()))?;
        if i + 1 < path.len() {
            match field.kind() {
                Kind::Message(m) if !field.is_list() && !field.is_map() => current = m,
                _ => return Err(format!("{part:?} in {} is not a singular message field", path.join("."))),
            }
        }
        found = Some(field);
    }
    found.ok_or_else(|| "empty field path".to_owned())
}

/// The result of routing a request.
#[derive(Debug)]
pub enum RouteMatch<'a> {
    /// A rule and the values its variables bound.
    Found(&'a RestRule, Bindings),
    /// The path exists with other methods.
    MethodNotAllowed(Vec<Method>),
    /// No rule has this path.
    NotFound,
}

/// Chooses the rule of a request.
#[derive(Debug, Clone, Default)]
pub struct RestRouter {
    rules: Vec<RestRule>,
}

impl RestRouter {
    /// A router over `rules`.
    pub fn new(rules: Vec<RestRule>) -> Self {
        Self { rules }
    }

    /// The rules.
    pub fn rules(&self) -> &[RestRule] {
        &self.rules
    }

    /// The most specific rule matching the method and path.
    pub fn find(&self, method: &Method, path: &str) -> RouteMatch<'_> {
        let mut best: Option<(&RestRule, Bindings)> = None;
        let mut allowed: Vec<Method> = Vec::new();
        for rule in &self.rules {
            let Some(bindings) = rule.template.matches(path) else {
                continue;
            };
            if rule.method != *method {
                if !allowed.contains(&rule.method) {
                    allowed.push(rule.method.clone());
                }
                continue;
            }
            if best.as_ref().is_none_or(|(b, _)| rule.template.specificity() > b.template.specificity()) {
                best = Some((rule, bindings));
            }
        }
        match best {
            Some((rule, bindings)) => RouteMatch::Found(rule, bindings),
            None if !allowed.is_empty() => RouteMatch::MethodNotAllowed(allowed),
            None => RouteMatch::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DescriptorPool {
        crate::descriptors::pool().expect("descriptor set")
    }

    fn router() -> RestRouter {
        RestRouter::new(http_rules(&pool(), |s| s.starts_with("filieris.registry.")).expect("rules"))
    }

    fn method_of(m: &RouteMatch<'_>) -> Option<String> {
        match m {
            RouteMatch::Found(rule, _) => Some(rule.rpc.name().to_owned()),
            _ => None,
        }
    }

    #[test]
    fn every_registry_rpc_with_an_annotation_is_routed() {
        let router = router();
        assert!(router.rules().len() >= 10, "{} rules", router.rules().len());
        let get = router.rules().iter().find(|r| r.rpc.name() == "GetStructure").expect("GetStructure");
        assert_eq!(get.method, Method::GET);
        assert_eq!(get.response_body.as_deref(), Some("structure"));
        assert_eq!(get.grpc_path(), "/filieris.registry.v1.RegistryService/GetStructure");
    }

    #[test]
    fn routes_requests_to_the_most_specific_rule() {
        let router = router();
        let cases = [
            (Method::GET, "/v1/structures", Some("ListStructures")),
            (Method::POST, "/v1/structures", Some("CreateStructure")),
            (Method::GET, "/v1/structures/590000017", Some("GetStructure")),
            (Method::PATCH, "/v1/structures/590000017", Some("UpdateStructure")),
            (Method::POST, "/v1/structures/590000017:close", Some("CloseStructure")),
            (Method::GET, "/v1/structures/590000017:fhir", Some("ExportStructureFhir")),
            (Method::GET, "/v1/structures/590000017:listRevisions", Some("ListStructureRevisions")),
            (Method::GET, "/v1/structureGroups/cds/members", Some("ListGroupMembers")),
            (Method::POST, "/v1/structureGroups/cds:addMember", Some("AddGroupMember")),
        ];
        for (method, path, expected) in cases {
            assert_eq!(method_of(&router.find(&method, path)).as_deref(), expected, "{method} {path}");
        }
    }

    #[test]
    fn nested_path_variables_bind_their_field_path() {
        let router = router();
        let RouteMatch::Found(_, bindings) = router.find(&Method::PATCH, "/v1/structures/42") else {
            panic!("no match");
        };
        assert_eq!(bindings, vec![(vec!["structure".to_owned(), "name".to_owned()], "structures/42".to_owned())]);
    }

    #[test]
    fn wrong_method_and_unknown_path() {
        let router = router();
        match router.find(&Method::DELETE, "/v1/structures") {
            RouteMatch::MethodNotAllowed(allowed) => {
                assert!(allowed.contains(&Method::GET) && allowed.contains(&Method::POST), "{allowed:?}")
            }
            other => panic!("expected 405, got {other:?}"),
        }
        assert!(matches!(router.find(&Method::GET, "/v1/nothing"), RouteMatch::NotFound));
        assert!(matches!(router.find(&Method::GET, "/v2/structures"), RouteMatch::NotFound));
    }
}
