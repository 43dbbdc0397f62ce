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
