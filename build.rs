//! Generates include/gofer_scheduler.h from src/ffi with cbindgen.
//!
//! The header is committed: C, Go (cgo) and the examples compile against it without running
//! cargo first. It is rewritten only when its text changes, so that builds do not touch its
//! mtime (and rebuild every C consumer) for nothing. CI checks that the committed file is what
//! this produces.

use std::path::PathBuf;

fn main() {
    // The shared library's soname, as an installed library needs it (scripts/install.sh): the
    // major version, or major.minor while the major is 0, whose minors break the ABI.
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    let soversion = if major == "0" { format!("{major}.{minor}") } else { major };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libgofer_scheduler.so.{soversion}");

    // cbindgen reads the whole crate (a `pub const` anywhere lands in the header), so any change
    // under src/ may change the header, not only src/ffi.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let bindings = match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(b) => b,
        Err(e) => {
            // A syntax error in src/ is reported by rustc with a better message; don't mask it.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            return;
        }
    };
    let mut text = Vec::new();
    bindings.write(&mut text);

    let header = crate_dir.join("include").join("gofer_scheduler.h");
    if std::fs::read(&header).ok().as_deref() != Some(text.as_slice()) {
        std::fs::create_dir_all(header.parent().expect("header has a parent")).expect("create include/");
        std::fs::write(&header, &text).expect("write include/gofer_scheduler.h");
    }
}
