//! placeholder

pub mod store;
