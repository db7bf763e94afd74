//! Logging from a plugin into Inlet's log (bounded per call by the host). Never log secrets.

#[cfg(target_arch = "wasm32")]
fn write(level: crate::bindings::inlet::plugin::log::Level, message: &str) {
    crate::bindings::inlet::plugin::log::log(level, message);
}

#[cfg(target_arch = "wasm32")]
pub fn debug(message: &str) {
    write(crate::bindings::inlet::plugin::log::Level::Debug, message)
}
#[cfg(target_arch = "wasm32")]
pub fn info(message: &str) {
    write(crate::bindings::inlet::plugin::log::Level::Info, message)
}
#[cfg(target_arch = "wasm32")]
pub fn warn(message: &str) {
    write(crate::bindings::inlet::plugin::log::Level::Warn, message)
}
#[cfg(target_arch = "wasm32")]
pub fn error(message: &str) {
    write(crate::bindings::inlet::plugin::log::Level::Error, message)
}

/// Natively (tests) log lines go to standard error.
#[cfg(not(target_arch = "wasm32"))]
pub fn debug(message: &str) {
    eprintln!("debug: {message}");
}
#[cfg(not(target_arch = "wasm32"))]
pub fn info(message: &str) {
    eprintln!("info: {message}");
}
#[cfg(not(target_arch = "wasm32"))]
pub fn warn(message: &str) {
    eprintln!("warn: {message}");
}
#[cfg(not(target_arch = "wasm32"))]
pub fn error(message: &str) {
    eprintln!("error: {message}");
}
