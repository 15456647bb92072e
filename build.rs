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
//! build names its `--target`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    embed_schema();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
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
