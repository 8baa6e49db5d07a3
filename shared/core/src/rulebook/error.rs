//! Rulebook problems: every mistake in a file, each with its line and column.
use std::fmt;

/// One mistake in a rulebook file. Line and column are 1-based (0 when unknown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// All problems found in a rulebook, ordered by position; displayed one per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulebookErrors {
    pub problems: Vec<Problem>,
}

impl RulebookErrors {
    pub fn new(mut problems: Vec<Problem>) -> Self {
        // Stable: problems found at the same place keep the order they were found in.
        problems.sort_by_key(|p| (p.line, p.column));
        RulebookErrors { problems }
    }

    pub fn len(&self) -> usize {
        self.problems.len()
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Problem> {
        self.problems.iter()
    }
}

impl fmt::Display for RulebookErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RulebookErrors {}

/// Lets callers that speak the library error type (the HTTP API, the CLI) pass problems on.
impl From<RulebookErrors> for crate::Error {
    fn from(errors: RulebookErrors) -> Self {
        crate::Error::invalid("rulebook", errors.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(line: u64, column: u64, message: &str) -> Problem {
        Problem {
            file: "r.yaml".into(),
            line,
            column,
            message: message.into(),
        }
    }

    #[test]
    fn sorts_by_position_and_displays_one_per_line() {
        let errors = RulebookErrors::new(vec![
            problem(9, 3, "late"),
            problem(2, 5, "b"),
            problem(2, 1, "a"),
        ]);
        assert_eq!(
            errors.to_string(),
            "r.yaml:2:1: a\nr.yaml:2:5: b\nr.yaml:9:3: late"
        );
        assert_eq!(errors.len(), 3);
    }
}
