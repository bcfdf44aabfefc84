//! Secrets: from `$CREDENTIALS_DIRECTORY` (systemd's `LoadCredential=`) first, else from
//! `/etc/credstore/clawdbot.NAME`, which must be readable by its owner only. A secret's value
//! never appears in an error or a log.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::platform::exit::{Exit, ExitStatus};

/// Where credentials live outside a systemd unit.
pub const CREDSTORE: &str = "/etc/credstore";

/// Why a credential could not be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Neither place has it.
    #[error("credential {name:?} not found: looked in {}; create it with mode 0600 (or pass it with LoadCredential=)", looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and "))]
    Missing {
        /// The credential's name.
        name: String,
        /// Where it was looked for.
        looked: Vec<PathBuf>,
    },
    /// Not a credential name, nor an absolute path.
    #[error(
        "credential {name:?} is neither a name (no '/') nor an absolute path of a file with mode 0600"
    )]
    BadName {
        /// What the configuration said.
        name: String,
    },
    /// The file is readable by others.
    #[error("credential file {} has mode {mode:04o}: others can read it; run chmod 600 {}", path.display(), path.display())]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file could not be read.
    #[error("cannot read credential file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ExitStatus for CredentialError {
    fn exit(&self) -> Exit {
        Exit::Config
    }
}

/// A secret value; its `Debug` does not show it.
pub struct Secret(String);

impl Secret {
    /// The value, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Read the credential `name`, trailing newline removed.
pub fn read(name: &str) -> Result<Secret, CredentialError> {
    let mut looked = Vec::new();
    if name.is_empty() || name.contains('/') || name == ".." {
        return Err(CredentialError::BadName {
            name: name.to_string(),
        });
    }
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let path = Path::new(&dir).join(name);
        if path.exists() {
            // systemd made this copy readable by the service alone.
            return read_file(&path);
        }
        looked.push(path);
    }
    let path = Path::new(CREDSTORE).join(format!("clawdbot.{name}"));
    if path.exists() {
        return read_private(&path);
    }
    looked.push(path);
    // systemd names a file FILE loaded from the directory given as `LoadCredential=ID:DIR`
    // ID_FILE; outside a unit the same credential is DIR/FILE.
    if let Some((id, file)) = name.split_once('_')
        && !id.is_empty()
        && !file.is_empty()
        && !file.starts_with('.')
    {
        let path = Path::new(CREDSTORE)
            .join(format!("clawdbot.{id}"))
            .join(file);
        if path.exists() {
            return read_private(&path);
        }
        looked.push(path);
    }
    Err(CredentialError::Missing {
        name: name.to_string(),
        looked,
    })
}

/// Read a secret named in the configuration: an absolute path is a 0600 file
/// ([`read_private`]), anything else a credential name ([`read`]).
pub fn read_configured(name: &str) -> Result<Secret, CredentialError> {
    if name.starts_with('/') {
        read_private(Path::new(name))
    } else {
        read(name)
    }
}

/// Read a secret file given by path, refusing one that group or others can read.
pub fn read_private(path: &Path) -> Result<Secret, CredentialError> {
    let meta = std::fs::metadata(path).map_err(|source| CredentialError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CredentialError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    read_file(path)
}

fn read_file(path: &Path) -> Result<Secret, CredentialError> {
    let text = std::fs::read_to_string(path).map_err(|source| CredentialError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Secret(text.trim_end_matches(['\n', '\r']).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_file_others_can_read_is_refused_and_the_secret_is_not_shown() {
        let dir = std::env::temp_dir().join(format!("clawdbot-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        std::fs::write(&path, "hunter2\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_private(&path).unwrap_err().to_string();
        assert!(err.contains("0644") && err.contains("chmod 600"), "{err}");
        assert!(!err.contains("hunter2"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let secret = read_private(&path).unwrap();
        assert_eq!(secret.expose(), "hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(…)");
        // A configured absolute path is that file; a relative one is neither a name nor a path.
        let configured = read_configured(path.to_str().unwrap()).unwrap();
        assert_eq!(configured.expose(), "hunter2");
        let err = read_configured("secrets/token").unwrap_err().to_string();
        assert!(
            err.contains("neither a name") && !err.contains("looked in"),
            "{err}"
        );
    }
}
