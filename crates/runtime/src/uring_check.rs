use crate::RuntimeError;

/// Probes `io_uring_setup` once so that a kernel without io_uring gets a
/// clear message instead of a panic inside glommio.
pub fn check_io_uring() -> Result<(), RuntimeError> {
    // io_uring_params is 120 bytes; the kernel fills it in.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup takes (entries, *mut io_uring_params); `params`
    // is a writable buffer of the struct's size that outlives the call.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        tracing::error!("io_uring is not available: {e}");
        return Err(RuntimeError::NoIoUring(e));
    }
    tracing::debug!("io_uring is available.");
    // SAFETY: `fd` is a descriptor the kernel just returned to us and that
    // nothing else owns.
    unsafe { libc::close(fd as libc::c_int) };
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn io_uring_is_available_here() {
        super::check_io_uring().expect("io_uring available on the test machine");
    }
}
