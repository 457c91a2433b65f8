//! URLs as a WebSocket client meets them: the `ws://` or `wss://` URL it
//! connects to (RFC 6455 §3), and a reference such as a redirect's
//! `Location`, resolved against the URL the request went to (RFC 3986 §5).
//!
//! Only what a handshake needs, and strictly: a WebSocket URL has no
//! fragment and no user information (refused, not dropped), its host is a
//! registered name or a bracketed IPv6 literal, its port a number up to
//! 65535, and its path and query become the request line's target with
//! spaces, controls and non-ASCII bytes percent-encoded, so that nothing in
//! a URL can end the request line. [`UrlError`] says why a URL was refused.
//! The authority's grammar here (host, port, the brackets of an IPv6 literal)
//! is also the one of the proxies' `http://` and `socks5://` URLs
//! ([`proxy`](crate::proxy)).
//!
//! The parsed form is [`ClientConfig`](crate::handshake::client::ClientConfig)'s
//! (`host`, `port`, `resource`, `host_header`), and resolution is
//! [`Rejection::redirect_location`](crate::handshake::Rejection::redirect_location).
//!
//! ```
//! use wsmachine::handshake::client::ClientConfig;
//! use wsmachine::url::UrlError;
//!
//! let config = ClientConfig::new("wss://[::1]:8443/chat?room=7")?;
//! assert_eq!((config.host(), config.port(), config.resource()), ("::1", 8443, "/chat?room=7"));
//! assert_eq!(ClientConfig::new("ws://h/#top"), Err(UrlError::Fragment));
//! # Ok::<(), UrlError>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;

/// Why a `ws://` or `wss://` URL was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `ws` or `wss`.
    #[error("scheme is not ws or wss")]
    UnsupportedScheme,
    /// There is no host.
    #[error("missing host")]
    MissingHost,
    /// The host has characters a host cannot have, or an unclosed `[`.
    #[error("invalid host")]
    InvalidHost,
    /// The port is not a number from 0 to 65535.
    #[error("invalid port")]
    InvalidPort,
    /// RFC 6455 §3: fragment identifiers are not allowed.
    #[error("WebSocket URLs cannot have a fragment")]
    Fragment,
    /// Credentials in the URL are not sent anywhere; refused rather than lost.
    #[error("user information in the URL is not supported")]
    UserInfo,
}

/// A parsed `ws://` or `wss://` URL: where a client connects and what its
/// request line and `Host` carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WsUrl {
    /// The URL as given.
    url: String,
    secure: bool,
    /// The host, lowercase, with the brackets of an IPv6 literal.
    host: String,
    port: u16,
    /// The path and query, at least `/`.
    resource: String,
}

impl WsUrl {
    /// Parses a `ws://` or `wss://` URL (RFC 6455 §3). The port defaults to
    /// the scheme's (80 or 443); an empty path is `/`.
    ///
    /// # Errors
    /// [`UrlError`] when the URL is not a valid WebSocket URL.
    pub(crate) fn parse(url: &str) -> Result<Self, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::UnsupportedScheme)?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(UrlError::UnsupportedScheme);
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        check_host(host)?;
        if !host.starts_with('[') && host.contains(':') {
            // An IPv6 literal in a URL is bracketed (RFC 3986 §3.2.2).
            return Err(UrlError::InvalidHost);
        }
        let port = match port {
            None if secure => 443,
            None => 80,
            Some(digits) => parse_port(digits)?,
        };
        let mut resource = match resource.strip_prefix('?') {
            Some(query) => alloc::format!("/?{query}"),
            None if resource.is_empty() => String::from("/"),
            None => String::from(resource),
        };
        if resource.bytes().any(|b| !(0x21..0x7F).contains(&b)) {
            // Spaces and controls would break the request line; non-ASCII
            // must be percent-encoded by the caller.
            resource = percent_encode_invalid(&resource);
        }
        Ok(WsUrl {
            url: String::from(url),
            secure,
            host: host.to_ascii_lowercase(),
            port,
            resource,
        })
    }

    /// No URL: a client whose stream was upgraded elsewhere. Its resource is
    /// `/`.
    pub(crate) fn none() -> Self {
        WsUrl {
            resource: String::from("/"),
            ..WsUrl::default()
        }
    }

    /// The URL as given.
    pub(crate) fn as_str(&self) -> &str {
        &self.url
    }

    /// Whether the URL is `wss://`.
    pub(crate) fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host, without brackets for an IPv6 literal.
    pub(crate) fn host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    /// The port, explicit or the scheme's default.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The path and query, for the request line.
    pub(crate) fn resource(&self) -> &str {
        &self.resource
    }

    /// The `Host` header: the host, with the port when it is not the
    /// scheme's default (RFC 6455 §4.1, item 4).
    pub(crate) fn host_header(&self) -> String {
        let default_port = if self.secure { 443 } else { 80 };
        if self.port == default_port {
            self.host.clone()
        } else {
            alloc::format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why the host or port of an authority was refused: the shared part of
/// [`UrlError`] and of the proxies' configuration errors, which each say it
/// in their own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthorityError {
    /// There is no host.
    MissingHost,
    /// The host has a character a host cannot have, or a bracket out of
    /// place.
    InvalidHost,
    /// The port is not a number from 0 to 65535.
    InvalidPort,
}

impl From<AuthorityError> for UrlError {
    fn from(error: AuthorityError) -> Self {
        match error {
            AuthorityError::MissingHost => UrlError::MissingHost,
            AuthorityError::InvalidHost => UrlError::InvalidHost,
            AuthorityError::InvalidPort => UrlError::InvalidPort,
        }
    }
}

/// Splits a URL's authority (RFC 3986 §3.2, without user information) into
/// its host, as written, and the digits after its last `:`, if there is one.
/// A bracketed IPv6 literal keeps its brackets. The host is not checked
/// here: see [`check_host`].
pub(crate) fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), AuthorityError> {
    if authority.is_empty() {
        return Err(AuthorityError::MissingHost);
    }
    if authority.starts_with('[') {
        let close = authority.find(']').ok_or(AuthorityError::InvalidHost)?;
        let (host, rest) = authority.split_at(close + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => rest
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or(AuthorityError::InvalidHost),
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

/// The host without the brackets of an IPv6 literal.
pub(crate) fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host)
}

/// A host is a registered name (letters, digits, `-._~` and
/// percent-escapes) or an IPv6 literal (hex digits, `:` and `.`, bracketed
/// or not): nothing that could end the request line or a field.
pub(crate) fn check_host(host: &str) -> Result<(), AuthorityError> {
    let inner = unbracket(host);
    if inner.is_empty() {
        return Err(if host.is_empty() {
            AuthorityError::MissingHost
        } else {
            AuthorityError::InvalidHost
        });
    }
    let valid = if inner.contains(':') {
        inner
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        inner == host
            && inner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%'))
    };
    if valid {
        Ok(())
    } else {
        Err(AuthorityError::InvalidHost)
    }
}

/// A port's digits as a number from 0 to 65535: ASCII digits only, no sign.
pub(crate) fn parse_port(digits: &str) -> Result<u16, AuthorityError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthorityError::InvalidPort);
    }
    digits.parse().map_err(|_| AuthorityError::InvalidPort)
}

fn percent_encode_invalid(resource: &str) -> String {
    let mut encoded = String::with_capacity(resource.len());
    for byte in resource.bytes() {
        if (0x21..0x7F).contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&alloc::format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Resolves `reference` against `base`, an absolute URL, following
/// RFC 3986 §5.2.2. A reference with a scheme is returned as it is.
pub(crate) fn resolve_reference(base: &str, reference: &str) -> String {
    let has_scheme = reference.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if has_scheme {
        return String::from(reference);
    }
    let (scheme, after_scheme) = base.split_once("://").unwrap_or(("", base));
    let (base_authority, base_path, base_rest) = split_authority(after_scheme);
    // The base's query with its '?', without any fragment.
    let base_query = base_rest.split('#').next().unwrap_or("");
    // RFC 3986 §5.2.2: the target's authority, path, and query and fragment.
    let (authority, path, tail) = if let Some(network_path) = reference.strip_prefix("//") {
        let (authority, path, tail) = split_authority(network_path);
        (authority, remove_dot_segments(path), String::from(tail))
    } else if reference.is_empty() || reference.starts_with('#') {
        let mut tail = String::from(base_query);
        tail.push_str(reference);
        (base_authority, String::from(base_path), tail)
    } else if reference.starts_with('?') {
        (
            base_authority,
            String::from(base_path),
            String::from(reference),
        )
    } else {
        let path_end = reference.find(['?', '#']).unwrap_or(reference.len());
        let (path, tail) = reference.split_at(path_end);
        let path = if path.starts_with('/') {
            remove_dot_segments(path)
        } else {
            // RFC 3986 §5.2.3: the base path up to its last '/', or "/"
            // when the base path is empty, then the reference's path.
            let directory = base_path
                .rfind('/')
                .and_then(|slash| base_path.get(..=slash))
                .unwrap_or("/");
            let mut merged = String::from(directory);
            merged.push_str(path);
            remove_dot_segments(&merged)
        };
        (base_authority, path, String::from(tail))
    };
    let mut resolved = String::with_capacity(base.len() + reference.len());
    resolved.push_str(scheme);
    resolved.push_str("://");
    resolved.push_str(authority);
    resolved.push_str(&path);
    resolved.push_str(&tail);
    resolved
}

/// Splits what follows `scheme://` into the authority, the path, and the
/// query and fragment with their delimiters.
fn split_authority(after_scheme: &str) -> (&str, &str, &str) {
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let (authority, path_and_rest) = after_scheme.split_at(authority_end);
    let path_end = path_and_rest
        .find(['?', '#'])
        .unwrap_or(path_and_rest.len());
    let (path, rest) = path_and_rest.split_at(path_end);
    (authority, path, rest)
}

/// RFC 3986 §5.2.4: removes the `.` and `..` segments of an absolute path.
/// Every path resolved here is absolute or empty; others are returned as
/// they are.
fn remove_dot_segments(path: &str) -> String {
    let Some(relative) = path.strip_prefix('/') else {
        return String::from(path);
    };
    let mut segments: Vec<&str> = Vec::new();
    // Whether the last segment was `.` or `..`, which leave a trailing '/'.
    let mut ends_in_slash = false;
    for segment in relative.split('/') {
        ends_in_slash = matches!(segment, "." | "..");
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut result = String::with_capacity(path.len());
    for segment in &segments {
        result.push('/');
        result.push_str(segment);
    }
    if ends_in_slash || segments.is_empty() {
        result.push('/');
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve() {
        let base = "ws://example.com:8080/a/b?q=1";
        assert_eq!(resolve_reference(base, "wss://other/x"), "wss://other/x");
        assert_eq!(
            resolve_reference(base, "https://other/x"),
            "https://other/x"
        );
        assert_eq!(resolve_reference(base, "//other/x"), "ws://other/x");
        assert_eq!(resolve_reference(base, "/x"), "ws://example.com:8080/x");
        assert_eq!(resolve_reference(base, "c"), "ws://example.com:8080/a/c");
        assert_eq!(
            resolve_reference(base, "?z=2"),
            "ws://example.com:8080/a/b?z=2"
        );
        assert_eq!(resolve_reference("ws://h", "c"), "ws://h/c");
    }

    #[test]
    fn the_rfc_3986_examples_resolve() {
        // RFC 3986 §5.4.1 and §5.4.2, on a ws base.
        let base = "ws://a/b/c/d;p?q";
        for (reference, expected) in [
            ("g:h", "g:h"),
            ("g", "ws://a/b/c/g"),
            ("./g", "ws://a/b/c/g"),
            ("g/", "ws://a/b/c/g/"),
            ("/g", "ws://a/g"),
            ("//g", "ws://g"),
            ("?y", "ws://a/b/c/d;p?y"),
            ("g?y", "ws://a/b/c/g?y"),
            ("#s", "ws://a/b/c/d;p?q#s"),
            ("g#s", "ws://a/b/c/g#s"),
            ("g?y#s", "ws://a/b/c/g?y#s"),
            (";x", "ws://a/b/c/;x"),
            ("g;x", "ws://a/b/c/g;x"),
            ("g;x?y#s", "ws://a/b/c/g;x?y#s"),
            ("", "ws://a/b/c/d;p?q"),
            (".", "ws://a/b/c/"),
            ("./", "ws://a/b/c/"),
            ("..", "ws://a/b/"),
            ("../", "ws://a/b/"),
            ("../g", "ws://a/b/g"),
            ("../..", "ws://a/"),
            ("../../", "ws://a/"),
            ("../../g", "ws://a/g"),
            ("../../../g", "ws://a/g"),
            ("../../../../g", "ws://a/g"),
            ("/./g", "ws://a/g"),
            ("/../g", "ws://a/g"),
            ("g.", "ws://a/b/c/g."),
            (".g", "ws://a/b/c/.g"),
            ("g..", "ws://a/b/c/g.."),
            ("..g", "ws://a/b/c/..g"),
            ("./../g", "ws://a/b/g"),
            ("./g/.", "ws://a/b/c/g/"),
            ("g/./h", "ws://a/b/c/g/h"),
            ("g/../h", "ws://a/b/c/h"),
            ("g;x=1/./y", "ws://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "ws://a/b/c/y"),
            ("g?y/./x", "ws://a/b/c/g?y/./x"),
            ("g?y/../x", "ws://a/b/c/g?y/../x"),
            ("g#s/./x", "ws://a/b/c/g#s/./x"),
            ("g#s/../x", "ws://a/b/c/g#s/../x"),
        ] {
            assert_eq!(
                resolve_reference(base, reference),
                expected,
                "{reference:?}"
            );
        }
    }

    #[test]
    fn references_against_a_base_without_a_path() {
        assert_eq!(resolve_reference("ws://h", ""), "ws://h");
        assert_eq!(resolve_reference("ws://h?q", "?r"), "ws://h?r");
        assert_eq!(resolve_reference("ws://h:1?q", "../x"), "ws://h:1/x");
        assert_eq!(resolve_reference("ws://h", "//i"), "ws://i");
        assert_eq!(resolve_reference("ws://h", "//i/./j/../k?l"), "ws://i/k?l");
    }

    #[test]
    fn urls_parse() {
        let url = WsUrl::parse("ws://Example.com/chat").unwrap();
        assert_eq!(
            (url.host(), url.port(), url.resource()),
            ("example.com", 80, "/chat")
        );
        assert_eq!(url.host_header(), "example.com");
        let url = WsUrl::parse("wss://example.com:8443").unwrap();
        assert_eq!(
            (url.port(), url.resource(), url.is_secure()),
            (8443, "/", true)
        );
        assert_eq!(url.host_header(), "example.com:8443");
        let url = WsUrl::parse("wss://example.com:443?x=1").unwrap();
        assert_eq!(
            (url.host_header().as_str(), url.resource()),
            ("example.com", "/?x=1")
        );
        let url = WsUrl::parse("ws://[::1]/").unwrap();
        assert_eq!((url.host(), url.host_header().as_str()), ("::1", "[::1]"));
        let url = WsUrl::parse("ws://h/a b").unwrap();
        assert_eq!(url.resource(), "/a%20b");
    }

    #[test]
    fn authorities_split_at_the_last_colon_outside_brackets() {
        assert_eq!(split_host_port("h:1"), Ok(("h", Some("1"))));
        assert_eq!(split_host_port("h"), Ok(("h", None)));
        assert_eq!(split_host_port("[::1]:1"), Ok(("[::1]", Some("1"))));
        assert_eq!(split_host_port("[::1]"), Ok(("[::1]", None)));
        assert_eq!(split_host_port(""), Err(AuthorityError::MissingHost));
        assert_eq!(split_host_port("a:b:1"), Ok(("a:b", Some("1"))));
        assert_eq!(check_host("::1"), Ok(()), "bare, as a config may name it");
        assert_eq!(check_host("Example.com"), Ok(()));
        assert_eq!(check_host("[h]"), Err(AuthorityError::InvalidHost));
        assert_eq!(check_host("a b"), Err(AuthorityError::InvalidHost));
        assert_eq!(check_host(""), Err(AuthorityError::MissingHost));
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("65535"), Ok(65535));
        for bad in ["", "+1", "65536", " 1", "1a"] {
            assert_eq!(parse_port(bad), Err(AuthorityError::InvalidPort), "{bad:?}");
        }
    }

    #[test]
    fn bad_urls_are_refused() {
        assert_eq!(WsUrl::parse("http://h/"), Err(UrlError::UnsupportedScheme));
        assert_eq!(WsUrl::parse("h/"), Err(UrlError::UnsupportedScheme));
        assert_eq!(WsUrl::parse("ws:///x"), Err(UrlError::MissingHost));
        assert_eq!(WsUrl::parse("ws://h:99999/"), Err(UrlError::InvalidPort));
        assert_eq!(WsUrl::parse("ws://h:/"), Err(UrlError::InvalidPort));
        assert_eq!(WsUrl::parse("ws://h:+1/"), Err(UrlError::InvalidPort));
        assert_eq!(WsUrl::parse("ws://h/#frag"), Err(UrlError::Fragment));
        assert_eq!(WsUrl::parse("ws://u:p@h/"), Err(UrlError::UserInfo));
        assert_eq!(WsUrl::parse("ws://[::1/"), Err(UrlError::InvalidHost));
        // An IPv6 literal is bracketed, and a bracket holds nothing else.
        assert_eq!(WsUrl::parse("ws://::1/"), Err(UrlError::InvalidHost));
        assert_eq!(WsUrl::parse("ws://a:b:80/"), Err(UrlError::InvalidHost));
        assert_eq!(WsUrl::parse("ws://[h]/"), Err(UrlError::InvalidHost));
        assert_eq!(WsUrl::parse("ws://[]/"), Err(UrlError::InvalidHost));
        assert_eq!(WsUrl::parse("ws://[::1]x/"), Err(UrlError::InvalidHost));
        assert_eq!(WsUrl::parse("ws://h\r\nX: y/"), Err(UrlError::InvalidHost));
    }
}
