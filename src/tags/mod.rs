//! tags

pub mod api;
pub mod model;
pub mod service;
pub mod store;
