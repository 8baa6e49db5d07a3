//! `nudge reply classify`.
use anyhow::Result;
use nudge_core::reply::{Classifier, ReplyKind};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

pub fn run(rules: Option<&Path>, text: &str) -> Result<ExitCode> {
    let book = rules.map(super::rules::load_valid).transpose()?;
    let keywords = book
        .iter()
        .flat_map(|b| b.rules.iter().flat_map(|r| r.replies.keys().cloned()))
        .collect::<Vec<_>>();
    let classifier = Classifier::new(book.as_ref().map(|b| &b.replies), keywords);
    let result = classifier.classify(text);
    let (kind, keyword) = match &result.kind {
        ReplyKind::OptOut => ("opt_out", None),
        ReplyKind::OptIn => ("opt_in", None),
        ReplyKind::Help => ("help", None),
        ReplyKind::Keyword(k) => ("keyword", Some(k.clone())),
        ReplyKind::FreeText => ("free_text", None),
    };
    crate::outln!(
        "{}",
        json!({"kind": kind, "keyword": keyword, "normalized": result.normalized})
    );
    Ok(ExitCode::SUCCESS)
}
