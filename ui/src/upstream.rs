//! The channel every UI call goes through: before a call leaves, the
//! gateway's policy decides it for the signed-in user exactly as it decides
//! an API call (same RPC name, same roles, same scopes), and the identity the
//! policy forwards is signed onto the request. A refusal never reaches the
//! service: it comes back as PERMISSION_DENIED with the policy's reason.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::Identity;
use tonic::body::Body;
use tonic::transport::Channel;
use tonic_types::{ErrorDetails, StatusExt};

use crate::Authorize;

/// Error domain of the refusals raised here.
const DOMAIN: &str = "gateway.filieris";

/// A service channel acting for one user.
#[derive(Clone)]
pub(crate) struct Upstream {
    pub inner: Channel,
    pub identity: Identity,
    pub key: InternalKey,
    pub authorize: Authorize,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, tonic::transport::Error>> + Send>>;

impl tower::Service<http::Request<Body>> for Upstream {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let rpc = req.uri().path().trim_start_matches('/').to_owned();
        match (self.authorize)(&self.identity, &rpc) {
            Ok(forwarded) => {
                forwarded.write_headers(&self.key, req.headers_mut());
                Box::pin(tower::Service::call(&mut self.inner, req))
            }
            Err(refusal) => {
                let details = ErrorDetails::with_error_info(refusal.reason, DOMAIN, [("rpc".to_owned(), rpc)]);
                let status = tonic::Status::with_error_details(tonic::Code::PermissionDenied, refusal.message, details);
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
