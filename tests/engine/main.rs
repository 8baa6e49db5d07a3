//! The engine end to end on the embedded store: scenarios driven by a manual clock, and
//! properties of whole simulated runs.
mod delivery;
mod fuzz;
mod goals;
mod properties;
mod scenarios;
