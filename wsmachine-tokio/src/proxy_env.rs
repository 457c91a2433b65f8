//! Proxies from the environment, as curl and python-websockets read them:
//! `http_proxy` for `ws://`, `https_proxy` for `wss://`, `all_proxy` as the
//! fallback, `no_proxy` for the hosts that go direct. Lower case names win
//! over upper case ones; an empty value counts as unset.
//!
//! [`proxy_from_env`] is pure: it takes the variables as a lookup function,
//! so a caller (or a test) can ask what `connect` would pick without
//! touching the process environment.

use std::net::IpAddr;

use wsmachine::proxy::{ProxyConfig, ProxyConfigError, Socks5Config, Socks5ConfigError};

/// The proxy picked from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvProxy {
    /// An HTTP proxy, tunnelled through with CONNECT.
    Http(ProxyConfig),
    /// A SOCKS5 proxy (`socks5://`, or `socks5h://` with
    /// [`remote_dns`](Socks5Config::remote_dns)).
    Socks5(Socks5Config),
}

/// A proxy variable whose value cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the proxy in {var} cannot be used: {reason}")]
pub struct EnvProxyError {
    /// The variable's name, as found (`https_proxy`, `ALL_PROXY`, ...).
    pub var: &'static str,
    /// What is wrong with its value.
    pub reason: EnvProxyReason,
}

/// What is wrong with a proxy variable's value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvProxyReason {
    /// A scheme other than `http`, `socks5` and `socks5h` (an `https://`
    /// proxy, `socks4://`).
    #[error("unsupported proxy scheme {0:?}")]
    UnsupportedScheme(String),
    /// A malformed `http://` proxy URL.
    #[error(transparent)]
    Http(ProxyConfigError),
    /// A malformed `socks5://` or `socks5h://` proxy URL.
    #[error(transparent)]
    Socks5(Socks5ConfigError),
}

/// The first set, non-empty variable of `names`, lower case first.
fn lookup(
    vars: &impl Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Option<(&'static str, String)> {
    names.iter().find_map(|&name| {
        vars(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .map(|value| (name, value))
    })
}

/// The proxy for a `ws://` (`secure` false) or `wss://` URL to
/// `host:port`, from the variables `vars` looks up: `None` to go direct.
///
/// A value without a scheme is an HTTP proxy, as curl takes it.
///
/// ```
/// use std::collections::HashMap;
/// use wsmachine_tokio::proxy_env::{EnvProxy, proxy_from_env};
///
/// let env = HashMap::from([
///     ("ALL_PROXY", "socks5h://127.0.0.1:1080"),
///     ("no_proxy", "localhost,.internal"),
/// ]);
/// let vars = |name: &str| env.get(name).map(|value| value.to_string());
/// let picked = proxy_from_env(vars, true, "example.com", 443)?;
/// assert!(matches!(picked, Some(EnvProxy::Socks5(proxy)) if proxy.remote_dns));
/// assert_eq!(proxy_from_env(vars, true, "db.internal", 443)?, None);
/// # Ok::<(), wsmachine_tokio::proxy_env::EnvProxyError>(())
/// ```
///
/// # Errors
/// [`EnvProxyError`] for a value that is not a usable proxy URL: it is
/// reported, not skipped, so a typo never sends traffic direct.
pub fn proxy_from_env(
    vars: impl Fn(&str) -> Option<String>,
    secure: bool,
    host: &str,
    port: u16,
) -> Result<Option<EnvProxy>, EnvProxyError> {
    if let Some((_, no_proxy)) = lookup(&vars, &["no_proxy", "NO_PROXY"])
        && no_proxy_matches(&no_proxy, host, port)
    {
        return Ok(None);
    }
    let scheme_vars: &[&'static str] = if secure {
        &["https_proxy", "HTTPS_PROXY"]
    } else {
        &["http_proxy", "HTTP_PROXY"]
    };
    let Some((var, value)) =
        lookup(&vars, scheme_vars).or_else(|| lookup(&vars, &["all_proxy", "ALL_PROXY"]))
    else {
        return Ok(None);
    };
    parse_proxy_url(&value)
        .map(Some)
        .map_err(|reason| EnvProxyError { var, reason })
}

/// A proxy URL as the variables hold it.
fn parse_proxy_url(value: &str) -> Result<EnvProxy, EnvProxyReason> {
    let Some((scheme, _)) = value.split_once("://") else {
        let url = format!("http://{value}");
        return ProxyConfig::from_url(&url)
            .map(EnvProxy::Http)
            .map_err(EnvProxyReason::Http);
    };
    match scheme.to_ascii_lowercase().as_str() {
        "http" => ProxyConfig::from_url(value)
            .map(EnvProxy::Http)
            .map_err(EnvProxyReason::Http),
        "socks5" | "socks5h" => Socks5Config::from_url(value)
            .map(EnvProxy::Socks5)
            .map_err(EnvProxyReason::Socks5),
        _ => Err(EnvProxyReason::UnsupportedScheme(scheme.to_owned())),
    }
}

/// Whether `no_proxy` (comma- or space-separated) sends `host:port` direct.
///
/// Each entry is `*` (every host), a host name or domain suffix
/// (`example.com` and `.example.com` both match `example.com` and its
/// subdomains), an IP literal (IPv6 with or without brackets), an IP
/// network in CIDR form, each optionally with `:port`. Case-insensitive.
pub fn no_proxy_matches(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = normalize_host(host);
    let host_ip = host.parse::<IpAddr>().ok();
    no_proxy
        .split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .any(|entry| entry_matches(entry, &host, host_ip, port))
}

fn normalize_host(host: &str) -> String {
    let host = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn entry_matches(entry: &str, host: &str, host_ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    let (name, entry_port) = split_entry_port(entry);
    if entry_port.is_some_and(|entry_port| entry_port != port) {
        return false;
    }
    let name = normalize_host(name);
    if let Some((network, prefix)) = name.split_once('/') {
        return match (network.parse::<IpAddr>(), prefix.parse::<u8>(), host_ip) {
            (Ok(network), Ok(prefix), Some(ip)) => in_network(ip, network, prefix),
            _ => false,
        };
    }
    if let (Ok(entry_ip), Some(ip)) = (name.parse::<IpAddr>(), host_ip) {
        return entry_ip == ip;
    }
    let suffix = name.strip_prefix('.').unwrap_or(&name);
    if suffix.is_empty() {
        return false;
    }
    host == suffix
        || (host_ip.is_none()
            && host
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('.')))
}

/// `host:port`, `[v6]:port`, `[v6]`, or a bare name or IPv6 literal.
fn split_entry_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some((inner, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (inner, port);
        }
        return (entry, None);
    }
    match entry.rsplit_once(':') {
        // One colon: a port. More: an unbracketed IPv6 literal.
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}
