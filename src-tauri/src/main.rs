//! The Pincer desktop app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    pincer_desktop::run()
}
