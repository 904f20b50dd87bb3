//! The shared secret between a server and its clients: made at random on the server's first
//! start, kept in a file only its owner may read (mode 0600), and checked for length.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The fewest characters a token may have: a short one could be guessed over the network.
pub const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is empty")]
    Empty,
    #[error("the token has {0} characters; at least {MIN_TOKEN_LEN} are needed")]
    Short(usize),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: the token file is not text")]
    NotText(PathBuf),
}

/// `token` trimmed, if long enough.
pub fn check(token: &str) -> Result<String, TokenError> {
    let t = token.trim();
    match t.chars().count() {
        0 => Err(TokenError::Empty),
        n if n < MIN_TOKEN_LEN => Err(TokenError::Short(n)),
        _ => Ok(t.into()),
    }
}

/// The token in `path` (its first line).
pub fn read(path: &Path) -> Result<String, TokenError> {
    let io = |source| TokenError::Io {
        path: path.into(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io)?;
    let text = String::from_utf8(bytes).map_err(|_| TokenError::NotText(path.into()))?;
    check(text.lines().next().unwrap_or(""))
}

/// The token in `path`, first creating the file with a fresh random token (64 hex digits,
/// mode 0600) when there is none. Returns the token and whether it was just made.
pub fn load_or_create(path: &Path) -> Result<(String, bool), TokenError> {
    if path.exists() {
        return Ok((read(path)?, false));
    }
    let io = |source| TokenError::Io {
        path: path.into(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let token: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(io)?;
    writeln!(f, "{token}").map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok((token, true))
}

/// What a client presents: the token, and after a lost session its reconnect number.
///
/// burn keeps one session per (address, credential) for the life of the process and never
/// reopens a dead one, so a client that lost its server presents `TOKEN\nN` (N counting its
/// losses of that server) to get a fresh session; a token never holds a line break.
pub fn credential(token: &str, reconnect: u32) -> String {
    match reconnect {
        0 => token.into(),
        n => format!("{token}\n{n}"),
    }
}

/// The token part of a [`credential`], or `None` when what follows the line break is not a
/// reconnect number (such a credential is refused).
pub fn token_part(credential: &[u8]) -> Option<&[u8]> {
    match credential.iter().position(|&b| b == b'\n') {
        None => Some(credential),
        Some(i) => {
            let n = &credential[i + 1..];
            let number = !n.is_empty() && n.len() <= 10 && n.iter().all(u8::is_ascii_digit);
            number.then_some(&credential[..i])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_empty_tokens_are_refused() {
        assert!(matches!(check("  "), Err(TokenError::Empty)));
        assert!(matches!(check("abc"), Err(TokenError::Short(3))));
        assert_eq!(
            check(" 0123456789abcdef\n").ok().as_deref(),
            Some("0123456789abcdef")
        );
    }

    #[test]
    fn a_reconnect_credential_carries_the_token_and_nothing_else_passes() {
        let t = "0123456789abcdef";
        assert_eq!(credential(t, 0), t);
        for n in [0, 1, 7, u32::MAX] {
            assert_eq!(token_part(credential(t, n).as_bytes()), Some(t.as_bytes()));
        }
        for bad in [
            "0123456789abcdef\n",
            "0123456789abcdef\nx",
            "0123456789abcdef\n1\n2",
        ] {
            assert_eq!(token_part(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn a_new_token_is_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/token");
        let (made, fresh) = load_or_create(&path).unwrap();
        assert!(fresh);
        assert_eq!(made.len(), 64);
        let (again, fresh) = load_or_create(&path).unwrap();
        assert!(!fresh);
        assert_eq!(again, made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
