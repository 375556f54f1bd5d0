//! The declarative authorisation policy (`gateway/policy.toml`): which roles
//! may call which RPCs, what service roles and data scopes they forward.
//!
//! The gateway resolves every call to its RPC full name
//! (`filieris.hr.v1.HrService/ListPeople`) whatever the protocol, then asks
//! [`Policy::decide`]: the answer is either the identity to forward (service
//! roles and scopes of the roles that allow the call) or a [`Denial`] with a
//! stable reason. Row-level scoping is left to the services, which read the
//! forwarded scopes (`filieris_runtime::scope::Visibility`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use filieris_runtime::error::{ApiError, ErrorCode};
use filieris_runtime::identity::{CallerKind, Identity};
use serde::Deserialize;

use crate::DOMAIN;

/// The policy shipped with the gateway.
pub const POLICY_TOML: &str = include_str!("../policy.toml");

/// `ErrorInfo.reason` of a call no role of the caller allows.
pub const DENIED: &str = "POLICY_DENIED";
/// `ErrorInfo.reason` of a caller holding no role of the policy.
pub const NO_ROLE: &str = "POLICY_NO_ROLE";
/// `ErrorInfo.reason` of a role whose required scope the caller lacks.
pub const SCOPE_MISSING: &str = "POLICY_SCOPE_MISSING";
/// `ErrorInfo.reason` of an RPC the policy does not list.
pub const UNLISTED: &str = "POLICY_RPC_UNLISTED";

/// The RPC a request resolved to, `package.Service/Method` (request extension).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RpcName(pub String);

impl RpcName {
    /// From a gRPC path `/package.Service/Method`.
    pub fn from_path(path: &str) -> Option<Self> {
        let rest = path.strip_prefix('/')?;
        let (service, method) = rest.split_once('/')?;
        (!service.is_empty() && !method.is_empty() && !method.contains('/')).then(|| Self(rest.to_owned()))
    }

    /// Service full name and method name.
    pub fn parts(&self) -> (&str, &str) {
        self.0.split_once('/').unwrap_or((self.0.as_str(), ""))
    }
}

/// A refused call (set as a response extension, for the audit layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// `POLICY_DENIED`, `POLICY_NO_ROLE`, `POLICY_SCOPE_MISSING` or `POLICY_RPC_UNLISTED`.
    pub reason: &'static str,
    /// A readable explanation naming the caller, its roles and the RPC.
    pub message: String,
    /// The RPC refused.
    pub rpc: String,
    /// The caller refused.
    pub caller: String,
}

impl From<&Denial> for ApiError {
    fn from(d: &Denial) -> Self {
        ApiError::new(ErrorCode::PermissionDenied, DOMAIN, d.reason, d.message.clone()).with_metadata("rpc", d.rpc.clone())
    }
}

/// A policy file that does not parse or contradicts itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid policy: {0}")]
pub struct PolicyError(pub String);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    services: BTreeMap<String, ServiceFile>,
    roles: BTreeMap<String, RoleFile>,
}

#[derive(Debug, Deserialize)]
struct ServiceFile {
    service: String,
    #[serde(flatten)]
    groups: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    kinds: Vec<String>,
    allow: Vec<String>,
    grants: Vec<String>,
    scopes: Option<Vec<String>>,
    scopes_from: Option<String>,
}

/// Where a role's forwarded scopes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRule {
    /// These scopes, whatever the credential says.
    Fixed(Vec<String>),
    /// The caller's scopes starting with this prefix (`structure:`,
    /// `region:`); at least one is required.
    Own(&'static str),
    /// All the caller's scopes (API keys issued with their scopes).
    Any,
}

/// One role of the policy.
#[derive(Debug, Clone)]
pub struct Role {
    /// Its name.
    pub name: String,
    kinds: Vec<CallerKind>,
    /// Groups allowed (`alias.group`), expanded.
    allowed: BTreeSet<String>,
    /// Service roles forwarded.
    pub grants: Vec<String>,
    /// Scopes forwarded.
    pub scopes: ScopeRule,
}

impl Role {
    /// The caller kinds that may hold it.
    pub fn kinds(&self) -> &[CallerKind] {
        &self.kinds
    }
}

/// The parsed policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// RPC full name → `alias.group`.
    groups: HashMap<String, String>,
    roles: BTreeMap<String, Role>,
}

impl Policy {
    /// The shipped policy. It is checked by the tests, so failing here is a
    /// build defect, reported as a start-up error.
    pub fn shipped() -> Result<Self, PolicyError> {
        Self::parse(POLICY_TOML)
    }

    /// Parses and checks a policy.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let file: File = toml::from_str(text).map_err(|e| PolicyError(e.to_string()))?;
        let mut groups = HashMap::new();
        let mut all_groups = BTreeSet::new();
        for (alias, service) in &file.services {
            for (group, methods) in &service.groups {
                let key = format!("{alias}.{group}");
                all_groups.insert(key.clone());
                for method in methods {
                    let rpc = format!("{}/{method}", service.service);
                    if let Some(previous) = groups.insert(rpc.clone(), key.clone()) {
                        return Err(PolicyError(format!("{rpc} is in both {previous} and {key}")));
                    }
                }
            }
        }
        let mut roles = BTreeMap::new();
        for (name, r) in file.roles {
            let kinds = r
                .kinds
                .iter()
                .map(|k| k.parse::<CallerKind>().map_err(|e| PolicyError(format!("role {name}: {e}"))))
                .collect::<Result<Vec<_>, _>>()?;
            let mut allowed = BTreeSet::new();
            for pattern in &r.allow {
                let matched: Vec<&String> = if pattern == "*" {
                    all_groups.iter().collect()
                } else if let Some(alias) = pattern.strip_suffix(".*") {
                    all_groups.iter().filter(|g| g.split_once('.').is_some_and(|(a, _)| a == alias)).collect()
                } else {
                    all_groups.iter().filter(|g| *g == pattern).collect()
                };
                if matched.is_empty() {
                    return Err(PolicyError(format!("role {name} allows {pattern:?}, which names no RPC group")));
                }
                allowed.extend(matched.into_iter().cloned());
            }
            let scopes = match (r.scopes, r.scopes_from.as_deref()) {
                (Some(fixed), None) => ScopeRule::Fixed(fixed),
                (None, Some("structure")) => ScopeRule::Own("structure:"),
                (None, Some("region")) => ScopeRule::Own("region:"),
                (None, Some("any")) => ScopeRule::Any,
                _ => {
                    return Err(PolicyError(format!(
                        "role {name} needs exactly one of `scopes` or `scopes_from` (structure, region, any)"
                    )));
                }
            };
            roles.insert(name.clone(), Role { name, kinds, allowed, grants: r.grants, scopes });
        }
        Ok(Self { groups, roles })
    }

    /// The group of an RPC (`hr.people`), `None` when the policy does not list it.
    pub fn group_of(&self, rpc: &str) -> Option<&str> {
        self.groups.get(rpc).map(String::as_str)
    }

    /// Every RPC the policy lists, with its group.
    pub fn listed(&self) -> impl Iterator<Item = (&str, &str)> {
        self.groups.iter().map(|(rpc, group)| (rpc.as_str(), group.as_str()))
    }

    /// The roles, by name.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// Decides a call: the identity to forward, or why it is refused.
    pub fn decide(&self, identity: &Identity, rpc: &RpcName) -> Result<Identity, Denial> {
        let deny = |reason: &'static str, message: String| Denial { reason, message, rpc: rpc.0.clone(), caller: identity.caller.clone() };
        let Some(group) = self.group_of(&rpc.0) else {
            return Err(deny(UNLISTED, format!("{} is not in the authorisation policy; nobody may call it", rpc.0)));
        };
        let held: Vec<&Role> =
            identity.roles.iter().filter_map(|r| self.roles.get(r)).filter(|role| role.kinds.contains(&identity.kind)).collect();
        if held.is_empty() {
            return Err(deny(NO_ROLE, format!("{} holds no role of the policy (roles: {})", identity.caller, listed(&identity.roles))));
        }
        let allowing: Vec<&Role> = held.iter().copied().filter(|role| role.allowed.contains(group)).collect();
        if allowing.is_empty() {
            let names: Vec<String> = held.iter().map(|r| r.name.clone()).collect();
            return Err(deny(DENIED, format!("{} (roles: {}) may not call {}", identity.caller, listed(&names), rpc.0)));
        }
        let mut roles: Vec<String> = Vec::new();
        let mut scopes: Vec<String> = Vec::new();
        let mut missing: Vec<String> = Vec::new();
        for role in &allowing {
            let own: Vec<String> = match &role.scopes {
                ScopeRule::Fixed(fixed) => fixed.clone(),
                ScopeRule::Any => identity.scopes.clone(),
                ScopeRule::Own(prefix) => {
                    let own: Vec<String> =
                        identity.scopes.iter().filter(|s| s.len() > prefix.len() && s.starts_with(prefix)).cloned().collect();
                    if own.is_empty() {
                        missing.push(format!("{} needs a {prefix}… scope", role.name));
                        continue;
                    }
                    own
                }
            };
            push_unique(&mut roles, &role.grants);
            push_unique(&mut scopes, &own);
        }
        if roles.is_empty() {
            return Err(deny(SCOPE_MISSING, format!("{}: {}", identity.caller, missing.join("; "))));
        }
        Ok(Identity { caller: identity.caller.clone(), kind: identity.kind, roles, scopes })
    }
}

fn listed(items: &[String]) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

fn push_unique(into: &mut Vec<String>, items: &[String]) {
    for item in items {
        if !into.contains(item) {
            into.push(item.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(kind: CallerKind, roles: &[&str], scopes: &[&str]) -> Identity {
        Identity {
            caller: format!("{}:t", kind.as_str()),
            kind,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn rpc(s: &str) -> RpcName {
        RpcName(s.into())
    }

    #[test]
    fn the_shipped_policy_parses() {
        let policy = Policy::shipped().expect("policy");
        assert_eq!(policy.group_of("filieris.hr.v1.HrService/ListPeople"), Some("hr.people"));
    }

    #[test]
    fn decisions_forward_grants_and_scopes() {
        let policy = Policy::shipped().expect("policy");
        let manager = who(CallerKind::Staff, &["structure_manager"], &["structure:620000018", "region:NORD"]);
        let fwd = policy.decide(&manager, &rpc("filieris.registry.v1.RegistryService/ListStructures")).expect("allowed");
        assert_eq!((fwd.roles, fwd.scopes), (vec!["reader".to_owned()], vec!["structure:620000018".to_owned()]));
        let err = policy.decide(&manager, &rpc("filieris.hr.v1.HrService/ListPeople")).expect_err("denied");
        assert_eq!(err.reason, DENIED);
        assert!(err.message.contains("structure_manager") && err.message.contains("ListPeople"), "{}", err.message);

        let scopeless = who(CallerKind::Staff, &["structure_manager"], &[]);
        let err = policy.decide(&scopeless, &rpc("filieris.registry.v1.RegistryService/ListStructures")).expect_err("denied");
        assert_eq!(err.reason, SCOPE_MISSING);

        let cdc = who(CallerKind::Partner, &["partner_cdc"], &[]);
        assert_eq!(policy.decide(&cdc, &rpc("filieris.missions.v1.MissionsService/ListClaims")).map_err(|d| d.reason), Err(DENIED));
        let fwd = policy.decide(&cdc, &rpc("filieris.missions.v1.MissionsService/ListMandates")).expect("allowed");
        assert_eq!(fwd.scopes, vec!["partner:CDC", "*"]);

        // A role is ignored when held by the wrong kind of caller.
        let fake_staff = who(CallerKind::Partner, &["head_office"], &["*"]);
        let err = policy.decide(&fake_staff, &rpc("filieris.registry.v1.RegistryService/ListStructures")).expect_err("denied");
        assert_eq!(err.reason, NO_ROLE);

        let admin = who(CallerKind::Staff, &["admin"], &[]);
        assert_eq!(policy.decide(&admin, &rpc("filieris.x.v1.New/Thing")).map_err(|d| d.reason), Err(UNLISTED));
    }

    #[test]
    fn contradictions_are_refused() {
        let twice = r#"
            [services.a]
            service = "p.A"
            read = ["M"]
            write = ["M"]
            [roles]
        "#;
        assert!(Policy::parse(twice).is_err());
        let unknown_group = r#"
            [services.a]
            service = "p.A"
            read = ["M"]
            [roles.r]
            kinds = ["staff"]
            allow = ["a.write"]
            grants = []
            scopes = []
        "#;
        assert!(Policy::parse(unknown_group).is_err());
    }

    #[test]
    fn rpc_names_from_paths() {
        assert_eq!(RpcName::from_path("/a.B/C"), Some(rpc("a.B/C")));
        assert_eq!(RpcName::from_path("/a.B/C").map(|r| r.parts().1.to_owned()).as_deref(), Some("C"));
        assert_eq!(RpcName::from_path("/a.B/"), None);
        assert_eq!(RpcName::from_path("/a.B/C/D"), None);
    }
}
