pub mod conformance;
pub mod moto;
pub mod wire;
