//! Rulebook: the per-tenant YAML file of rules and policies, parsed, validated and compiled.
//!
//! [`parse`] turns a file into a [`Rulebook`] or into every [`Problem`] found in it;
//! [`Condition::eval`] and [`Template::render`] run the compiled conditions and templates.
mod check;
mod error;
mod file;
mod goals;
mod holidays;
mod model;
mod parse;
#[cfg(test)]
mod parse_tests;
mod rules;
mod runtime;
#[cfg(test)]
mod runtime_tests;
mod sender;

pub use error::{Problem, RulebookErrors};
pub use model::*;
pub use parse::parse;
pub use runtime::Bindings;
