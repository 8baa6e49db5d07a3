//! The tenant's reply settings as its rulebook declares them (the `replies:` section).
use crate::domain::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct ReplySettings {
    /// Words added to the built-in opt-out / opt-in / help vocabularies (normalised).
    pub extra_opt_out: Vec<String>,
    pub extra_opt_in: Vec<String>,
    pub extra_help: Vec<String>,
    pub opt_out_confirmation: String,
    pub opt_in_confirmation: String,
    pub help_text: String,
    /// How long after a message a bare keyword still refers to it.
    pub keyword_context: Span,
}
