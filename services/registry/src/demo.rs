// TEMPORARY placeholder: replaced by the demo data set module.
use filieris_proto::registry::{LegalEntity, Structure, StructureGroup};
pub struct DemoDataset { pub legal_entities: Vec<LegalEntity>, pub structures: Vec<DemoStructure>, pub groups: Vec<DemoGroup> }
pub struct DemoStructure { pub key: String, pub parent_key: Option<String>, pub legal_entity_key: Option<String>, pub integrated_in_key: Option<String>, pub structure: Structure }
pub struct DemoGroup { pub group: StructureGroup, pub member_keys: Vec<String> }
pub fn dataset() -> DemoDataset { DemoDataset { legal_entities: vec![], structures: vec![], groups: vec![] } }
