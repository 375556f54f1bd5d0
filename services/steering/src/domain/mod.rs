//! Pure rules of the steering service (no I/O): the catalogue read from the
//! reference tables ([`catalogue`]), targets and their evaluation
//! ([`targets`]), the action calendar and its counts ([`actions`]).

pub mod actions;
pub mod catalogue;
pub mod targets;
pub mod values;
