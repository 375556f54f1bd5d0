// TEMPORARY placeholder: replaced by the FHIR export module.
use filieris_proto::registry::{LegalEntity, Structure};
pub fn structure_bundle(_s: &Structure, _l: Option<&LegalEntity>, _p: Option<&Structure>) -> serde_json::Value { serde_json::json!({}) }
pub fn validate_bundle(_v: &serde_json::Value) -> Result<(), Vec<String>> { Err(vec![]) }
