//! Activity domain: row validation at the boundary, codes, and the scopes of
//! the metrics. No I/O here.

pub mod codes;
pub mod rows;
pub mod scope;
pub mod upload;
