//! The one way lakeshift runs blocking or CPU-heavy work (file parsing and encoding) off
//! the async runtime: a panic in the task becomes an error, never a crash.

use std::future::Future;

use crate::error::{Error, Result};

/// Start `work` on the blocking pool now; await the returned future for its result.
pub fn spawn_blocking<T, F>(task: &str, work: F) -> impl Future<Output = Result<T>> + use<T, F>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let task = task.to_string();
    let span = tracing::Span::current();
    let handle = tokio::task::spawn_blocking(move || span.in_scope(work));
    async move {
        match handle.await {
            Ok(result) => result,
            Err(e) => {
                let reason = match e.try_into_panic() {
                    Ok(panic) => panic_message(panic.as_ref()),
                    Err(e) => e.to_string(),
                };
                Err(Error::Internal { task, reason })
            }
        }
    }
}

/// The text a panic was raised with (`panic!("...")` carries a `String` or a `&str`).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked without a message".into())
}

/// The receiving end of a channel, as a stream.
pub fn receiver_stream<T: Send + 'static>(
    receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
