//! What a SOCKS5 tunnel needs before the first byte: where the proxy is,
//! the credentials (RFC 1929), who resolves the target's name, and the
//! target itself, each field held to the one-byte length the wire gives it.

use alloc::string::String;
use core::net::IpAddr;

use super::config::{ProxyConfigError, check_host, decode_user_info, split_proxy_authority};
use crate::url::unbracket;

/// A field of a SOCKS5 request, for [`Socks5ConfigError::InvalidLength`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Socks5Field {
    /// The RFC 1929 user name.
    User,
    /// The RFC 1929 password.
    Password,
    /// The target's domain name.
    Host,
}

impl core::fmt::Display for Socks5Field {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Socks5Field::User => "user name",
            Socks5Field::Password => "password",
            Socks5Field::Host => "host",
        })
    }
}

/// Why a SOCKS5 configuration, or a tunnel's target, was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Socks5ConfigError {
    /// The proxy URL's scheme is not `socks5` or `socks5h`.
    #[error("proxy URL scheme is not socks5 or socks5h")]
    UnsupportedScheme,
    /// The proxy URL's host, port, path or user information is malformed.
    #[error("invalid SOCKS5 proxy URL: {0}")]
    Url(#[from] ProxyConfigError),
    /// RFC 1928/1929 give each of these a one-byte length, and none may be
    /// empty: 1 to 255 bytes.
    #[error("the {field} is {len} bytes long, not 1 to 255")]
    InvalidLength {
        /// Which field.
        field: Socks5Field,
        /// Its length in bytes.
        len: usize,
    },
    /// The target's port is 0.
    #[error("invalid target port")]
    InvalidPort,
}

fn check_len(field: Socks5Field, value: &str) -> Result<(), Socks5ConfigError> {
    match value.len() {
        1..=255 => Ok(()),
        len => Err(Socks5ConfigError::InvalidLength { field, len }),
    }
}

/// A user name and password for RFC 1929 authentication, each 1 to 255
/// bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Socks5Credentials {
    user: String,
    password: String,
}

impl core::fmt::Debug for Socks5Credentials {
    // The password stays out of logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Socks5Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Socks5Credentials {
    /// Credentials for RFC 1929 authentication.
    ///
    /// # Errors
    /// [`Socks5ConfigError::InvalidLength`] for an empty field or one over
    /// 255 bytes: the wire has one length byte for each, and RFC 1929 has
    /// no empty ones.
    pub fn new(
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, Socks5ConfigError> {
        let (user, password) = (user.into(), password.into());
        check_len(Socks5Field::User, &user)?;
        check_len(Socks5Field::Password, &password)?;
        Ok(Socks5Credentials { user, password })
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

/// How to reach a SOCKS5 proxy (RFC 1928) and talk to it.
///
/// ```
/// use wsmachine::proxy::Socks5Config;
///
/// let proxy = Socks5Config::from_url("socks5h://alice:s%40cret@proxy.local")?;
/// assert_eq!((proxy.host(), proxy.port()), ("proxy.local", 1080));
/// assert!(proxy.remote_dns, "socks5h: the proxy resolves the target");
/// assert_eq!(proxy.credentials().map(|c| c.user()), Some("alice"));
/// # Ok::<(), wsmachine::proxy::Socks5ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Socks5Config {
    host: String,
    port: u16,
    credentials: Option<Socks5Credentials>,
    /// Whether the proxy resolves the target's name (`socks5h://`): the
    /// tunnel then sends the name. Otherwise (`socks5://`) the caller
    /// resolves it and builds the tunnel with an address. The tunnel sends
    /// the [`Socks5Target`] it is given either way; a runtime reads this.
    pub remote_dns: bool,
}

impl Socks5Config {
    /// A proxy at `host:port`, without credentials, the caller resolving
    /// the target's name.
    ///
    /// # Errors
    /// [`Socks5ConfigError::Url`] for a malformed host or port 0.
    pub fn new(host: &str, port: u16) -> Result<Self, Socks5ConfigError> {
        check_host(host)?;
        if port == 0 {
            return Err(ProxyConfigError::InvalidPort.into());
        }
        Ok(Socks5Config {
            host: String::from(unbracket(host)),
            port,
            credentials: None,
            remote_dns: false,
        })
    }

    /// A proxy from a URL `socks5://` or `socks5h://`
    /// `[user:password@]host[:port][/]`; the user information is
    /// percent-decoded, the port defaults to 1080.
    ///
    /// # Errors
    /// A [`Socks5ConfigError`] for another scheme, a path, a malformed host,
    /// port or user information, or credentials out of bounds.
    pub fn from_url(url: &str) -> Result<Self, Socks5ConfigError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or(Socks5ConfigError::UnsupportedScheme)?;
        let remote_dns = if scheme.eq_ignore_ascii_case("socks5h") {
            true
        } else if scheme.eq_ignore_ascii_case("socks5") {
            false
        } else {
            return Err(Socks5ConfigError::UnsupportedScheme);
        };
        let (user_info, host, port) = split_proxy_authority(rest)?;
        let mut config = Socks5Config::new(host, port.unwrap_or(1080))?;
        config.remote_dns = remote_dns;
        if let Some(user_info) = user_info {
            let (user, password) = decode_user_info(user_info)?;
            config.credentials = Some(Socks5Credentials::new(user, password)?);
        }
        Ok(config)
    }

    /// Authenticates with these credentials (RFC 1929).
    pub fn with_credentials(mut self, credentials: Socks5Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Sets [`remote_dns`](Self::remote_dns).
    pub fn with_remote_dns(mut self, remote_dns: bool) -> Self {
        self.remote_dns = remote_dns;
        self
    }

    /// The proxy's host, without brackets for an IPv6 literal.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The credentials, if any.
    pub fn credentials(&self) -> Option<&Socks5Credentials> {
        self.credentials.as_ref()
    }
}

/// Where the tunnel goes: an address, or a name the proxy resolves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Socks5Target {
    /// An IPv4 or IPv6 address (address type 1 or 4).
    Ip(IpAddr),
    /// A domain name, 1 to 255 bytes, sent length-prefixed (address type
    /// 3).
    Domain(String),
}

impl Socks5Target {
    /// An IP literal (bracketed or not) as an address, anything else as a
    /// domain name.
    ///
    /// # Errors
    /// [`Socks5ConfigError::InvalidLength`] for a name that is empty or over
    /// 255 bytes.
    pub fn from_host(host: &str) -> Result<Self, Socks5ConfigError> {
        let inner = unbracket(host);
        if let Ok(ip) = inner.parse::<IpAddr>() {
            return Ok(Socks5Target::Ip(ip));
        }
        check_len(Socks5Field::Host, host)?;
        Ok(Socks5Target::Domain(String::from(host)))
    }
}
