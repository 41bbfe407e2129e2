//! Running a request to completion even when hyper stops polling it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls a future in place, and if dropped before it finished (hyper dropped
/// the request because the client went away), hands it to a task of its own
/// to run to completion. Cheaper than a task per request, with the same
/// guarantee.
pub(crate) struct FinishOnDrop<F>(Option<Pin<Box<F>>>)
where
    F: Future + Send + 'static,
    F::Output: Send;

impl<F> FinishOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    pub(crate) fn new(future: F) -> Self {
        Self(Some(Box::pin(future)))
    }
}

impl<F> Future for FinishOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(inner) = self.0.as_mut() else {
            return Poll::Pending; // polled after completion: never resolves again
        };
        let out = std::task::ready!(inner.as_mut().poll(cx));
        self.0 = None;
        Poll::Ready(out)
    }
}

impl<F> Drop for FinishOnDrop<F>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    fn drop(&mut self) {
        if let (Some(unfinished), Ok(runtime)) =
            (self.0.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(unfinished);
        }
    }
}
