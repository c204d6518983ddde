//! Generates the Tauri context (config, icons, capabilities) for the app.
fn main() {
    tauri_build::build()
}
