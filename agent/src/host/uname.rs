//! node_exporter `uname`: `node_uname_info` labelled with the fields of
//! uname(2). The Node Exporter Full dashboard's `nodename` variable reads
//! it.

use std::ffi::CStr;

use super::{Family, MetricType, Roots};

pub(crate) fn collect(_roots: &Roots) -> Result<Vec<Family>, String> {
    // SAFETY: uname fills the struct we own; every field is a
    // NUL-terminated array.
    let u = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return Err(format!("uname: {}", std::io::Error::last_os_error()));
        }
        u
    };
    let field = |f: &[libc::c_char]| {
        // SAFETY: the kernel NUL-terminates every utsname field.
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    let mut f = Family::new(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        MetricType::Gauge,
    );
    f.push(
        &[
            ("sysname", &field(&u.sysname)),
            ("release", &field(&u.release)),
            ("version", &field(&u.version)),
            ("machine", &field(&u.machine)),
            ("nodename", &field(&u.nodename)),
            ("domainname", &field(&u.domainname)),
        ],
        1.0,
    );
    Ok(vec![f])
}
