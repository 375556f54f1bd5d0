//! JSON Web Key Sets: parsing the public keys of an issuer, verifying a
//! signature with one, and keeping a remote set fresh.
//!
//! Supported keys: OKP/Ed25519 (`EdDSA`), EC/P-256 (`ES256`) and RSA
//! (`RS256`); other keys in a set are skipped, not errors, because issuers
//! publish encryption and future keys next to the signing ones.
//!
//! A remote set is fetched on first use, again after [`MAX_AGE`], and on a
//! token whose `kid` it does not know (a key rotation). Refetches for
//! unknown `kid`s happen at most once per [`MIN_REFRESH`], as do retries
//! after a failed fetch, so a flood of tokens with random `kid`s cannot turn
//! the gateway into a load generator against the issuer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature;

/// A remote set is refetched when older than this.
pub const MAX_AGE: Duration = Duration::from_secs(600);
/// Fewest seconds between two fetches of a remote set.
pub const MIN_REFRESH: Duration = Duration::from_secs(30);
/// Largest JWKS document read.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// A signature algorithm the gateway may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// Ed25519.
    EdDsa,
    /// ECDSA P-256 with SHA-256 (fixed-size `r‖s` signature).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

impl Alg {
    /// Its JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    /// Parses a JOSE name; `none`, HMAC and anything else are `None`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDsa),
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }
}

/// The public part of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKey {
    /// 32-byte Ed25519 public key.
    Ed25519(Vec<u8>),
    /// Uncompressed P-256 point (`04‖x‖y`).
    P256(Vec<u8>),
    /// RSA modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// One verification key of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// Key id (`kid`), when the issuer names its keys.
    pub kid: Option<String>,
    key: PublicKey,
}

impl Jwk {
    /// An Ed25519 key from its 32 public bytes.
    pub fn ed25519(kid: Option<String>, public: &[u8]) -> Self {
        Self { kid, key: PublicKey::Ed25519(public.to_vec()) }
    }

    /// The algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        match self.key {
            PublicKey::Ed25519(_) => Alg::EdDsa,
            PublicKey::P256(_) => Alg::Es256,
            PublicKey::Rsa { .. } => Alg::Rs256,
        }
    }

    /// True when `sig` is this key's signature of `message` under `alg`.
    pub fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        if alg != self.alg() {
            return false;
        }
        match &self.key {
            PublicKey::Ed25519(public) => signature::UnparsedPublicKey::new(&signature::ED25519, public).verify(message, sig).is_ok(),
            PublicKey::P256(point) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, sig).is_ok()
            }
            PublicKey::Rsa { n, e } => signature::RsaPublicKeyComponents { n: n.as_slice(), e: e.as_slice() }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
        }
    }

    /// The key as a JWK JSON object (what the development issuer publishes).
    pub fn to_json(&self) -> serde_json::Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut v = match &self.key {
            PublicKey::Ed25519(x) => serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(x)}),
            PublicKey::P256(p) => {
                let (x, y) = p[1..].split_at(32);
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
            }
            PublicKey::Rsa { n, e } => serde_json::json!({"kty": "RSA", "n": b64(n), "e": b64(e)}),
        };
        v["alg"] = self.alg().as_str().into();
        v["use"] = "sig".into();
        if let Some(kid) = &self.kid {
            v["kid"] = kid.clone().into();
        }
        v
    }
}

/// A JWKS document that is not a key set at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a JSON Web Key Set: {0}")]
pub struct JwksError(pub String);

/// The signing keys of a JWKS document (unsupported or encryption keys skipped).
pub fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, JwksError> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| JwksError(e.to_string()))?;
    let keys = doc.get("keys").and_then(|k| k.as_array()).ok_or_else(|| JwksError("no `keys` array".into()))?;
    Ok(keys.iter().filter_map(parse_jwk).collect())
}

fn parse_jwk(v: &serde_json::Value) -> Option<Jwk> {
    let text = |name: &str| v.get(name).and_then(|x| x.as_str());
    let bytes = |name: &str| text(name).and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok());
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let key = match (text("kty")?, text("crv")) {
        ("OKP", Some("Ed25519")) => Some(PublicKey::Ed25519(bytes("x").filter(|x| x.len() == 32)?)),
        ("EC", Some("P-256")) => {
            let (x, y) = (bytes("x").filter(|x| x.len() == 32)?, bytes("y").filter(|y| y.len() == 32)?);
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Some(PublicKey::P256(point))
        }
        ("RSA", _) => Some(PublicKey::Rsa { n: bytes("n")?, e: bytes("e")? }),
        _ => None,
    }?;
    let jwk = Jwk { kid: text("kid").map(str::to_owned), key };
    // A key pinned to another algorithm than its type's is not used.
    if text("alg").is_some_and(|a| Alg::parse(a) != Some(jwk.alg())) {
        return None;
    }
    Some(jwk)
}

/// Why no key could be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyLookupError {
    /// The remote set could not be fetched (and none was ever fetched).
    #[error("the issuer's key set is unavailable: {0}")]
    Unavailable(String),
}

/// Where an issuer's keys come from.
#[derive(Debug)]
pub enum KeySource {
    /// Keys known at start (the development issuer, tests).
    Static(Vec<Jwk>),
    /// A JWKS URL, cached.
    Remote(RemoteKeys),
}

/// A cached remote key set.
#[derive(Debug)]
pub struct RemoteKeys {
    url: String,
    client: reqwest::Client,
    state: tokio::sync::Mutex<RemoteState>,
}

#[derive(Debug, Default)]
struct RemoteState {
    keys: Arc<Vec<Jwk>>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
    /// Last refetch caused by an unknown `kid`.
    kid_refetch_at: Option<Instant>,
}

impl RemoteKeys {
    /// A set fetched from `url` with a short timeout.
    pub fn new(url: String) -> Self {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_else(|_| reqwest::Client::new());
        Self { url, client, state: tokio::sync::Mutex::new(RemoteState::default()) }
    }

    async fn fetch(&self) -> Result<Vec<Jwk>, String> {
        let response = self.client.get(&self.url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("{} answered {}", self.url, response.status()));
        }
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("{} is larger than {MAX_JWKS_BYTES} bytes", self.url));
        }
        parse_jwks(&body).map_err(|e| e.to_string())
    }

    /// The keys, refreshed when stale or when `kid` is unknown (rate-limited).
    async fn keys(&self, kid: Option<&str>) -> Result<Arc<Vec<Jwk>>, KeyLookupError> {
        // One fetch at a time: concurrent callers wait for it instead of each fetching.
        let mut state = self.state.lock().await;
        let recently = |at: Option<Instant>| at.is_some_and(|at| at.elapsed() < MIN_REFRESH);
        let stale = state.fetched_at.is_none_or(|at| at.elapsed() >= MAX_AGE);
        let unknown_kid = kid.is_some_and(|k| !state.keys.iter().any(|j| j.kid.as_deref() == Some(k)));
        let refetch_stale = stale && !recently(state.attempted_at);
        let refetch_kid = !stale && unknown_kid && !recently(state.kid_refetch_at);
        if refetch_stale || refetch_kid {
            state.attempted_at = Some(Instant::now());
            if refetch_kid {
                state.kid_refetch_at = state.attempted_at;
            }
            match self.fetch().await {
                Ok(keys) => {
                    tracing::info!(url = %self.url, keys = keys.len(), "fetched the issuer's key set");
                    state.keys = Arc::new(keys);
                    state.fetched_at = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(url = %self.url, error = %e, "could not fetch the issuer's key set");
                    if state.fetched_at.is_none() {
                        return Err(KeyLookupError::Unavailable(e));
                    }
                    // Otherwise the previous keys stay in use.
                }
            }
        }
        Ok(state.keys.clone())
    }
}

impl KeySource {
    /// The keys that may have signed a token with `kid` and `alg`.
    pub async fn candidates(&self, kid: Option<&str>, alg: Alg) -> Result<Vec<Jwk>, KeyLookupError> {
        let all = match self {
            Self::Static(keys) => Arc::new(keys.clone()),
            Self::Remote(remote) => remote.keys(kid).await?,
        };
        Ok(all.iter().filter(|k| k.alg() == alg && (kid.is_none() || k.kid.as_deref() == kid)).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use ring::signature::KeyPair;

    use super::*;

    #[test]
    fn ed25519_keys_round_trip_and_verify() {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("generate");
        let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("parse");
        let jwk = Jwk::ed25519(Some("k1".into()), pair.public_key().as_ref());
        let doc = serde_json::json!({"keys": [jwk.to_json(), {"kty": "oct", "k": "AAAA"}, {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}]});
        let parsed = parse_jwks(doc.to_string().as_bytes()).expect("jwks");
        assert_eq!(parsed, vec![jwk.clone()]);
        let sig = pair.sign(b"hello");
        assert!(jwk.verify(Alg::EdDsa, b"hello", sig.as_ref()));
        assert!(!jwk.verify(Alg::EdDsa, b"hellO", sig.as_ref()));
        assert!(!jwk.verify(Alg::Es256, b"hello", sig.as_ref()), "a key verifies only its own algorithm");
    }

    #[test]
    fn es256_keys_verify() {
        let rng = ring::rand::SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("generate");
        let pair = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("parse");
        let jwk = Jwk { kid: None, key: PublicKey::P256(pair.public_key().as_ref().to_vec()) };
        let parsed = parse_jwks(serde_json::json!({"keys": [jwk.to_json()]}).to_string().as_bytes()).expect("jwks");
        let sig = pair.sign(&rng, b"msg").expect("sign");
        assert!(parsed[0].verify(Alg::Es256, b"msg", sig.as_ref()));
    }

    #[test]
    fn only_known_algorithms_parse() {
        assert_eq!(Alg::parse("EdDSA"), Some(Alg::EdDsa));
        for refused in ["none", "HS256", "RS512", "es256", ""] {
            assert_eq!(Alg::parse(refused), None, "{refused}");
        }
        assert!(parse_jwks(b"{}").is_err());
    }
}
