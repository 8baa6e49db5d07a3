//! Rulebook: the per-tenant YAML file of rules and policies, parsed, validated and compiled.
mod model;

pub use model::*;
