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
    /// Who answers STOP and HELP and keeps the opt-out list in the first place.
    pub opt_outs_managed_by: OptOutManager,
}

/// Who answers STOP and HELP (`replies.opt_outs_managed_by`).
///
/// A customer must get one answer, never two. AWS End User Messaging answers STOP and HELP
/// to a number itself, and lists the number on the account's opt-out list, unless the
/// number has self-managed opt-outs enabled. So a tenant whose number has them enabled (and
/// every tenant of a gateway that does not answer) keeps `nudge`; a tenant whose number
/// leaves opt-outs to AWS says `provider`, and nudge then records the opt-out and the help
/// request without answering them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OptOutManager {
    /// nudge answers STOP (one confirmation) and HELP (the help text).
    #[default]
    Nudge,
    /// The provider answers them; nudge only records what the customer asked.
    Provider,
}

impl OptOutManager {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "nudge" => Ok(OptOutManager::Nudge),
            "provider" => Ok(OptOutManager::Provider),
            other => Err(format!(
                "`{other}` is not who manages opt-outs: use `nudge` (nudge answers STOP and HELP) or `provider` (the number's provider does)"
            )),
        }
    }

    /// Whether nudge itself answers STOP and HELP.
    pub fn nudge_answers(self) -> bool {
        self == OptOutManager::Nudge
    }
}
