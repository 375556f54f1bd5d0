//! The pages and which roles see them in the navigation.
//!
//! The menu offers a page when the gateway's policy lets the user call the RPC
//! that stands for it; every datum is still read with the user's own identity,
//! so the services' role checks and row scoping apply whatever the menu shows.

use filieris_runtime::identity::Identity;

use crate::Authorize;

/// A page of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Dashboard,
    Structures,
    Activity,
    Budgets,
    Hr,
    Missions,
    Actions,
    Reports,
    SignIn,
}

/// The pages of the menu, in order.
pub const PAGES: &[Page] =
    &[Page::Dashboard, Page::Structures, Page::Activity, Page::Budgets, Page::Hr, Page::Missions, Page::Actions, Page::Reports];

impl Page {
    /// The page's path.
    pub fn path(self) -> &'static str {
        match self {
            Self::Dashboard => "/ui/",
            Self::Structures => "/ui/structures",
            Self::Activity => "/ui/activite",
            Self::Budgets => "/ui/budgets",
            Self::Hr => "/ui/rh",
            Self::Missions => "/ui/missions",
            Self::Actions => "/ui/actions",
            Self::Reports => "/ui/rapports",
            Self::SignIn => "/ui/connexion",
        }
    }

    /// The menu label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Dashboard => "Tableau de bord",
            Self::Structures => "Offre de soins",
            Self::Activity => "Activité",
            Self::Budgets => "Budgets",
            Self::Hr => "RH",
            Self::Missions => "Missions déléguées",
            Self::Actions => "Plan d'actions",
            Self::Reports => "Rapports",
            Self::SignIn => "Connexion",
        }
    }

    /// The RPC that stands for the page: the page is in the user's menu when
    /// the gateway's policy lets them call it (so the menu follows the policy file).
    pub fn rpc(self) -> &'static str {
        match self {
            Self::Dashboard => "filieris.steering.v1.SteeringService/GetDashboard",
            Self::Structures => "filieris.registry.v1.RegistryService/ListStructures",
            Self::Activity => "filieris.activity.v1.ActivityService/GetOpeningRate",
            Self::Budgets => "filieris.finance.v1.BudgetService/ListBudgetLines",
            Self::Hr => "filieris.hr.v1.HrService/QueryWorkforce",
            Self::Missions => "filieris.missions.v1.MissionsService/GetMissionsMetrics",
            Self::Actions => "filieris.steering.v1.SteeringService/ListActions",
            Self::Reports => "filieris.steering.v1.SteeringService/ListIndicatorValues",
            Self::SignIn => "",
        }
    }
}

/// True when the policy opens `page` to the user; reports (national data) also need a national scope.
pub fn allowed(identity: &Identity, page: Page, authorize: &Authorize) -> bool {
    match page {
        Page::SignIn => true,
        Page::Reports if scoped(identity) => false,
        _ => authorize(identity, page.rpc()).is_ok(),
    }
}

/// True when the user may change an action's status (the steering service's writers).
pub fn may_edit_actions(identity: &Identity) -> bool {
    identity.has_role("steering")
}

/// True when the identity is limited to some structures or regions (not `*`).
pub fn scoped(identity: &Identity) -> bool {
    !identity.scopes.iter().any(|s| s == "*")
}

/// The FINESS of the structures a scoped user is limited to (`structure:<FINESS>`).
pub fn structure_scopes(identity: &Identity) -> Vec<String> {
    scoped_values(identity, "structure:")
}

/// The regions a scoped user is limited to (`region:<NORD|EST|SUD>`).
pub fn region_scopes(identity: &Identity) -> Vec<String> {
    scoped_values(identity, "region:")
}

fn scoped_values(identity: &Identity, prefix: &str) -> Vec<String> {
    if !scoped(identity) {
        return Vec::new();
    }
    identity
        .scopes
        .iter()
        .filter_map(|s| s.strip_prefix(prefix))
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use filieris_runtime::identity::CallerKind;

    use super::*;

    fn who(roles: &[&str], scopes: &[&str]) -> Identity {
        Identity {
            caller: "staff:x".into(),
            kind: CallerKind::Staff,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn menus_follow_the_policy() {
        // A stand-in policy: admins call everything, others only the registry and steering.
        let policy: Authorize = std::sync::Arc::new(|identity: &Identity, rpc: &str| {
            if identity.has_role("admin") || rpc.starts_with("filieris.registry.") || rpc.starts_with("filieris.steering.") {
                Ok(identity.clone())
            } else {
                Err(crate::Refusal { reason: "POLICY_DENIED".into(), message: String::new() })
            }
        });
        let manager = who(&["structure_manager"], &["structure:620000018"]);
        assert!(allowed(&manager, Page::Structures, &policy));
        assert!(!allowed(&manager, Page::Budgets, &policy));
        assert!(!allowed(&manager, Page::Reports, &policy), "reports are national");
        let national = who(&["head_office"], &["*"]);
        assert!(allowed(&national, Page::Reports, &policy));
        let admin = who(&["admin"], &["*"]);
        assert!(PAGES.iter().all(|p| allowed(&admin, *p, &policy)));
        assert!(may_edit_actions(&admin));
        assert!(!may_edit_actions(&manager));
    }

    #[test]
    fn scopes_narrow_only_scoped_users() {
        let manager = who(&["structure_manager"], &["structure:620000018", "structure:bad\"value"]);
        assert_eq!(structure_scopes(&manager), vec!["620000018".to_owned()]);
        assert!(region_scopes(&manager).is_empty());
        let controller = who(&["regional_controller"], &["region:NORD"]);
        assert_eq!(region_scopes(&controller), vec!["NORD".to_owned()]);
        let national = who(&["head_office"], &["*", "region:NORD"]);
        assert!(region_scopes(&national).is_empty());
    }
}
