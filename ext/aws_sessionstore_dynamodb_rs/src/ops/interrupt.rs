//! How a blocking call gives its thread back to Ruby.
//!
//! A session call blocks its own thread in `connect`, `read` or a lock
//! wait, with the GVL released. Ruby's unblocking function (another thread:
//! `Thread#raise`, `Timeout.timeout`, a signal) calls [`Interrupt::fire`]:
//! it shuts down the socket being waited on, which makes the `read` return
//! at once, and unparks a sleeping lock wait. The call then returns
//! [`StoreError::Interrupted`] and `helpers::gvl` lets Ruby run its
//! interrupts. The socket is registered under a lock and unregistered
//! before it is closed, so `fire` never touches a reused descriptor.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::error::StoreError;

pub struct Interrupt {
    fired: AtomicBool,
    watched: Mutex<Option<RawFd>>,
    thread: Thread,
}

impl Default for Interrupt {
    fn default() -> Self {
        Self::new()
    }
}

impl Interrupt {
    /// For calls made on the current thread.
    pub fn new() -> Self {
        Interrupt {
            fired: AtomicBool::new(false),
            watched: Mutex::new(None),
            thread: std::thread::current(),
        }
    }

    /// Asks the call to stop as soon as it can. Any thread.
    pub fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        let watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(fd) = *watched {
            // SAFETY: `fd` is open: it is unregistered (under this lock)
            // before its socket is closed. shutdown only wakes its readers.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
        drop(watched);
        self.thread.unpark();
    }

    /// Clears a fired interrupt before the call is resumed.
    pub fn reset(&self) {
        self.fired.store(false, Ordering::SeqCst);
    }

    pub fn check(&self) -> Result<(), StoreError> {
        if self.fired.load(Ordering::SeqCst) {
            Err(StoreError::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Registers the socket a call is about to wait on, until the guard
    /// drops. Fails when an interrupt came first.
    pub fn watch(&self, fd: RawFd) -> Result<Watch<'_>, StoreError> {
        *self.watched.lock().unwrap_or_else(|p| p.into_inner()) = Some(fd);
        let watch = Watch(self);
        self.check()?;
        Ok(watch)
    }

    /// Sleeps for `pause` unless interrupted first.
    pub fn sleep(&self, pause: Duration) -> Result<(), StoreError> {
        let until = Instant::now() + pause;
        loop {
            self.check()?;
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::park_timeout(until - now);
        }
    }
}

/// Unregisters the watched socket when dropped.
pub struct Watch<'a>(&'a Interrupt);

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        *self.0.watched.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;

    #[test]
    fn fire_wakes_a_sleep_and_a_blocked_read() {
        let interrupt = Arc::new(Interrupt::new());
        let other = interrupt.clone();
        let firing = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            other.fire();
        });
        let started = Instant::now();
        assert_eq!(
            interrupt.sleep(Duration::from_secs(10)),
            Err(StoreError::Interrupted)
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        firing.join().expect("thread");

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut stream = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let _server_side = listener.accept().expect("accept");
        let interrupt = Arc::new(Interrupt::new());
        let other = interrupt.clone();
        use std::os::fd::AsRawFd;
        let watch = interrupt.watch(stream.as_raw_fd()).expect("not fired yet");
        let firing = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            other.fire();
        });
        let mut buf = [0u8; 16];
        // Nothing is ever sent: only the shutdown ends this read.
        assert!(matches!(stream.read(&mut buf), Ok(0) | Err(_)));
        drop(watch);
        assert_eq!(interrupt.check(), Err(StoreError::Interrupted));
        firing.join().expect("thread");
        interrupt.reset();
        assert!(interrupt.check().is_ok());
    }
}
