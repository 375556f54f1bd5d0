//! Authentication: who is calling.
//!
//! A request carries one credential:
//! - `Authorization: Bearer <JWT>` from a trusted OAuth2/OIDC issuer
//!   ([`jwt`], keys from a JWKS: [`jwks`]) — partners and jobs by client
//!   credentials, staff through OIDC sign-in; locally the development issuer
//!   ([`dev_issuer`]) stands in for the real one;
//! - or an API key (`Authorization: Bearer fk_…` or `x-api-key`), kept for
//!   the partners already using them ([`crate::keys`]).
//!
//! The result is an [`Identity`] holding the caller's *policy* roles; the
//! policy ([`crate::policy`]) then decides and rewrites it into the identity
//! forwarded to services.

pub mod dev_issuer;
pub mod jwks;
pub mod jwt;

use filieris_runtime::error::{ApiError, ErrorCode};
use filieris_runtime::identity::Identity;
use http::HeaderMap;

use crate::DOMAIN;
use crate::keys::{KeyStore, credential};

/// Checks credentials.
#[derive(Debug)]
pub struct Authenticator {
    keys: KeyStore,
    tokens: jwt::Verifier,
}

impl Authenticator {
    /// Accepts API keys from `keys` and tokens `tokens` verifies.
    pub fn new(keys: KeyStore, tokens: jwt::Verifier) -> Self {
        Self { keys, tokens }
    }

    /// The identity of a request: 401 when the credential is missing or
    /// invalid, 503 when the key store or the issuer's keys do not answer.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, ApiError> {
        let credential = credential(headers)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthenticated,
                DOMAIN,
                "UNAUTHENTICATED",
                "credentials are required: `Authorization: Bearer <access token or API key>` or `x-api-key: <key>`",
            )
        })?;
        if jwt::looks_like_jwt(credential) {
            if self.tokens.is_empty() {
                return Err(ApiError::new(
                    ErrorCode::Unauthenticated,
                    DOMAIN,
                    "TOKEN_ISSUER_UNKNOWN",
                    "this gateway trusts no token issuer; use an API key",
                ));
            }
            let claims = self.tokens.verify(credential).await?;
            return Ok(jwt::identity_of(&claims)?);
        }
        self.keys.identify(credential).await
    }
}
