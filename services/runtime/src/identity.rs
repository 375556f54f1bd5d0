//! The caller identity the gateway forwards to services.
//!
//! The gateway authenticates the client, then writes who is calling (caller
//! id, kind, roles, scopes) into request metadata together with an
//! HMAC-SHA256 signature under the internal key. A service accepts an identity
//! only when the signature verifies, so metadata a client managed to send
//! directly to a service (bypassing the gateway) is worthless.
//!
//! Header values are percent-encoded (anything outside visible ASCII, plus `%`
//! and the `,` list separator), so any string survives the trip; the signature
//! covers the decoded fields with length prefixes, so no two identities share
//! an encoding.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use sha2::Sha256;

use crate::config::InternalKey;
use crate::error::{ApiError, ErrorCode};

/// Caller id, e.g. `partner:cdc`.
pub const CALLER_HEADER: &str = "x-filieris-caller";
/// Caller kind: `partner`, `staff`, `job` or `service`.
pub const KIND_HEADER: &str = "x-filieris-caller-kind";
/// Comma-separated roles.
pub const ROLES_HEADER: &str = "x-filieris-roles";
/// Comma-separated scopes (`*`, `region:NORD`, `structure:<id>`).
pub const SCOPES_HEADER: &str = "x-filieris-scopes";
/// Hex HMAC-SHA256 of the four fields above.
pub const SIGNATURE_HEADER: &str = "x-filieris-identity-sig";
/// Request id, propagated from the gateway through every service.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Error domain of identity failures.
const DOMAIN: &str = "filieris";
/// Version tag mixed into the signed bytes, so a future encoding cannot be
/// confused with this one.
const SIGNING_CONTEXT: &[u8] = b"filieris-identity-v1";

type HmacSha256 = Hmac<Sha256>;

/// What kind of caller an identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerKind {
    /// A partner system (CNAM/CPAM, CDC, ANGDM).
    Partner,
    /// An internal user.
    Staff,
    /// An automated job (reports, seeding).
    Job,
    /// Another platform service.
    Service,
}

impl CallerKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Partner => "partner",
            Self::Staff => "staff",
            Self::Job => "job",
            Self::Service => "service",
        }
    }
}

impl fmt::Display for CallerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown caller kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown caller kind {0:?}: expected partner, staff, job or service")]
pub struct UnknownCallerKind(pub String);

impl FromStr for CallerKind {
    type Err = UnknownCallerKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "partner" => Ok(Self::Partner),
            "staff" => Ok(Self::Staff),
            "job" => Ok(Self::Job),
            "service" => Ok(Self::Service),
            other => Err(UnknownCallerKind(other.to_owned())),
        }
    }
}

/// Who is calling, as authenticated by the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Caller id, e.g. `partner:cdc`, `staff:dev-admin`.
    pub caller: String,
    /// Kind of caller.
    pub kind: CallerKind,
    /// Roles; `admin` implies every role.
    pub roles: Vec<String>,
    /// Data scopes: `*`, `region:NORD`, `structure:<id>`.
    pub scopes: Vec<String>,
}

/// Why an identity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// No identity (or no signature) in the metadata.
    #[error("no caller identity in the request")]
    Missing,
    /// The signature does not match the fields under the internal key.
    #[error("caller identity signature is invalid")]
    BadSignature,
    /// A field does not decode.
    #[error("caller identity is malformed: {0}")]
    Malformed(String),
}

impl From<IdentityError> for ApiError {
    fn from(err: IdentityError) -> Self {
        let reason = match err {
            IdentityError::Missing => "IDENTITY_MISSING",
            IdentityError::BadSignature => "IDENTITY_SIGNATURE_INVALID",
            IdentityError::Malformed(_) => "IDENTITY_MALFORMED",
        };
        ApiError::new(ErrorCode::Unauthenticated, DOMAIN, reason, err.to_string())
    }
}

impl Identity {
    /// Hex HMAC-SHA256 of the identity under `key`.
    pub fn signature(&self, key: &InternalKey) -> String {
        hex::encode(self.mac(key).finalize().into_bytes())
    }

    /// True when the identity holds `role`; `admin` holds every role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role || r == "admin")
    }

    /// Writes the identity and its signature into `headers`, replacing any
    /// identity already there.
    pub fn write_headers(&self, key: &InternalKey, headers: &mut HeaderMap) {
        headers.insert(CALLER_HEADER, encoded_value(&encode_component(&self.caller)));
        headers.insert(KIND_HEADER, HeaderValue::from_static(self.kind.as_str()));
        // An empty list is an absent header, so a list of one empty string stays distinct.
        for (name, list) in [(ROLES_HEADER, &self.roles), (SCOPES_HEADER, &self.scopes)] {
            if list.is_empty() {
                headers.remove(name);
            } else {
                headers.insert(name, encoded_value(&encode_list(list)));
            }
        }
        headers.insert(SIGNATURE_HEADER, encoded_value(&self.signature(key)));
    }

    /// Reads and verifies an identity from HTTP headers.
    pub fn from_headers(headers: &HeaderMap, key: &InternalKey) -> Result<Identity, IdentityError> {
        let (Some(caller), Some(signature)) = (headers.get(CALLER_HEADER), headers.get(SIGNATURE_HEADER)) else {
            return Err(IdentityError::Missing);
        };
        let text = |name: &str| -> Result<Option<&str>, IdentityError> {
            headers.get(name).map(|v| v.to_str().map_err(|_| IdentityError::Malformed(format!("{name} is not ASCII")))).transpose()
        };
        let caller = decode_component(caller.to_str().map_err(|_| IdentityError::Malformed(format!("{CALLER_HEADER} is not ASCII")))?)?;
        let kind_raw = text(KIND_HEADER)?.unwrap_or_default();
        let kind = kind_raw.parse::<CallerKind>().map_err(|e| IdentityError::Malformed(e.to_string()))?;
        let roles = decode_list(text(ROLES_HEADER)?)?;
        let scopes = decode_list(text(SCOPES_HEADER)?)?;
        let identity = Identity { caller, kind, roles, scopes };
        // A non-hex signature can only be a forgery or corruption: same answer as a wrong one.
        let signature = signature.to_str().ok().and_then(|s| hex::decode(s).ok()).ok_or(IdentityError::BadSignature)?;
        identity.mac(key).verify_slice(&signature).map_err(|_| IdentityError::BadSignature)?;
        Ok(identity)
    }

    /// Reads and verifies an identity from gRPC metadata.
    pub fn from_metadata(md: &tonic::metadata::MetadataMap, key: &InternalKey) -> Result<Identity, IdentityError> {
        Self::from_headers(md.as_ref(), key)
    }

    /// Signs the identity into a request's metadata (service-to-service calls, tests).
    pub fn attach<T>(&self, key: &InternalKey, req: &mut tonic::Request<T>) {
        self.write_headers(key, req.metadata_mut().as_mut());
    }

    fn mac(&self, key: &InternalKey) -> HmacSha256 {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(key.bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(SIGNING_CONTEXT);
        let mut field = |bytes: &[u8]| {
            mac.update(&(bytes.len() as u64).to_be_bytes());
            mac.update(bytes);
        };
        field(self.caller.as_bytes());
        field(self.kind.as_str().as_bytes());
        for list in [&self.roles, &self.scopes] {
            field(&(list.len() as u64).to_be_bytes());
            for item in list {
                field(item.as_bytes());
            }
        }
        mac
    }
}

/// Verifies the identity of every incoming call and stores it in the
/// request extensions, where [`caller`] finds it.
#[derive(Clone)]
pub struct IdentityInterceptor {
    key: InternalKey,
}

impl IdentityInterceptor {
    /// An interceptor verifying under `key`.
    pub fn new(key: InternalKey) -> Self {
        Self { key }
    }
}

impl tonic::service::Interceptor for IdentityInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        match Identity::from_metadata(req.metadata(), &self.key) {
            Ok(identity) => {
                req.extensions_mut().insert(identity);
                Ok(req)
            }
            Err(err) => {
                tracing::warn!(error = %err, "refused call without a valid caller identity");
                Err(ApiError::from(err).into())
            }
        }
    }
}

/// The verified identity of a call (set by [`IdentityInterceptor`]).
pub fn caller<T>(req: &tonic::Request<T>) -> Result<&Identity, tonic::Status> {
    req.extensions().get::<Identity>().ok_or_else(|| ApiError::from(IdentityError::Missing).into())
}

/// Header value of an already-encoded (visible ASCII) string.
fn encoded_value(encoded: &str) -> HeaderValue {
    // Encoding leaves only visible ASCII, always a valid header value.
    HeaderValue::from_str(encoded).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn must_escape(b: u8) -> bool {
    !(0x21..=0x7e).contains(&b) || b == b'%' || b == b','
}

fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if must_escape(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

fn decode_component(s: &str) -> Result<String, IdentityError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(|| IdentityError::Malformed("truncated percent escape".into()))?;
            let hex = std::str::from_utf8(hex).map_err(|_| IdentityError::Malformed("bad percent escape".into()))?;
            let b = u8::from_str_radix(hex, 16).map_err(|_| IdentityError::Malformed(format!("bad percent escape %{hex}")))?;
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| IdentityError::Malformed("not UTF-8".into()))
}

fn encode_list(items: &[String]) -> String {
    items.iter().map(|s| encode_component(s)).collect::<Vec<_>>().join(",")
}

fn decode_list(s: Option<&str>) -> Result<Vec<String>, IdentityError> {
    match s {
        None => Ok(Vec::new()),
        Some(s) => s.split(',').map(decode_component).collect(),
    }
}

#[cfg(test)]
mod tests {
    use tonic::service::Interceptor;

    use super::*;

    fn key(byte: u8) -> InternalKey {
        InternalKey::from_hex(&hex::encode([byte; 32])).expect("key")
    }

    fn partner() -> Identity {
        Identity {
            caller: "partner:cdc".into(),
            kind: CallerKind::Partner,
            roles: vec!["partner".into(), "reader".into()],
            scopes: vec!["region:NORD".into(), "structure:42".into()],
        }
    }

    #[test]
    fn round_trips_through_headers() {
        let mut headers = HeaderMap::new();
        partner().write_headers(&key(1), &mut headers);
        assert_eq!(Identity::from_headers(&headers, &key(1)), Ok(partner()));
    }

    #[test]
    fn round_trips_awkward_strings_and_empty_lists() {
        let odd = Identity {
            caller: "staff:Zoé Martin, 100%".into(),
            kind: CallerKind::Staff,
            roles: vec![],
            scopes: vec!["a,b".into(), String::new(), "c".into()],
        };
        let mut headers = HeaderMap::new();
        odd.write_headers(&key(1), &mut headers);
        assert_eq!(Identity::from_headers(&headers, &key(1)), Ok(odd));
        let one_empty = Identity { roles: vec![String::new()], scopes: vec![], ..partner() };
        one_empty.write_headers(&key(1), &mut headers);
        assert_eq!(Identity::from_headers(&headers, &key(1)), Ok(one_empty));
    }

    #[test]
    fn list_boundaries_are_signed() {
        // Same concatenated text, different lists: the signatures must differ.
        let a = Identity { roles: vec!["ab".into()], ..partner() };
        let b = Identity { roles: vec!["a".into(), "b".into()], ..partner() };
        let c = Identity { roles: vec![], scopes: vec!["ab".into()], ..partner() };
        assert_ne!(a.signature(&key(1)), b.signature(&key(1)));
        assert_ne!(a.signature(&key(1)), c.signature(&key(1)));
    }

    #[test]
    fn tampered_roles_are_refused() {
        let mut headers = HeaderMap::new();
        partner().write_headers(&key(1), &mut headers);
        headers.insert(ROLES_HEADER, HeaderValue::from_static("admin"));
        assert_eq!(Identity::from_headers(&headers, &key(1)), Err(IdentityError::BadSignature));
    }

    #[test]
    fn missing_identity_is_reported_as_missing() {
        assert_eq!(Identity::from_headers(&HeaderMap::new(), &key(1)), Err(IdentityError::Missing));
        let mut headers = HeaderMap::new();
        partner().write_headers(&key(1), &mut headers);
        headers.remove(SIGNATURE_HEADER);
        assert_eq!(Identity::from_headers(&headers, &key(1)), Err(IdentityError::Missing));
    }

    #[test]
    fn wrong_key_is_refused() {
        let mut headers = HeaderMap::new();
        partner().write_headers(&key(1), &mut headers);
        assert_eq!(Identity::from_headers(&headers, &key(2)), Err(IdentityError::BadSignature));
    }

    #[test]
    fn malformed_fields_are_reported() {
        let mut headers = HeaderMap::new();
        partner().write_headers(&key(1), &mut headers);
        headers.insert(KIND_HEADER, HeaderValue::from_static("robot"));
        assert!(matches!(Identity::from_headers(&headers, &key(1)), Err(IdentityError::Malformed(_))));
        partner().write_headers(&key(1), &mut headers);
        headers.insert(CALLER_HEADER, HeaderValue::from_static("partner%2"));
        assert!(matches!(Identity::from_headers(&headers, &key(1)), Err(IdentityError::Malformed(_))));
    }

    #[test]
    fn errors_map_to_unauthenticated_with_reasons() {
        let status: tonic::Status = ApiError::from(IdentityError::BadSignature).into();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        let e = ApiError::from(IdentityError::Missing);
        assert_eq!((e.reason.as_str(), e.domain.as_str()), ("IDENTITY_MISSING", "filieris"));
        assert_eq!(ApiError::from(IdentityError::Malformed("x".into())).reason, "IDENTITY_MALFORMED");
    }

    #[test]
    fn admin_has_every_role() {
        let admin = Identity { roles: vec!["admin".into()], ..partner() };
        assert!(admin.has_role("registry-writer"));
        assert!(partner().has_role("reader"));
        assert!(!partner().has_role("registry-writer"));
    }

    #[test]
    fn kinds_parse_back() {
        for kind in [CallerKind::Partner, CallerKind::Staff, CallerKind::Job, CallerKind::Service] {
            assert_eq!(kind.as_str().parse::<CallerKind>(), Ok(kind));
        }
        assert!("robot".parse::<CallerKind>().is_err());
    }

    #[test]
    fn interceptor_inserts_the_verified_identity() {
        let mut interceptor = IdentityInterceptor::new(key(1));
        let mut req = tonic::Request::new(());
        partner().attach(&key(1), &mut req);
        let req = interceptor.call(req).expect("accepted");
        assert_eq!(caller(&req).ok(), Some(&partner()));

        let unsigned = tonic::Request::new(());
        let status = interceptor.call(unsigned).expect_err("refused");
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(caller(&tonic::Request::new(())).is_err());
    }
}
