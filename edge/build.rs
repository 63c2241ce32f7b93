//! With the `cuda` feature, `opensoc` looks for the CUDA libraries (cuBLAS, cuRAND, NVRTC) in
//! its own folder before the system's, so that a GPU host without a CUDA toolkit can run it
//! with the libraries copied beside it.
fn main() {
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,$ORIGIN");
    }
}
