//! Outgoing service-to-service calls: the same trace, request id and caller
//! travel on, so a trace and an audit trail follow one request end to end.

use crate::config::InternalKey;
use crate::identity::{Identity, REQUEST_ID_HEADER};

/// What an incoming call carries that an outgoing call must pass on.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The caller the call acts for.
    pub identity: Identity,
    /// The request id of the incoming call (empty when none was sent).
    pub request_id: String,
}

impl CallContext {
    /// Reads the context of an incoming request (after the identity interceptor).
    pub fn from_request<T>(req: &tonic::Request<T>) -> Result<Self, tonic::Status> {
        let identity = crate::identity::caller(req)?.clone();
        let request_id = req.metadata().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        Ok(Self { identity, request_id })
    }

    /// Builds an outgoing request: signed identity, request id and the
    /// current span's W3C trace context.
    pub fn request<T>(&self, key: &InternalKey, message: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        self.identity.attach(key, &mut req);
        if let Ok(v) = self.request_id.parse() {
            req.metadata_mut().insert(REQUEST_ID_HEADER, v);
        }
        let mut headers = http::HeaderMap::new();
        crate::telemetry::inject_current(&mut headers);
        for (name, value) in &headers {
            if let (Ok(n), Ok(v)) = (
                tonic::metadata::MetadataKey::<tonic::metadata::Ascii>::from_bytes(name.as_str().as_bytes()),
                tonic::metadata::MetadataValue::try_from(value.as_bytes()),
            ) {
                req.metadata_mut().insert(n, v);
            }
        }
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::CallerKind;

    #[test]
    fn outgoing_requests_carry_a_verifiable_identity_and_the_request_id() {
        let key = InternalKey::from_hex(&"ab".repeat(32)).expect("key");
        let ctx = CallContext {
            identity: Identity {
                caller: "staff:alice".into(),
                kind: CallerKind::Staff,
                roles: vec!["hr".into()],
                scopes: vec!["region:NORD".into()],
            },
            request_id: "req-42".into(),
        };
        let req = ctx.request(&key, ());
        let seen = Identity::from_metadata(req.metadata(), &key).expect("signed identity");
        assert_eq!(seen, ctx.identity);
        assert_eq!(req.metadata().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()), Some("req-42"));
    }
}
