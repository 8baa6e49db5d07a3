//! Optimistic writes: read, change, write only if the record is still as read. When another
//! writer got there first, the whole read-change-write is done again, a few times at most.
use std::future::Future;

use crate::error::{Error, Result};

/// What one read-change-write found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Attempt<T> {
    Done(T),
    /// The record changed since it was read: read it again and retry.
    Conflict,
}

impl<T> Attempt<T> {
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Done(value) => Attempt::Done(f(value)),
            Attempt::Conflict => Attempt::Conflict,
        }
    }

    /// A write that reports a stale read as [`Error::Conflict`].
    pub(crate) fn of_write(result: Result<T>) -> Result<Attempt<T>> {
        match result {
            Ok(value) => Ok(Attempt::Done(value)),
            Err(Error::Conflict(_)) => Ok(Attempt::Conflict),
            Err(err) => Err(err),
        }
    }
}

/// Runs `attempt` until it is not a conflict, at most `attempts` times. None when every
/// attempt conflicted (the caller says which record kept changing); an error ends at once.
pub(crate) async fn retry_on_conflict<T, F, Fut>(
    attempts: usize,
    mut attempt: F,
) -> Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>>>,
{
    for _ in 0..attempts {
        if let Attempt::Done(value) = attempt().await? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    /// Runs a future that never waits (the attempts below are all ready at once).
    fn run<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the future waited"),
        }
    }

    /// Attempts that conflict `conflicts` times, then succeed; returns the result and the
    /// number of attempts made.
    fn conflicting(conflicts: usize, attempts: usize) -> (Result<Option<usize>>, usize) {
        let mut made = 0;
        let result = run(retry_on_conflict(attempts, || {
            made += 1;
            let made = made;
            async move {
                Ok(if made <= conflicts {
                    Attempt::Conflict
                } else {
                    Attempt::Done(made)
                })
            }
        }));
        (result, made)
    }

    #[test]
    fn retries_a_conflict_until_an_attempt_is_done() {
        let (result, made) = conflicting(0, 5);
        assert_eq!((result.unwrap(), made), (Some(1), 1));
        let (result, made) = conflicting(4, 5);
        assert_eq!((result.unwrap(), made), (Some(5), 5));
    }

    #[test]
    fn gives_up_after_the_last_attempt() {
        let (result, made) = conflicting(5, 5);
        assert_eq!((result.unwrap(), made), (None, 5));
    }

    #[test]
    fn an_error_ends_the_retries() {
        let mut made = 0;
        let result: Result<Option<()>> = run(retry_on_conflict(5, || {
            made += 1;
            async { Err(Error::store("unavailable")) }
        }));
        assert!(matches!(result, Err(Error::Store(_))));
        assert_eq!(made, 1);
    }

    #[test]
    fn a_stale_write_is_a_conflict() {
        assert_eq!(Attempt::of_write(Ok(3)).unwrap(), Attempt::Done(3));
        assert_eq!(
            Attempt::<u64>::of_write(Err(Error::Conflict("stale".into()))).unwrap(),
            Attempt::Conflict
        );
        assert!(Attempt::<u64>::of_write(Err(Error::store("down"))).is_err());
    }
}
