//! The pages and which roles see them in the navigation.
//!
//! This only decides what the menu offers: every datum is still read with the
//! user's own identity, so the services' role checks and row scoping apply
//! whatever the menu shows.

use filieris_runtime::identity::Identity;

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

    /// Roles that see the page (`admin` sees everything); `None`: every signed-in user.
    fn roles(self) -> Option<&'static [&'static str]> {
        match self {
            Self::Dashboard | Self::Structures | Self::Activity | Self::SignIn => None,
            Self::Budgets => Some(&["head_office", "finance", "regional_controller", "steering", "reader"]),
            Self::Hr => Some(&["head_office", "hr", "regional_controller", "structure_manager", "reader"]),
            Self::Missions => Some(&["head_office", "missions", "missions-reader", "steering", "reader"]),
            Self::Actions => Some(&["head_office", "steering", "regional_controller", "finance", "hr", "reader"]),
            Self::Reports => Some(&["head_office", "steering", "finance", "regional_controller", "reader"]),
        }
    }
}

/// True when the user's roles open the page.
pub fn allowed(identity: &Identity, page: Page) -> bool {
    match page.roles() {
        None => true,
        Some(roles) => roles.iter().any(|r| identity.has_role(r)),
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
    fn menus_follow_roles() {
        let manager = who(&["structure_manager"], &["structure:620000018"]);
        assert!(allowed(&manager, Page::Structures));
        assert!(!allowed(&manager, Page::Budgets));
        assert!(!allowed(&manager, Page::Missions));
        let admin = who(&["admin"], &["*"]);
        assert!(PAGES.iter().all(|p| allowed(&admin, *p)));
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
