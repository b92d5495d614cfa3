//! node_exporter `filesystem`: `node_filesystem_*{device,fstype,mountpoint}`
//! from the mount table (`/proc/1/mounts`, else `/proc/mounts`, as
//! node_exporter reads it) and `statfs(2)`.
//!
//! Mounts are skipped with node_exporter 1.5's upstream default excludes
//! ([`MOUNT_POINTS_EXCLUDE`], [`FS_TYPES_EXCLUDE`]). A mount whose statfs
//! fails gets `node_filesystem_device_error 1` and no other series.
//!
//! Unlike node_exporter, statfs is called inline (no 5 s stuck-mount
//! timeout), and mount points are not rewritten for `--path.rootfs`.

use std::ffi::CString;
use std::sync::OnceLock;

use regex::Regex;

use super::{read, Family, MetricType, Roots};

pub(crate) const MOUNT_POINTS_EXCLUDE: &str =
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
pub(crate) const FS_TYPES_EXCLUDE: &str = r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

fn excluded(mountpoint: &str, fstype: &str) -> bool {
    static MP: OnceLock<Regex> = OnceLock::new();
    static FS: OnceLock<Regex> = OnceLock::new();
    MP.get_or_init(|| Regex::new(MOUNT_POINTS_EXCLUDE).expect("valid regex"))
        .is_match(mountpoint)
        || FS
            .get_or_init(|| Regex::new(FS_TYPES_EXCLUDE).expect("valid regex"))
            .is_match(fstype)
}

struct Stats {
    size: f64,
    free: f64,
    avail: f64,
    files: f64,
    files_free: f64,
}

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("1/mounts")).or_else(|_| read(&roots.proc("mounts")))?;
    let labels = ["device", "fstype", "mountpoint"];
    let mk = |n: &str, h: &str| Family::new(n, h, MetricType::Gauge);
    let mut err = mk(
        "node_filesystem_device_error",
        "Whether an error occurred while getting statistics for the given device.",
    );
    let mut size = mk("node_filesystem_size_bytes", "Filesystem size in bytes.");
    let mut free = mk(
        "node_filesystem_free_bytes",
        "Filesystem free space in bytes.",
    );
    let mut avail = mk(
        "node_filesystem_avail_bytes",
        "Filesystem space available to non-root users in bytes.",
    );
    let mut files = mk("node_filesystem_files", "Filesystem total file nodes.");
    let mut files_free = mk(
        "node_filesystem_files_free",
        "Filesystem total free file nodes.",
    );
    let mut ro = mk("node_filesystem_readonly", "Filesystem read-only status.");
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        if parts.len() < 4 {
            return Err(format!("malformed mount line {line:?}"));
        }
        let device = unescape(parts[0]);
        let mountpoint = unescape(parts[1]);
        let fstype = unescape(parts[2]);
        if excluded(&mountpoint, &fstype) {
            continue;
        }
        let key = (device.clone(), fstype.clone(), mountpoint.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let values = [device.as_str(), fstype.as_str(), mountpoint.as_str()];
        let l: Vec<(&str, &str)> = labels.iter().copied().zip(values).collect();
        match statfs(&mountpoint) {
            None => err.push(&l, 1.0),
            Some(s) => {
                err.push(&l, 0.0);
                size.push(&l, s.size);
                free.push(&l, s.free);
                avail.push(&l, s.avail);
                files.push(&l, s.files);
                files_free.push(&l, s.files_free);
                let readonly = parts[3].split(',').any(|o| o == "ro");
                ro.push(&l, if readonly { 1.0 } else { 0.0 });
            }
        }
    }
    Ok(vec![avail, err, files, files_free, free, ro, size])
}

/// Undoes the kernel's octal escapes in mount fields (`\040` for space).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn statfs(path: &str) -> Option<Stats> {
    let c = CString::new(path).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` is a properly
    // sized, writable statfs buffer.
    let st = unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        if libc::statfs(c.as_ptr(), &mut st) != 0 {
            return None;
        }
        st
    };
    let bsize = st.f_bsize as f64;
    Some(Stats {
        size: st.f_blocks as f64 * bsize,
        free: st.f_bfree as f64 * bsize,
        avail: st.f_bavail as f64 * bsize,
        files: st.f_files as f64,
        files_free: st.f_ffree as f64,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn unescape() {
        assert_eq!(super::unescape(r"/mnt/a\040b"), "/mnt/a b");
        assert_eq!(super::unescape("/plain"), "/plain");
        assert_eq!(super::unescape(r"/x\04"), r"/x\04");
    }

    #[test]
    fn excludes() {
        assert!(super::excluded("/proc", "ext4"));
        assert!(super::excluded("/sys/fs/cgroup", "tmpfs"));
        assert!(super::excluded("/data", "overlay"));
        assert!(!super::excluded("/", "ext4"));
        assert!(!super::excluded("/run", "tmpfs"));
    }
}
