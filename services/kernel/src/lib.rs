//! Domain primitives shared by every Filieris service.
//!
//! Each type is parsed once, at the service boundary, and carries its
//! validity with it: code holding a [`Finess`], [`Siret`], [`Rpps`], [`Nir`],
//! [`Period`] or [`Cents`] never re-checks it. The rules and their codes
//! (F1–F7, E1–E4, S1–S3, T1–T4, R1–R3, N1–N4) are those of
//! `shared/domain/registry.md` §2; every error names the rule it breaks.
//!
//! Act codes ([`ActCode`], NGAP and CCAM) and the keyed patient pseudonyms
//! ([`pseudonym`]) follow `shared/domain/activity.md` §4.3 and §5.

// Tests assert on known-good fixtures; unwrapping there is the clearest form.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod actcode;
pub mod cents;
pub mod csv;
pub mod date;
pub mod error;
pub mod finess;
pub mod luhn;
pub mod nir;
pub mod period;
pub mod pseudonym;
pub mod rpps;
pub mod siret;
pub mod text;

mod normalize;
mod serde_str;

pub use actcode::{ActCode, ActCodeError, CcamCode, NgapCode, Nomenclature};
pub use cents::{Cents, CentsError};
pub use date::{DateError, parse_date};
pub use error::{IdError, IdWarning};
pub use finess::{Finess, Finess8};
pub use nir::Nir;
pub use period::{Period, PeriodError, PeriodKind};
pub use pseudonym::{IdentityBasis, KeyChain, Pseudonym, PseudonymError, PseudonymKey};
pub use rpps::Rpps;
pub use siret::{Siren, Siret};
