//! The steering service.
//!
//! Same shape as every Filieris service: [`domain`] (pure rules: catalogue,
//! targets, action calendar), [`error`] (one error type and its mapping),
//! [`storage`] (schema `steering`, append-only histories), [`sources`] (the
//! calls to the other services' metrics APIs), [`grpc`] (the
//! `SteeringService` adapter) and the `filieris-steering` binary.

pub mod domain;
