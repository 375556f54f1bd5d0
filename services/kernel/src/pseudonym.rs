//! Keyed patient pseudonyms (activity.md §5.2–5.3), shared by the activity
//! and missions services so that both produce the same value for a person.
//!
//! A pseudonym is HMAC-SHA-256 under a secret [`PseudonymKey`]. The hashed
//! message starts with a tag naming the identity basis, so the bases never
//! collide. The message layouts below are frozen: stored pseudonyms depend
//! on every byte of them.
//!
//! | Function | Basis | Message |
//! |---|---|---|
//! | [`pseudonymise_nir`] | own NIR | `NIR\0` + 13-character NIR body (no key), upper case |
//! | [`pseudonymise_insured`] | insured's NIR + birth | `INSURED\0` + NIR body + `\0` + birth date `YYYYMMDD` + `\0` + birth rank on 3 digits |
//! | [`pseudonymise_partner`] | partner pseudonym | `PARTNER\0` + partner code + `\0` + partner id |
//! | [`rotate`] | (any) | `ROTATE\0` + the 32 bytes of the old pseudonym |
//!
//! # Rotation by chaining
//!
//! The key is never replaced in place. To move from key K0 to K1:
//!
//! 1. Every stored pseudonym p is rewritten once as `rotate(K1, p)`.
//! 2. From then on, ingestion computes `rotate(K1, pseudonymise_*(K0, …))`.
//!
//! A person therefore keeps one value across the rotation, and distinct
//! counts stay continuous over the years. The price is that every key of the
//! chain must stay in the secret store. [`KeyChain`] applies the chain in
//! order, and its [`KeyChain::key_id`] (the id of the last key) is recorded
//! with the values it produces.
//!
//! The NIR never appears in a Debug or Display output, nor in an error: the
//! NIR functions cannot fail, and partner ids are not echoed.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::nir::Nir;

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted key, in bytes (the HMAC-SHA-256 output size).
pub const MIN_KEY_BYTES: usize = 32;
/// Longest accepted partner code, in characters.
pub const MAX_PARTNER_CODE_CHARS: usize = 64;
/// Longest accepted partner id, in characters.
pub const MAX_PARTNER_ID_CHARS: usize = 128;

/// Why a key, a pseudonym or a partner identifier was refused. Messages never
/// quote a key, a pseudonym or a partner id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PseudonymError {
    #[error("pseudonym key must be hexadecimal (0-9, a-f) with an even number of digits")]
    KeyNotHex,
    #[error("pseudonym key is {bytes} bytes long; at least 32 bytes (64 hex digits) are required, e.g. from `openssl rand -hex 32`")]
    KeyTooShort { bytes: usize },
    #[error("pseudonym must be exactly 64 hexadecimal digits, got {found} characters")]
    PseudonymFormat { found: usize },
    #[error("partner code {found:?} is invalid: it must be 1 to 64 characters among a-z, 0-9, '_' and '-' (e.g. cpam-lens)")]
    PartnerCode { found: String },
    #[error("partner id must be 1 to 128 visible ASCII characters (no spaces or accents); got {found} characters")]
    PartnerIdLength { found: usize },
    #[error("partner id character {position} is not visible ASCII (no spaces, control characters or accents allowed)")]
    PartnerIdCharacter { position: usize },
}

/// The secret key of the HMAC. Debug prints `PseudonymKey(***)`; there is no
/// Display, Serialize or accessor to the key bytes.
#[derive(Clone)]
pub struct PseudonymKey {
    /// HMAC state already keyed, cloned for each value.
    mac: HmacSha256,
    key_id: String,
}

impl PseudonymKey {
    /// Reads a key written in hexadecimal (surrounding whitespace ignored,
    /// upper or lower case), at least [`MIN_KEY_BYTES`] bytes.
    pub fn from_hex(text: &str) -> Result<Self, PseudonymError> {
        let bytes = hex::decode(text.trim()).map_err(|_| PseudonymError::KeyNotHex)?;
        Self::from_bytes(&bytes)
    }

    /// Builds a key from raw bytes, at least [`MIN_KEY_BYTES`] of them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PseudonymError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(PseudonymError::KeyTooShort { bytes: bytes.len() });
        }
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = HmacSha256::new_from_slice(bytes).map_err(|_| PseudonymError::KeyTooShort { bytes: bytes.len() })?;
        let mut key_id = hex::encode(Sha256::digest(bytes));
        key_id.truncate(8);
        Ok(Self { mac, key_id })
    }

    /// First 8 hex digits of SHA-256 of the key: names the key that produced
    /// a value without revealing it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A keyed digest of bytes that may contain a person identifier (a hash
    /// of a request carrying NIRs, say): stored instead of a plain hash,
    /// against which anyone could test guessed NIRs. Domain-separated from
    /// the pseudonyms.
    pub fn keyed_digest(&self, bytes: &[u8]) -> [u8; 32] {
        self.hmac(&[b"DIGEST\0", bytes]).0
    }

    fn hmac(&self, parts: &[&[u8]]) -> Pseudonym {
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(part);
        }
        Pseudonym(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(***)")
    }
}

/// A keyed pseudonym: 32 bytes, written as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym([u8; 32]);

impl Pseudonym {
    /// Wraps stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({self})")
    }
}

impl FromStr for Pseudonym {
    type Err = PseudonymError;
    /// 64 hex digits, upper or lower case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| PseudonymError::PseudonymFormat { found: s.chars().count() })?;
        Ok(Self(bytes))
    }
}

impl Serialize for Pseudonym {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Pseudonym {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <String as Deserialize>::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// What a pseudonym was computed from, stored with it to measure identity
/// quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdentityBasis {
    /// The patient's own NIR (qualified identity).
    OwnNir,
    /// The insured person's NIR plus the patient's birth date and rank.
    InsuredNirWithBirth,
    /// An identifier the partner had already pseudonymised.
    PartnerPseudonym,
}

impl IdentityBasis {
    /// Upper-case name, stable for storage and APIs: "OWN_NIR",
    /// "INSURED_NIR_WITH_BIRTH", "PARTNER_PSEUDONYM".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OwnNir => "OWN_NIR",
            Self::InsuredNirWithBirth => "INSURED_NIR_WITH_BIRTH",
            Self::PartnerPseudonym => "PARTNER_PSEUDONYM",
        }
    }
}

impl fmt::Display for IdentityBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The 13-character body of a NIR: upper case, no key.
fn nir_body(nir: &Nir) -> &[u8] {
    let bytes = nir.as_str().as_bytes();
    // A Nir is always 15 ASCII characters.
    bytes.get(..13).unwrap_or(bytes)
}

/// Pseudonym of a patient identified by their own NIR.
pub fn pseudonymise_nir(key: &PseudonymKey, nir: &Nir) -> Pseudonym {
    key.hmac(&[b"NIR\0", nir_body(nir)])
}

/// Pseudonym of a patient known through the insured person's NIR: birth date
/// and birth rank keep dependants apart from the insured person and from
/// each other.
pub fn pseudonymise_insured(key: &PseudonymKey, insured: &Nir, birth_date: NaiveDate, birth_rank: u8) -> Pseudonym {
    let birth = format!("{:04}{:02}{:02}", birth_date.year(), birth_date.month(), birth_date.day());
    let rank = format!("{birth_rank:03}");
    key.hmac(&[b"INSURED\0", nir_body(insured), b"\0", birth.as_bytes(), b"\0", rank.as_bytes()])
}

/// Pseudonym of a patient sent by a partner under its own pseudonym. The
/// partner code is 1–64 characters among `a-z 0-9 _ -`, the id 1–128 visible
/// ASCII characters, taken as is (case-sensitive).
pub fn pseudonymise_partner(key: &PseudonymKey, partner_code: &str, partner_id: &str) -> Result<Pseudonym, PseudonymError> {
    let code_ok = (1..=MAX_PARTNER_CODE_CHARS).contains(&partner_code.len())
        && partner_code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if !code_ok {
        let found = partner_code.chars().take(MAX_PARTNER_CODE_CHARS).collect();
        return Err(PseudonymError::PartnerCode { found });
    }
    let id_chars = partner_id.chars().count();
    if !(1..=MAX_PARTNER_ID_CHARS).contains(&id_chars) {
        return Err(PseudonymError::PartnerIdLength { found: id_chars });
    }
    if let Some(i) = partner_id.chars().position(|c| !c.is_ascii_graphic()) {
        return Err(PseudonymError::PartnerIdCharacter { position: i + 1 });
    }
    Ok(key.hmac(&[b"PARTNER\0", partner_code.as_bytes(), b"\0", partner_id.as_bytes()]))
}

/// One rotation step: the pseudonym under `new_key` of a value computed with
/// the previous key (see the module doc).
pub fn rotate(new_key: &PseudonymKey, old: &Pseudonym) -> Pseudonym {
    new_key.hmac(&[b"ROTATE\0", &old.0])
}

/// The keys in use, oldest first: values are computed with the first key
/// and then rotated through the later ones (see the module doc).
#[derive(Debug, Clone)]
pub struct KeyChain {
    first: PseudonymKey,
    rotations: Vec<PseudonymKey>,
}

impl KeyChain {
    /// The original key and the keys rotated to since, oldest first.
    pub fn new(first: PseudonymKey, rotations: Vec<PseudonymKey>) -> Self {
        Self { first, rotations }
    }

    /// Id of the newest key, to record with the values produced.
    pub fn key_id(&self) -> &str {
        self.rotations.last().unwrap_or(&self.first).key_id()
    }

    /// Carries a value computed with the first key through every rotation.
    pub fn rotate_from_first(&self, value: Pseudonym) -> Pseudonym {
        self.rotations.iter().fold(value, |p, k| rotate(k, &p))
    }

    /// [`pseudonymise_nir`] through the chain.
    pub fn pseudonymise_nir(&self, nir: &Nir) -> Pseudonym {
        self.rotate_from_first(pseudonymise_nir(&self.first, nir))
    }

    /// [`pseudonymise_insured`] through the chain.
    pub fn pseudonymise_insured(&self, insured: &Nir, birth_date: NaiveDate, birth_rank: u8) -> Pseudonym {
        self.rotate_from_first(pseudonymise_insured(&self.first, insured, birth_date, birth_rank))
    }

    /// [`pseudonymise_partner`] through the chain.
    pub fn pseudonymise_partner(&self, partner_code: &str, partner_id: &str) -> Result<Pseudonym, PseudonymError> {
        pseudonymise_partner(&self.first, partner_code, partner_id).map(|p| self.rotate_from_first(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key1() -> PseudonymKey {
        PseudonymKey::from_hex(KEY1).unwrap()
    }

    fn key2() -> PseudonymKey {
        PseudonymKey::from_hex(&"42".repeat(32)).unwrap()
    }

    fn nir() -> Nir {
        Nir::parse("1 89 12 75 125 012 82").unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Known answers computed with an independent HMAC-SHA-256 (Python's
    /// `hmac`): they freeze the message layouts of the module doc, on which
    /// every stored pseudonym depends.
    #[test]
    fn known_answers_freeze_the_scheme() {
        let k = key1();
        assert_eq!(pseudonymise_nir(&k, &nir()).to_string(), "46f230db258b7e848710f3f7dd51d39863506d4290ede87c1497d9635c25a65a");
        let corsican = Nir::parse("2 53 07 2a 073 004 43").unwrap();
        assert_eq!(pseudonymise_nir(&k, &corsican).to_string(), "6157965ca5e625bacefa1590f7e7c454888346cd32975fd124b7702c1e672466");
        assert_eq!(
            pseudonymise_insured(&k, &nir(), date(2015, 9, 5), 2).to_string(),
            "44363638b81884e6e811f164aaad8d1b16170649f8a12350755e4f726a1bfa61"
        );
        assert_eq!(
            pseudonymise_partner(&k, "cpam-lens", "P-000123").unwrap().to_string(),
            "fad34af99b25400441dda30c4c20c9d9f82562398da7ea00937596e666ac7fe5"
        );
        assert_eq!(
            rotate(&key2(), &pseudonymise_nir(&k, &nir())).to_string(),
            "47fb57590b2e70f4d9e6cc4a1764851d39897c6007d3460812cdcc8a0ae6f02e"
        );
        assert_eq!(k.key_id(), "630dcd29");
        assert_eq!(key2().key_id(), "425ed4e4");
    }

    #[test]
    fn deterministic_and_keyed() {
        assert_eq!(pseudonymise_nir(&key1(), &nir()), pseudonymise_nir(&key1(), &nir()));
        assert_ne!(pseudonymise_nir(&key1(), &nir()), pseudonymise_nir(&key2(), &nir()));
        let other = Nir::from_body("2550814168025").unwrap();
        assert_ne!(pseudonymise_nir(&key1(), &nir()), pseudonymise_nir(&key1(), &other));
        // The NIR key is not hashed: the body decides.
        assert_eq!(pseudonymise_nir(&key1(), &nir()), pseudonymise_nir(&key1(), &Nir::parse("189127512501282").unwrap()));
    }

    #[test]
    fn bases_never_collide() {
        let k = key1();
        let own = pseudonymise_nir(&k, &nir());
        let insured = pseudonymise_insured(&k, &nir(), date(1989, 12, 1), 1);
        assert_ne!(own, insured);
        // Dependants of one insured person stay apart.
        assert_ne!(insured, pseudonymise_insured(&k, &nir(), date(2015, 9, 5), 1));
        assert_ne!(insured, pseudonymise_insured(&k, &nir(), date(1989, 12, 1), 2));
        assert_eq!(insured, pseudonymise_insured(&k, &nir(), date(1989, 12, 1), 1));
        // A partner sending the NIR body (or the whole NIR) as its id gets
        // another value than the NIR basis.
        for id in ["1891275125012", "189127512501282"] {
            assert_ne!(pseudonymise_partner(&k, "cpam-lens", id).unwrap(), own);
        }
        // The partner code is part of the value.
        assert_ne!(pseudonymise_partner(&k, "cpam-lens", "X1").unwrap(), pseudonymise_partner(&k, "cpam-arras", "X1").unwrap());
        // The separator keeps code and id apart: "a"+"b-c" is not "a-b"+"c".
        assert_ne!(pseudonymise_partner(&k, "a", "b-c").unwrap(), pseudonymise_partner(&k, "a-b", "c").unwrap());
    }

    #[test]
    fn rotation_chains() {
        let old = pseudonymise_nir(&key1(), &nir());
        let new = rotate(&key2(), &old);
        assert_eq!(new, rotate(&key2(), &old));
        assert_ne!(new, old);
        assert_ne!(new, pseudonymise_nir(&key2(), &nir()));
        // Rotation is domain-separated from the partner basis.
        assert_ne!(new, pseudonymise_partner(&key2(), "rotate", &old.to_string()).unwrap());

        let chain = KeyChain::new(key1(), vec![key2()]);
        assert_eq!(chain.pseudonymise_nir(&nir()), new);
        assert_eq!(chain.key_id(), key2().key_id());
        assert_eq!(
            chain.pseudonymise_insured(&nir(), date(2015, 9, 5), 2),
            rotate(&key2(), &pseudonymise_insured(&key1(), &nir(), date(2015, 9, 5), 2))
        );
        assert_eq!(
            chain.pseudonymise_partner("cpam-lens", "P1").unwrap(),
            rotate(&key2(), &pseudonymise_partner(&key1(), "cpam-lens", "P1").unwrap())
        );
        assert!(chain.pseudonymise_partner("CPAM", "P1").is_err());

        let single = KeyChain::new(key1(), Vec::new());
        assert_eq!(single.pseudonymise_nir(&nir()), old);
        assert_eq!(single.key_id(), key1().key_id());
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(PseudonymKey::from_hex(&"ab".repeat(31)).unwrap_err(), PseudonymError::KeyTooShort { bytes: 31 });
        assert_eq!(PseudonymKey::from_bytes(&[]).unwrap_err(), PseudonymError::KeyTooShort { bytes: 0 });
        assert_eq!(PseudonymKey::from_hex(&"zz".repeat(32)).unwrap_err(), PseudonymError::KeyNotHex);
        assert_eq!(PseudonymKey::from_hex(&"a".repeat(65)).unwrap_err(), PseudonymError::KeyNotHex);
        // A secret file's newline and upper case are fine; longer keys too.
        let upper = PseudonymKey::from_hex(&format!("{}\n", KEY1.to_uppercase())).unwrap();
        assert_eq!(pseudonymise_nir(&upper, &nir()), pseudonymise_nir(&key1(), &nir()));
        assert!(PseudonymKey::from_hex(&"ab".repeat(100)).is_ok());
        assert_eq!(PseudonymKey::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap().key_id(), key1().key_id());
    }

    #[test]
    fn the_key_is_never_printed() {
        let k = key1();
        assert_eq!(format!("{k:?}"), "PseudonymKey(***)");
        let chain = format!("{:?}", KeyChain::new(k, vec![key2()]));
        assert!(!chain.contains("0102030405") && !chain.contains("4242"), "{chain}");
        let e = PseudonymKey::from_hex(&"ab".repeat(31)).unwrap_err().to_string();
        assert!(!e.contains("abab"), "{e}");
    }

    #[test]
    fn the_nir_does_not_show_through() {
        let p = pseudonymise_nir(&key1(), &nir());
        for text in [p.to_string(), format!("{p:?}"), serde_json::to_string(&p).unwrap()] {
            assert!(!text.contains("1891275125012"), "{text}");
            assert!(!text.contains("189127512501282"), "{text}");
        }
    }

    #[test]
    fn partner_identifiers_are_checked() {
        let k = key1();
        assert!(pseudonymise_partner(&k, "cpam_62-lens", &"x".repeat(128)).is_ok());
        let code_err = |code: &str| pseudonymise_partner(&k, code, "P1").unwrap_err();
        for bad in ["", "CPAM", "cpam lens", "cpam.lens", "cpàm"] {
            assert!(matches!(code_err(bad), PseudonymError::PartnerCode { .. }), "{bad:?}");
        }
        assert!(matches!(code_err(&"a".repeat(65)), PseudonymError::PartnerCode { .. }));
        let id_err = |id: &str| pseudonymise_partner(&k, "cpam-lens", id).unwrap_err();
        assert_eq!(id_err(""), PseudonymError::PartnerIdLength { found: 0 });
        assert_eq!(id_err(&"x".repeat(129)), PseudonymError::PartnerIdLength { found: 129 });
        assert_eq!(id_err("AB C"), PseudonymError::PartnerIdCharacter { position: 3 });
        assert_eq!(id_err("é1"), PseudonymError::PartnerIdCharacter { position: 1 });
        assert_eq!(id_err("A\u{0}"), PseudonymError::PartnerIdCharacter { position: 2 });
        // Ids are taken as is: case matters.
        assert_ne!(pseudonymise_partner(&k, "cpam-lens", "ab").unwrap(), pseudonymise_partner(&k, "cpam-lens", "AB").unwrap());
        // The id is never echoed, even when it is a NIR sent by mistake.
        let e = id_err("1 89 12 75 125 012 82").to_string();
        assert!(!e.contains("89 12"), "{e}");
    }

    #[test]
    fn pseudonym_text_and_serde() {
        let p = pseudonymise_nir(&key1(), &nir());
        let hex = p.to_string();
        assert_eq!(hex.len(), 64);
        assert_eq!(hex.parse::<Pseudonym>().unwrap(), p);
        assert_eq!(hex.to_uppercase().parse::<Pseudonym>().unwrap(), p);
        assert_eq!(Pseudonym::from_bytes(*p.as_bytes()), p);
        assert_eq!("abc".parse::<Pseudonym>().unwrap_err(), PseudonymError::PseudonymFormat { found: 3 });
        assert!(format!("{hex}0").parse::<Pseudonym>().is_err());
        assert!(hex.replacen(&hex[..1], "g", 1).parse::<Pseudonym>().is_err());
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!("\"{hex}\""));
        assert_eq!(serde_json::from_str::<Pseudonym>(&json).unwrap(), p);
        assert!(serde_json::from_str::<Pseudonym>("\"00\"").is_err());
        assert_eq!(format!("{p:?}"), format!("Pseudonym({hex})"));
    }

    #[test]
    fn identity_basis_names() {
        let all = [IdentityBasis::OwnNir, IdentityBasis::InsuredNirWithBirth, IdentityBasis::PartnerPseudonym];
        let names: Vec<_> = all.iter().map(|b| b.as_str()).collect();
        assert_eq!(names, ["OWN_NIR", "INSURED_NIR_WITH_BIRTH", "PARTNER_PSEUDONYM"]);
        for b in all {
            assert_eq!(serde_json::to_string(&b).unwrap(), format!("\"{b}\""));
            assert_eq!(serde_json::from_str::<IdentityBasis>(&format!("\"{}\"", b.as_str())).unwrap(), b);
        }
    }

    #[test]
    fn keyed_digests_depend_on_the_key_and_differ_from_pseudonyms() {
        let a = PseudonymKey::from_bytes(&[7u8; 32]).unwrap();
        let b = PseudonymKey::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(a.keyed_digest(b"x"), a.keyed_digest(b"x"));
        assert_ne!(a.keyed_digest(b"x"), b.keyed_digest(b"x"));
        assert_ne!(a.keyed_digest(b"x").to_vec(), Sha256::digest(b"x").to_vec());
    }
}
