//! The one place where native work runs without Ruby's GVL.
//!
//! `nogvl` takes a future built only from owned Rust data and drives it on
//! the process's runtime from the calling thread. When Ruby wants the
//! thread back (`Thread#raise`, `Timeout.timeout`, a signal), the unblocking
//! function wakes the wait; we take the GVL back and let Ruby run its
//! interrupts. If they raise, the future is dropped, which cancels the
//! request in flight (the SDK never hands its connection to another call
//! mid-exchange); otherwise the same pinned future resumes where it was.
//! Panics are caught and become `Errors::InternalError`, never `fatal`.
//!
//! The unblocking function is async-signal-safe, and Ruby is told so
//! (`RB_NOGVL_UBF_ASYNC_SAFE`): in a process with a single Ruby thread
//! (Unicorn workers, rake tasks, scripts) Ruby then calls it from its signal
//! handler, instead of starting and joining a helper Ruby thread around every
//! call to deliver signals (~75 µs of CPU per call on Ruby 3.1, measured).
//! From a signal handler it only sets a flag, which the wait checks every
//! [`FLAG_CHECK`]; from another thread (`Thread#raise`, Timeout, Ruby's
//! timer thread) it also wakes the wait at once.

use std::ffi::c_void;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use magnus::{Error, Ruby};
use rb_sys::{rb_nogvl, rb_thread_check_ints, Qnil, RB_NOGVL_UBF_ASYNC_SAFE};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::error::StoreError;
use crate::helpers::runtime;

/// How often a wait looks at the flag a signal handler may have set: the
/// most a signal (Ctrl-C, SIGTERM) waits in a single-threaded process.
const FLAG_CHECK: Duration = Duration::from_millis(20);

/// Ruby's request to give the thread back.
struct Wake {
    /// Set by the unblocking function, from any context.
    requested: AtomicBool,
    /// Wakes the wait at once; only used from another thread (not
    /// async-signal-safe).
    notify: Notify,
    /// The thread that waits: the unblocking function running on it can
    /// only be Ruby's signal handler.
    waiter: libc::pthread_t,
}

struct Call<'a, T> {
    future: Pin<&'a mut (dyn Future<Output = T> + Send)>,
    runtime: &'a Runtime,
    wake: &'a Wake,
    /// `None` until `run` has been called; then the future's output, `Ok(None)`
    /// when woken by Ruby, or the panic's message.
    outcome: Option<Result<Option<T>, String>>,
}

unsafe extern "C" fn run<T>(data: *mut c_void) -> *mut c_void {
    // SAFETY: `data` is the `Call` on `nogvl`'s stack, alive for this call.
    let call = unsafe { &mut *(data as *mut Call<'_, T>) };
    let future = call.future.as_mut();
    let wake = call.wake;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        call.runtime.block_on(async move {
            tokio::select! {
                biased;
                _ = wake.notify.notified() => None,
                _ = flag_set(&wake.requested) => None,
                value = future => Some(value),
            }
        })
    }))
    .map_err(panic_message);
    call.outcome = Some(outcome);
    std::ptr::null_mut()
}

/// Completes once `flag` is set, looking every [`FLAG_CHECK`]: a signal
/// handler can set a flag but not wake a future.
async fn flag_set(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        tokio::time::sleep(FLAG_CHECK).await;
    }
}

/// Async-signal-safe: an atomic store, `pthread_self` and, only when not
/// on the waiting thread (so not in its signal handler), a Notify.
unsafe extern "C" fn unblock(data: *mut c_void) {
    // SAFETY: `data` is the `Wake` on `drive`'s stack, alive while Ruby may
    // call this (Ruby clears the unblocking function before it returns).
    let wake = unsafe { &*(data as *const Wake) };
    wake.requested.store(true, Ordering::Release);
    // SAFETY: pthread_self has no preconditions.
    if unsafe { libc::pthread_self() } != wake.waiter {
        // Notify keeps a permit when nobody waits yet, so a wake-up that
        // races the start is not lost.
        wake.notify.notify_one();
    }
}

/// Runs `future` to completion with the GVL released and maps its error to
/// the Ruby exception classes defined in `lib/.../errors.rb`.
pub fn nogvl<T, F>(ruby: &Ruby, future: F) -> Result<T, Error>
where
    F: Future<Output = Result<T, StoreError>> + Send,
    T: Send,
{
    let runtime = runtime::current().map_err(|e| e.into_ruby(ruby))?;
    drive(ruby, &runtime, future)
}

fn drive<T, F>(ruby: &Ruby, runtime: &Runtime, future: F) -> Result<T, Error>
where
    F: Future<Output = Result<T, StoreError>> + Send,
    T: Send,
{
    let wake = Wake {
        requested: AtomicBool::new(false),
        notify: Notify::new(),
        // SAFETY: pthread_self has no preconditions.
        waiter: unsafe { libc::pthread_self() },
    };
    let mut future = std::pin::pin!(future);
    loop {
        // A request already served by running the interrupts below.
        wake.requested.store(false, Ordering::Release);
        let mut call: Call<'_, Result<T, StoreError>> = Call {
            future: future.as_mut(),
            runtime,
            wake: &wake,
            outcome: None,
        };
        let call_ptr = &mut call as *mut Call<'_, Result<T, StoreError>> as *mut c_void;
        let wake_ptr = &wake as *const Wake as *mut c_void;
        // `protect`: without RB_NOGVL_INTR_FAIL, rb_nogvl may raise a
        // pending interrupt.
        magnus::rb_sys::protect(|| unsafe {
            rb_nogvl(
                Some(run::<Result<T, StoreError>>),
                call_ptr,
                Some(unblock),
                wake_ptr,
                RB_NOGVL_UBF_ASYNC_SAFE as _,
            );
            Qnil as _
        })?;
        match call.outcome.take() {
            Some(Ok(Some(result))) => return result.map_err(|e| e.into_ruby(ruby)),
            Some(Err(message)) => {
                return Err(StoreError::Internal(format!("native panic: {message}")).into_ruby(ruby))
            }
            // Woken by Ruby, or never started because an interrupt was
            // pending: run the interrupts (may raise and cancel), then resume.
            Some(Ok(None)) | None => {
                magnus::rb_sys::protect(|| unsafe {
                    rb_thread_check_ints();
                    Qnil as _
                })?;
            }
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}
