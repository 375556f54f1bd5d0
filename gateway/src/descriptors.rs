//! The descriptor set the gateway routes and documents from: the proto
//! crate's, which keeps extension options (`google.api.http`,
//! `google.api.field_behavior`) and comments.

use prost_reflect::{DescriptorError, DescriptorPool};

/// Encoded `FileDescriptorSet` of every proto, with extension options and source info.
pub const DESCRIPTOR_SET: &[u8] = filieris_proto::FILE_DESCRIPTOR_SET;

/// The decoded pool.
pub fn pool() -> Result<DescriptorPool, DescriptorError> {
    DescriptorPool::decode(DESCRIPTOR_SET)
}
