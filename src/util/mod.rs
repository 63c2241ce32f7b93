//! Helpers every layer may use; they know nothing of models or logs.

pub mod atomic_file;
pub mod hex;
pub mod home;
pub mod percent;
pub mod thousands;
