//! The version of the libssh2 linked in, for `-v`'s "Libraries:" line
//! (aria2 lists its `libssh2/1.9.0` there too).

use std::ffi::{c_char, c_int, CStr};

extern "C" {
    /// libssh2's own `libssh2_version(3)`: its version string when it is
    /// at least `required_version` (0: any).
    fn libssh2_version(required_version: c_int) -> *const c_char;
}

/// `1.11.1`: the linked library's own answer, not the header's.
pub fn libssh2_version_string() -> Option<String> {
    // SAFETY: libssh2_version only compares its argument with a constant
    // and returns a pointer to a static string (or NULL); it needs no
    // initialised library and touches no shared state.
    let p = unsafe { libssh2_version(0) };
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL, it points at libssh2's static NUL-terminated
    // version string, valid for the life of the process.
    let v = unsafe { CStr::from_ptr(p) };
    Some(v.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_a_dotted_version() {
        let v = super::libssh2_version_string().expect("libssh2 answers");
        assert!(v.split('.').count() >= 2, "{v}");
        assert!(v.starts_with("1."), "{v}");
    }
}
