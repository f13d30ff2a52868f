//! The binary's entry point (part of the system layer, with src/sys.rs): the C runtime
//! calls `main` here, and src/main.rs does the rest. See src/main.rs for why hutch does
//! not start through Rust's `fn main`.

/// The process's entry point, called by the C runtime.
// The attribute is what `unsafe_code` flags: exporting the unmangled symbol `main`.
// It is sound because this binary defines no other `main` (`#![no_main]`) and the
// signature is the one the C runtime calls; nothing else here is unsafe.
#[allow(unsafe_code)]
#[no_mangle]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    hutch::sys::open_standard_fds();
    hutch::sys::ignore_sigpipe();
    crate::run()
}
