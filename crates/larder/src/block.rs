//! A minimal executor for the blocking APIs: drives one future on the calling thread.
//!
//! The blocking forms of the patterns (`ReadThrough::get`, …) run the async `Loader`
//! future here. The future must not need a runtime's reactor or timer (a loader
//! over rusqlite, or any synchronous client wrapped in `async`, qualifies); loaders over an async
//! client should be called through the `_async` forms.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` to completion on this thread, parking between wake-ups.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
