//! Where Pincer keeps its config, data and logs.

use std::path::{Path, PathBuf};

/// The folders of one Pincer installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PincerPaths {
    /// Holds `config.toml`.
    pub config_dir: PathBuf,
    /// Databases, gateway sessions, installed skills, bot workspaces.
    pub data_dir: PathBuf,
    /// Log files.
    pub log_dir: PathBuf,
}

/// The environment variable that puts everything under one folder.
pub const HOME_ENV: &str = "PINCER_HOME";

impl PincerPaths {
    /// `$PINCER_HOME/{config.toml,data,logs}` when `PINCER_HOME` is set,
    /// else the OS-conventional folders (XDG on Linux, `~/Library/Application
    /// Support` on macOS, `%APPDATA%` on Windows).
    pub fn from_env() -> Option<Self> {
        match std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
            Some(home) => Some(Self::under(Path::new(&home))),
            None => {
                let dirs = directories::ProjectDirs::from("app", "pincer", "Pincer")?;
                let data_dir = dirs.data_local_dir().to_path_buf();
                Some(Self {
                    config_dir: dirs.config_dir().to_path_buf(),
                    log_dir: data_dir.join("logs"),
                    data_dir,
                })
            }
        }
    }

    /// Everything under `home`.
    pub fn under(home: &Path) -> Self {
        Self {
            config_dir: home.to_path_buf(),
            data_dir: home.join("data"),
            log_dir: home.join("logs"),
        }
    }

    /// `config.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// Creates the folders (owner-only permissions on Unix).
    pub fn create(&self) -> std::io::Result<()> {
        for dir in [&self.config_dir, &self.data_dir, &self.log_dir] {
            std::fs::create_dir_all(dir)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_puts_everything_under_it() {
        let p = PincerPaths::under(Path::new("/tmp/x"));
        assert_eq!(p.config_file(), Path::new("/tmp/x/config.toml"));
        assert_eq!(p.data_dir, Path::new("/tmp/x/data"));
        assert_eq!(p.log_dir, Path::new("/tmp/x/logs"));
    }
}
