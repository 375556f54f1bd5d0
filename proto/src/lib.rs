//! Generated protobuf types and gRPC stubs of the Filieris API.
//!
//! One crate compiles every package so that all services and the gateway share
//! the same types and the same descriptor set.
#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Encoded `FileDescriptorSet` of every package (reflection, REST transcoding, OpenAPI).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/filieris_descriptor.bin"));

pub mod google {
    pub mod api {
        tonic::include_proto!("google.api");
    }
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub mod filieris {
    pub mod r#type {
        pub mod v1 {
            tonic::include_proto!("filieris.r#type.v1");
        }
    }
    pub mod registry {
        pub mod v1 {
            tonic::include_proto!("filieris.registry.v1");
        }
    }
    pub mod activity {
        pub mod v1 {
            tonic::include_proto!("filieris.activity.v1");
        }
    }
    pub mod finance {
        pub mod v1 {
            tonic::include_proto!("filieris.finance.v1");
        }
    }
    pub mod hr {
        pub mod v1 {
            tonic::include_proto!("filieris.hr.v1");
        }
    }
    pub mod missions {
        pub mod v1 {
            tonic::include_proto!("filieris.missions.v1");
        }
    }
    pub mod steering {
        pub mod v1 {
            tonic::include_proto!("filieris.steering.v1");
        }
    }
}

pub use filieris::activity::v1 as activity;
pub use filieris::finance::v1 as finance;
pub use filieris::hr::v1 as hr;
pub use filieris::missions::v1 as missions;
pub use filieris::registry::v1 as registry;
pub use filieris::steering::v1 as steering;
pub use filieris::r#type::v1 as types;
