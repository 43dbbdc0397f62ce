//! The one place where native work runs without Ruby's GVL.
//!
//! Two entry points. `nogvl_blocking` (the session hot path) runs a plain
//! function on the calling thread; Ruby's unblocking function fires its
//! [`Interrupt`], which cuts a socket wait or a sleep short; we take the GVL
//! back, let Ruby run its interrupts (which may raise) and otherwise run
//! the function again (every session call can be repeated: see
//! `ops::session`). `nogvl` (the SDK: tables, garbage collection) takes a
//! future built only from owned Rust data and drives it on the shared
//! runtime. When Ruby wants the thread
//! back (`Thread#raise`, `Timeout.timeout`, a signal), the unblocking function
//! wakes the wait; we take the GVL back, let Ruby run its interrupts (which
//! may raise: then the future is dropped, cancelling the request), and
//! otherwise resume the same pinned future. Panics are caught on both sides of
//! the boundary and become `Errors::InternalError`, never `fatal`.

use std::ffi::c_void;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;

use magnus::{Error, Ruby};
use rb_sys::{rb_thread_call_without_gvl, rb_thread_check_ints, Qnil};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::error::StoreError;
use crate::helpers::runtime;
use crate::ops::interrupt::Interrupt;

struct Call<'a, T> {
    future: Pin<&'a mut (dyn Future<Output = T> + Send)>,
    runtime: &'a Runtime,
    wake: &'a Notify,
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
                _ = wake.notified() => None,
                value = future => Some(value),
            }
        })
    }))
    .map_err(panic_message);
    call.outcome = Some(outcome);
    std::ptr::null_mut()
}

unsafe extern "C" fn unblock(data: *mut c_void) {
    // SAFETY: `data` is the `Notify` on `nogvl`'s stack. Notify keeps a permit
    // when nobody waits yet, so a wake-up that races the start is not lost.
    let wake = unsafe { &*(data as *const Notify) };
    wake.notify_one();
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

/// Runs `work` on this thread with the GVL released; see the module docs.
pub fn nogvl_blocking<T, W>(ruby: &Ruby, mut work: W) -> Result<T, Error>
where
    W: FnMut(&Interrupt) -> Result<T, StoreError>,
{
    let interrupt = Interrupt::new();
    loop {
        interrupt.reset();
        let mut call = Blocking {
            work: &mut work,
            interrupt: &interrupt,
            outcome: None,
        };
        let call_ptr = &mut call as *mut Blocking<'_, T, W> as *mut c_void;
        let interrupt_ptr = &interrupt as *const Interrupt as *mut c_void;
        magnus::rb_sys::protect(|| unsafe {
            rb_thread_call_without_gvl(
                Some(run_blocking::<T, W>),
                call_ptr,
                Some(unblock_blocking),
                interrupt_ptr,
            );
            Qnil as _
        })?;
        match call.outcome.take() {
            Some(Ok(Err(StoreError::Interrupted))) | None => {
                // Woken by Ruby (or never started: an interrupt was
                // pending): run the interrupts, which may raise.
                magnus::rb_sys::protect(|| unsafe {
                    rb_thread_check_ints();
                    Qnil as _
                })?;
            }
            Some(Ok(result)) => return result.map_err(|e| e.into_ruby(ruby)),
            Some(Err(message)) => {
                return Err(StoreError::Internal(format!("native panic: {message}")).into_ruby(ruby))
            }
        }
    }
}

struct Blocking<'a, T, W> {
    work: &'a mut W,
    interrupt: &'a Interrupt,
    outcome: Option<Result<Result<T, StoreError>, String>>,
}

unsafe extern "C" fn run_blocking<T, W>(data: *mut c_void) -> *mut c_void
where
    W: FnMut(&Interrupt) -> Result<T, StoreError>,
{
    // SAFETY: `data` is the `Blocking` on `nogvl_blocking`'s stack, alive
    // for this call.
    let call = unsafe { &mut *(data as *mut Blocking<'_, T, W>) };
    let interrupt = call.interrupt;
    let work = &mut *call.work;
    call.outcome = Some(catch_unwind(AssertUnwindSafe(|| work(interrupt))).map_err(panic_message));
    std::ptr::null_mut()
}

unsafe extern "C" fn unblock_blocking(data: *mut c_void) {
    // SAFETY: `data` is the `Interrupt` on `nogvl_blocking`'s stack; Ruby
    // calls this only between the start and the end of the GVL-free call.
    let interrupt = unsafe { &*(data as *const Interrupt) };
    interrupt.fire();
}

fn drive<T, F>(ruby: &Ruby, runtime: &Runtime, future: F) -> Result<T, Error>
where
    F: Future<Output = Result<T, StoreError>> + Send,
    T: Send,
{
    let wake = Notify::new();
    let mut future = std::pin::pin!(future);
    loop {
        let mut call: Call<'_, Result<T, StoreError>> = Call {
            future: future.as_mut(),
            runtime,
            wake: &wake,
            outcome: None,
        };
        let call_ptr = &mut call as *mut Call<'_, Result<T, StoreError>> as *mut c_void;
        let wake_ptr = &wake as *const Notify as *mut c_void;
        // `protect`: the non-`2` variant may raise a pending interrupt.
        magnus::rb_sys::protect(|| unsafe {
            rb_thread_call_without_gvl(
                Some(run::<Result<T, StoreError>>),
                call_ptr,
                Some(unblock),
                wake_ptr,
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
