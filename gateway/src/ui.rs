//! Mounts the internal web UI (`filieris-ui`) with the gateway's own
//! authentication, authorisation policy and upstream configuration, so a
//! page sees exactly what the same user would get from the API.

use std::sync::Arc;

use axum::Router;

use crate::auth::dev_issuer::{DEV_USERS, DevIssuer};
use crate::{Gateway, GatewayConfig, policy};

/// The UI's routes (`/`, `/ui/…`).
pub(crate) fn router<S: Clone + Send + Sync + 'static>(
    gateway: &Arc<Gateway>,
    config: &GatewayConfig,
    dev_issuer: Option<Arc<DevIssuer>>,
) -> Router<S> {
    let authn = gateway.clone();
    let authz = gateway.clone();
    let dev_sign_in = dev_issuer.map(|issuer| filieris_ui::DevSignIn {
        users: DEV_USERS.iter().map(|u| (u.id.to_owned(), u.label.to_owned())).collect(),
        token: Arc::new(move |id: &str| DEV_USERS.iter().find(|u| u.id == id).map(|u| issuer.user_token(u))),
    });
    filieris_ui::router(filieris_ui::UiConfig {
        services: config.upstreams.iter().map(|u| (u.name.to_owned(), u.url.clone())).collect(),
        internal_key: config.common.internal_key.clone(),
        timeout: config.upstream_timeout,
        authenticate: Arc::new(move |headers| {
            let gateway = authn.clone();
            Box::pin(async move { gateway.auth.authenticate(&headers).await })
        }),
        authorize: Arc::new(move |identity, rpc| {
            authz
                .policy
                .decide(identity, &policy::RpcName(rpc.to_owned()))
                .map_err(|denial| filieris_ui::Refusal { reason: denial.reason.to_owned(), message: denial.message })
        }),
        dev_sign_in,
    })
}
