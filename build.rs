//! Build metadata for `--version`: the git commit, the target triple and, for release builds made
//! by `packaging/build-release.sh` (cargo-zigbuild), the glibc floor the binary was linked against.

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=AEP_COMMIT={commit}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=AEP_TARGET={target}");
    // set by packaging/build-release.sh to the glibc version it builds for (e.g. 2.17)
    let floor = std::env::var("AEP_GLIBC_FLOOR").unwrap_or_default();
    let libc = if !target.ends_with("-gnu") {
        String::new()
    } else if floor.is_empty() {
        " (glibc of the build host; release builds state their floor)".into()
    } else {
        format!(" (runs on glibc >= {floor})")
    };
    println!("cargo:rustc-env=AEP_LIBC={libc}");
    println!("cargo:rerun-if-env-changed=AEP_GLIBC_FLOOR");
    println!("cargo:rerun-if-changed=build.rs");
    // a new commit changes the ref HEAD points to
    let git = Path::new(".git");
    if git.join("HEAD").exists() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
            if let Some(r) = head.strip_prefix("ref: ") {
                let r = git.join(r.trim());
                if r.exists() {
                    println!("cargo:rerun-if-changed={}", r.display());
                }
            }
        }
    }
}
