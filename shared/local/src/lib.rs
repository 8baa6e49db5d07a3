//! nudge on one machine: the console sender and publisher (texts and events printed or
//! appended to a file instead of sent) and the simulation that fast-forwards the real engine
//! over the embedded SQLite store. `nudge dev`, `nudge simulate` and `nudge rules plan` are
//! built on these.
pub mod console;
pub mod conversion;
pub mod simulation;
