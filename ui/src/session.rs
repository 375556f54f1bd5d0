//! The session: a cookie holding the bearer credential, turned into an
//! `Authorization` header and authenticated by the gateway's own function on
//! every request (no session store: revoking the credential ends the session).
//! POST forms carry a CSRF token equal to a second cookie (double submit);
//! both cookies are SameSite=Strict, HttpOnly, and Secure over HTTPS.

use http::{HeaderMap, HeaderValue};
use rand::RngCore;

/// Cookie holding the bearer credential (API key or token).
pub const SESSION_COOKIE: &str = "filieris_session";
/// Cookie holding the CSRF token.
pub const CSRF_COOKIE: &str = "filieris_csrf";
/// Longest credential kept from the sign-in form.
const MAX_TOKEN_LEN: usize = 4096;

/// Reads a cookie from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// True when the request reached the gateway over HTTPS (directly or via a proxy).
pub fn is_https(headers: &HeaderMap, uri: &http::Uri) -> bool {
    uri.scheme_str() == Some("https") || headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A `Set-Cookie` value; `None` deletes the cookie.
pub fn set_cookie(name: &str, value: Option<&str>, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    let text = match value {
        Some(v) => format!("{name}={v}; Path=/ui; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{name}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).ok()
}

/// A fresh CSRF token (128 random bits, hex).
pub fn new_csrf() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The credential a user pasted or the token endpoint returned, when it can
/// live in a cookie (visible ASCII without `;`, `,` or spaces).
pub fn acceptable_token(token: &str) -> Option<&str> {
    let t = token.trim();
    (!t.is_empty() && t.len() <= MAX_TOKEN_LEN && t.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b',')).then_some(t)
}

/// Headers the gateway's authentication reads: `Authorization: Bearer <token>`.
pub fn bearer_headers(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    headers
}

/// Constant-time comparison of two CSRF tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(http::header::COOKIE, HeaderValue::from_static("a=1; filieris_session=fk_x; filieris_csrf=ab"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("fk_x"));
        assert_eq!(cookie(&h, CSRF_COOKIE).as_deref(), Some("ab"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn cookie_attributes() {
        let c = set_cookie(SESSION_COOKIE, Some("t"), true).expect("cookie");
        assert_eq!(c.to_str().ok(), Some("filieris_session=t; Path=/ui; HttpOnly; SameSite=Strict; Secure"));
        let d = set_cookie(SESSION_COOKIE, None, false).expect("cookie");
        assert!(d.to_str().is_ok_and(|s| s.contains("Max-Age=0") && !s.contains("Secure")));
    }

    #[test]
    fn tokens() {
        assert_eq!(acceptable_token(" fk_abc "), Some("fk_abc"));
        assert_eq!(acceptable_token("a;b"), None);
        assert_eq!(acceptable_token(""), None);
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert_eq!(new_csrf().len(), 32);
    }
}
