//! Converts the embedded schema to JSON (see `schema::EMBEDDED_JSON`), and
//! links the `newsidx` binary as a position-dependent executable on
//! GNU/Linux.
//!
//! A search is a whole process, and at the corpus's size it takes a few
//! milliseconds. A position-independent executable makes the dynamic loader
//! apply about 19,000 relocations at every start, and each page they touch
//! is copied. Without them, a search's median went from 4.2 to 3.9 ms in
//! one interleaved run. The cost is that the binary's own code is not
//! placed at a random address (ASLR still applies to the libraries, the
//! stack and the heap).
//!
//! A fully static build (`-C target-feature=+crt-static`) saved another
//! 0.3 ms, but cargo applies that flag to proc-macros too, unless every
//! build names its `--target`. Part of that saving is had without it:
//! std asks for the unwinder as the shared `libgcc_s`, and loading it (and
//! running its constructor, which queries the CPU a dozen times, each
//! query a trap on a virtual machine) cost every process about 0.1 ms of
//! a 2.5 ms search. The same unwinder is linked statically instead (see
//! [`link_unwinder_statically`]).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    embed_schema();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
        link_unwinder_statically();
    }
}

/// Makes std's `-lgcc_s` find a linker script standing for the C
/// compiler's static unwinder, `libgcc_eh.a` (what `-static-libgcc` links;
/// that flag cannot override a library std names itself). Nothing changes
/// when the compiler has no such archive: the shared library is used.
fn link_unwinder_statically() {
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    if features.split(',').any(|f| f == "crt-static") {
        return;
    }
    let cc = std::env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".into());
    let Ok(out) = std::process::Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let archive = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !archive.is_absolute() || !archive.is_file() {
        return;
    }
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("unwind");
    let script = format!("INPUT({})\n", archive.display());
    if std::fs::create_dir_all(&dir).is_ok()
        && std::fs::write(dir.join("libgcc_s.a"), script).is_ok()
    {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
}

/// Writes `index-schema/newsidx.toml` as JSON into `OUT_DIR`. The
/// conversion is generic (TOML values to JSON values): the schema's own
/// types, and every check on them, stay in the library, which reads both.
fn embed_schema() {
    const SOURCE: &str = "index-schema/newsidx.toml";
    println!("cargo:rerun-if-changed={SOURCE}");
    let text = std::fs::read_to_string(SOURCE).unwrap_or_else(|e| panic!("{SOURCE}: {e}"));
    let value: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{SOURCE}: {e}"));
    let json = serde_json::to_string(&value).unwrap_or_else(|e| panic!("{SOURCE}: {e}"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    std::fs::write(out.join("newsidx-schema.json"), json)
        .unwrap_or_else(|e| panic!("cannot write the embedded schema: {e}"));
}
