//! What a CONNECT tunnel needs before the first byte: where the proxy is,
//! who the caller is to it, and the limits on its answer; and the checks
//! that keep a host, a port or a credential from smuggling a line into the
//! request.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::http::{BodyLimits, HeadLimits, HeaderError, Headers, WriteError};
use crate::invariant::Kept;
use crate::url::{self, AuthorityError, unbracket};

/// Why a proxy configuration, or a tunnel's target, was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyConfigError {
    /// The proxy URL's scheme is not `http`.
    #[error("proxy URL scheme is not http")]
    UnsupportedScheme,
    /// There is no host.
    #[error("missing host")]
    MissingHost,
    /// A host has a character a host cannot have (CR, LF, space, `@`, `/`,
    /// ...), or an unclosed `[`.
    #[error("invalid host {host:?}")]
    InvalidHost {
        /// The refused host.
        host: String,
    },
    /// The port is not a number from 1 to 65535.
    #[error("invalid port")]
    InvalidPort,
    /// The proxy URL has a path, a query or a fragment: a proxy is an
    /// authority only.
    #[error("proxy URL has a path, query or fragment")]
    UnexpectedPath,
    /// The user information is malformed: more than one `@`, a bad
    /// percent-escape, or a decoded value that is not UTF-8.
    #[error("invalid user information in the proxy URL")]
    InvalidUserInfo,
    /// RFC 7617 §2: the user-id holds a colon, or a credential holds a
    /// control character.
    #[error("invalid credentials: {reason}")]
    InvalidCredentials {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// An extra header field that cannot be written safely.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The HTTP writer refused the request for another reason.
    #[error(transparent)]
    Write(WriteError),
    /// An extra header field the tunnel sets itself (`Host`, or
    /// `Proxy-Authorization` when credentials are configured), or a
    /// framing field.
    #[error("header {name} is set by the tunnel itself")]
    ReservedHeader {
        /// The field's name.
        name: String,
    },
}

/// Basic credentials for the proxy (RFC 7617), sent as
/// `Proxy-Authorization: Basic ...`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyCredentials {
    user: String,
    password: String,
}

impl core::fmt::Debug for ProxyCredentials {
    // The password stays out of logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProxyCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl ProxyCredentials {
    /// Credentials for Basic authentication.
    ///
    /// # Errors
    /// [`ProxyConfigError::InvalidCredentials`] when the user holds a colon
    /// (RFC 7617 §2: it would end the user-id), or either holds a control
    /// character (RFC 7617 §2 forbids them).
    pub fn new(
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, ProxyConfigError> {
        let (user, password) = (user.into(), password.into());
        if user.chars().chain(password.chars()).any(char::is_control) {
            return Err(ProxyConfigError::InvalidCredentials {
                reason: "control character",
            });
        }
        if user.contains(':') {
            return Err(ProxyConfigError::InvalidCredentials {
                reason: "the user holds a colon",
            });
        }
        Ok(ProxyCredentials { user, password })
    }

    /// The user-id.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The `Proxy-Authorization` value: `Basic` and base64 of
    /// `user:password` in UTF-8 (RFC 7617 §2.1).
    pub(crate) fn authorization(&self) -> String {
        use base64::Engine;
        let mut pair = String::with_capacity(self.user.len() + 1 + self.password.len());
        pair.push_str(&self.user);
        pair.push(':');
        pair.push_str(&self.password);
        let mut value = String::from("Basic ");
        value.push_str(&base64::engine::general_purpose::STANDARD.encode(pair));
        value
    }
}

/// How to reach an HTTP proxy and talk to it.
///
/// The proxy's host and port are for the caller, who opens the transport;
/// the tunnel itself only needs the credentials, the extra headers and the
/// limits.
///
/// ```
/// use wsmachine::proxy::ProxyConfig;
///
/// let proxy = ProxyConfig::from_url("http://alice:s%40cret@proxy.local:3128")?;
/// assert_eq!((proxy.host(), proxy.port()), ("proxy.local", 3128));
/// assert_eq!(proxy.credentials().map(|c| c.user()), Some("alice"));
/// # Ok::<(), wsmachine::proxy::ProxyConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyConfig {
    host: String,
    port: u16,
    credentials: Option<ProxyCredentials>,
    /// Extra request header fields (a `User-Agent`, a `Proxy-Authorization`
    /// of another scheme). Checked when a tunnel is built.
    pub headers: Headers,
    /// Limits on the proxy's response head. Default as for a handshake
    /// response.
    pub head_limits: HeadLimits,
    /// Limits on a refusal's body. Default as for a handshake rejection.
    pub body_limits: BodyLimits,
}

impl ProxyConfig {
    /// A proxy at `host:port`, without credentials.
    ///
    /// # Errors
    /// [`ProxyConfigError::InvalidHost`] or [`ProxyConfigError::InvalidPort`]
    /// (port 0).
    pub fn new(host: &str, port: u16) -> Result<Self, ProxyConfigError> {
        check_host(host)?;
        if port == 0 {
            return Err(ProxyConfigError::InvalidPort);
        }
        Ok(ProxyConfig {
            host: String::from(unbracket(host)),
            port,
            credentials: None,
            headers: Headers::new(),
            head_limits: HeadLimits::default(),
            body_limits: BodyLimits::default(),
        })
    }

    /// A proxy from a URL `http://[user[:password]@]host[:port][/]`. The
    /// user information is percent-decoded; the port defaults to 80, the
    /// `http` scheme's.
    ///
    /// # Errors
    /// A [`ProxyConfigError`] for another scheme, a path, a malformed host,
    /// port or user information.
    pub fn from_url(url: &str) -> Result<Self, ProxyConfigError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or(ProxyConfigError::UnsupportedScheme)?;
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(ProxyConfigError::UnsupportedScheme);
        }
        let (user_info, host, port) = split_proxy_authority(rest)?;
        let mut config = ProxyConfig::new(host, port.unwrap_or(80))?;
        if let Some(user_info) = user_info {
            let (user, password) = decode_user_info(user_info)?;
            config.credentials = Some(ProxyCredentials::new(user, password)?);
        }
        Ok(config)
    }

    /// Sends these credentials to the proxy.
    pub fn with_credentials(mut self, credentials: ProxyCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Adds an extra request header field.
    pub fn with_header(mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push(name, value);
        self
    }

    /// The proxy's host, without brackets for an IPv6 literal: where the
    /// caller connects.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The credentials sent to the proxy, if any.
    pub fn credentials(&self) -> Option<&ProxyCredentials> {
        self.credentials.as_ref()
    }

    /// The request header fields the CONNECT carries after `Host`: the
    /// authorization, then the extra fields, checked.
    pub(crate) fn request_headers(&self, authority: &str) -> Result<Headers, ProxyConfigError> {
        let mut headers = Headers::new();
        headers.push("Host", authority);
        if let Some(credentials) = &self.credentials {
            headers.push("Proxy-Authorization", credentials.authorization());
        }
        self.headers.validate()?;
        for (name, value) in self.headers.iter() {
            let reserved = ["Host", "Content-Length", "Transfer-Encoding"]
                .iter()
                .any(|field| field.eq_ignore_ascii_case(name))
                || (self.credentials.is_some() && name.eq_ignore_ascii_case("Proxy-Authorization"));
            if reserved {
                return Err(ProxyConfigError::ReservedHeader {
                    name: name.to_string(),
                });
            }
            headers.push(name, value);
        }
        Ok(headers)
    }
}

/// The authority-form target of a CONNECT (RFC 9112 §3.2.3): `host:port`,
/// with brackets around an IPv6 literal.
///
/// # Errors
/// [`ProxyConfigError::InvalidHost`] or [`ProxyConfigError::InvalidPort`]
/// (port 0).
pub(crate) fn target_authority(host: &str, port: u16) -> Result<String, ProxyConfigError> {
    check_host(host)?;
    if port == 0 {
        return Err(ProxyConfigError::InvalidPort);
    }
    let host = unbracket(host);
    Ok(if host.contains(':') {
        alloc::format!("[{host}]:{port}")
    } else {
        alloc::format!("{host}:{port}")
    })
}

/// What follows `scheme://` in a proxy URL, `[user-info@]host[:port][/]`:
/// the user information as written, the host and the port, if given. A
/// path, query or fragment is refused: a proxy is an authority only.
pub(super) fn split_proxy_authority(
    rest: &str,
) -> Result<(Option<&str>, &str, Option<u16>), ProxyConfigError> {
    let authority = match rest.find(['/', '?', '#']) {
        Some(end) if rest.get(end..) == Some("/") => rest.get(..end).unwrap_or(rest),
        Some(_) => return Err(ProxyConfigError::UnexpectedPath),
        None => rest,
    };
    let (user_info, host_port) = match authority.split_once('@') {
        Some((_, after)) if after.contains('@') => {
            return Err(ProxyConfigError::InvalidUserInfo);
        }
        Some((user_info, after)) => (Some(user_info), after),
        None => (None, authority),
    };
    let (host, port) = split_host_port(host_port)?;
    let port = port.map(parse_port).transpose()?;
    Ok((user_info, host, port))
}

/// `user[:password]`, each percent-decoded; a missing password is empty.
pub(super) fn decode_user_info(user_info: &str) -> Result<(String, String), ProxyConfigError> {
    let (user, password) = user_info.split_once(':').unwrap_or((user_info, ""));
    Ok((percent_decode(user)?, percent_decode(password)?))
}

/// The shared host check of [`url`](crate::url), in this module's terms.
pub(super) fn check_host(host: &str) -> Result<(), ProxyConfigError> {
    url::check_host(host).map_err(|error| authority_error(error, host))
}

/// The shared authority split of [`url`](crate::url), in this module's
/// terms.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), ProxyConfigError> {
    url::split_host_port(authority).map_err(|error| authority_error(error, authority))
}

/// A proxy's port: a number from 1 to 65535.
fn parse_port(digits: &str) -> Result<u16, ProxyConfigError> {
    match url::parse_port(digits) {
        Ok(0) | Err(_) => Err(ProxyConfigError::InvalidPort),
        Ok(port) => Ok(port),
    }
}

/// An [`AuthorityError`] as a [`ProxyConfigError`], naming the refused
/// `host`.
fn authority_error(error: AuthorityError, host: &str) -> ProxyConfigError {
    match error {
        AuthorityError::MissingHost => ProxyConfigError::MissingHost,
        AuthorityError::InvalidHost => ProxyConfigError::InvalidHost {
            host: String::from(host),
        },
        AuthorityError::InvalidPort => ProxyConfigError::InvalidPort,
    }
}

/// RFC 3986 §2.1: `%HH` becomes the byte 0xHH; the result must be UTF-8.
fn percent_decode(encoded: &str) -> Result<String, ProxyConfigError> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        if byte != b'%' {
            bytes.push(byte);
            continue;
        }
        let hex = rest.get(..2).ok_or(ProxyConfigError::InvalidUserInfo)?;
        let digits = core::str::from_utf8(hex).map_err(|_| ProxyConfigError::InvalidUserInfo)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ProxyConfigError::InvalidUserInfo);
        }
        let value =
            u8::from_str_radix(digits, 16).map_err(|_| ProxyConfigError::InvalidUserInfo)?;
        bytes.push(value);
        rest = rest.get(2..).kept();
    }
    String::from_utf8(bytes).map_err(|_| ProxyConfigError::InvalidUserInfo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(percent_decode("a%40b%3Ac%25").as_deref(), Ok("a@b:c%"));
        assert_eq!(percent_decode("%e2%82%ac").as_deref(), Ok("€"));
        for bad in ["%", "%4", "%zz", "%ff", "%+1"] {
            assert_eq!(
                percent_decode(bad),
                Err(ProxyConfigError::InvalidUserInfo),
                "{bad}"
            );
        }
    }

    #[test]
    fn authorities_bracket_ipv6() {
        assert_eq!(target_authority("::1", 443).as_deref(), Ok("[::1]:443"));
        assert_eq!(target_authority("[::1]", 443).as_deref(), Ok("[::1]:443"));
        assert_eq!(
            target_authority("h.example", 80).as_deref(),
            Ok("h.example:80")
        );
        assert_eq!(target_authority("h", 0), Err(ProxyConfigError::InvalidPort));
    }
}
