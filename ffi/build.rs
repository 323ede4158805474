//! Gives the shared library the SONAME of rocketmq-client-cpp's library, so a program linked
//! with `-lrocketmq` records `librocketmq.so` and ctypes' `find_library("rocketmq")` finds it.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librocketmq.so");
        }
        "macos" | "ios" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/librocketmq.dylib");
        }
        _ => {}
    }
    println!("cargo:rerun-if-changed=build.rs");
}
