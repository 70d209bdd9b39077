use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use atomic_waker::AtomicWaker;
use crossbeam_channel::{Receiver, Sender, TryRecvError};

/// The sending half of a [`Mailbox`]; cheap to clone and `Send`, so any core
/// (or the main thread) can post to any other core.
pub struct MailboxSender<T> {
    tx: Sender<T>,
    waker: Arc<AtomicWaker>,
}

impl<T> Clone for MailboxSender<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl<T> MailboxSender<T> {
    /// Posts a message and wakes the receiving task. Returns the message
    /// back when the receiver is gone (its core has shut down).
    pub fn send(&self, msg: T) -> Result<(), T> {
        self.tx.send(msg).map_err(|e| e.0)?;
        self.waker.wake();
        Ok(())
    }
}

/// The receiving half: owned by one task on one core.
pub struct Mailbox<T> {
    rx: Receiver<T>,
    waker: Arc<AtomicWaker>,
}

/// Creates an unbounded mailbox. Unbounded because the messages are small
/// bookkeeping events whose producers are themselves bounded (one per
/// connection or per written chunk); a bounded channel could deadlock two
/// cores that post to each other.
pub fn mailbox<T>() -> (MailboxSender<T>, Mailbox<T>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let waker = Arc::new(AtomicWaker::new());
    (
        MailboxSender {
            tx,
            waker: waker.clone(),
        },
        Mailbox { rx, waker },
    )
}

impl<T> Mailbox<T> {
    /// Waits for the next message; `None` once every sender is gone.
    pub async fn recv(&self) -> Option<T> {
        poll_fn(|cx| {
            match self.rx.try_recv() {
                Ok(m) => return Poll::Ready(Some(m)),
                Err(TryRecvError::Disconnected) => return Poll::Ready(None),
                Err(TryRecvError::Empty) => {}
            }
            self.waker.register(cx.waker());
            // A message may have landed between the first check and the
            // registration; check again so it is not missed.
            match self.rx.try_recv() {
                Ok(m) => Poll::Ready(Some(m)),
                Err(TryRecvError::Disconnected) => Poll::Ready(None),
                Err(TryRecvError::Empty) => Poll::Pending,
            }
        })
        .await
    }

    /// Takes a message if one is waiting, without suspending.
    pub fn try_recv(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crosses_threads_and_wakes() {
        let (tx, rx) = mailbox::<u32>();
        let h = std::thread::spawn(move || {
            for i in 0..1000 {
                tx.send(i).unwrap();
            }
        });
        let got = futures_lite::future::block_on(async {
            let mut sum = 0u64;
            while let Some(v) = rx.recv().await {
                sum += u64::from(v);
            }
            sum
        });
        h.join().unwrap();
        assert_eq!(got, (0..1000u64).sum());
    }
}
