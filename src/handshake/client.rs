//! The client's side of the opening handshake: the target URL, the request,
//! and the checks on the server's 101 (RFC 6455 §4.1).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bytes::BytesMut;

use super::{Accepted, HandshakeError, is_offered_extension, single_value};
use crate::accept_key::accept_key;
use crate::config::Config;
use crate::entropy::EntropyError;
use crate::extensions::header_elements;
use crate::http::{BodyLimits, HeadLimits, Headers, Response, WriteError, is_token, write_request};
use crate::url::{UrlError, WsUrl};

/// Why a client could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigError {
    /// A subprotocol is not a token, or is offered twice (RFC 6455 §4.1).
    #[error("invalid subprotocol {protocol:?}")]
    InvalidProtocol {
        /// The subprotocol.
        protocol: String,
    },
    /// An extra header the handshake sets itself.
    #[error("header {name} is set by the handshake itself")]
    ReservedHeader {
        /// The header's name.
        name: String,
    },
    /// An extra header, the Origin or an extension offer that cannot be
    /// written safely.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The entropy source failed to give the key.
    #[error(transparent)]
    Entropy(#[from] EntropyError),
    /// The proxy configuration cannot make a CONNECT to the URL's host.
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyConfigError),
    /// A `wss://` URL with a proxy: the tunnel goes under TLS, which the
    /// client does not run. Use a [`ProxyTunnel`](crate::proxy::ProxyTunnel),
    /// then TLS over it, then a client without a proxy.
    #[error("a wss:// client cannot run its proxy tunnel: TLS goes between the two")]
    ProxyUnderTls,
    /// A config with a SOCKS5 proxy: the client does not run that tunnel.
    /// Run a [`Socks5Tunnel`](crate::proxy::Socks5Tunnel) first, then a
    /// client without it.
    #[error("the client does not run a SOCKS5 tunnel: run it first, then the client without it")]
    Socks5ByCaller,
    /// The SOCKS5 configuration cannot make a request to the URL's host.
    #[error(transparent)]
    Socks5(#[from] crate::proxy::Socks5ConfigError),
    /// `extensions` has a permessage-deflate offer while `deflate` is set,
    /// which makes its own.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    #[error("permessage-deflate is offered in extensions and by the deflate config")]
    DeflateOfferedTwice,
}

/// Everything a client needs for its handshake and its connection.
///
/// ```
/// use wsmachine::handshake::client::ClientConfig;
///
/// let config = ClientConfig::new("ws://[::1]:9001/chat?room=7").unwrap()
///     .with_protocol("chat.v2")
///     .with_origin("https://example.com");
/// assert_eq!(config.host_header(), "[::1]:9001");
/// assert_eq!(config.resource(), "/chat?room=7");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    target: WsUrl,
    /// The `Origin` header to send, if any.
    pub origin: Option<String>,
    /// Subprotocols to offer, most preferred first.
    pub protocols: Vec<String>,
    /// Extension offers to send, one per element of
    /// `Sec-WebSocket-Extensions`.
    pub extensions: Vec<String>,
    /// Extra request headers (cookies, authorization, ...). Validated when
    /// the client is built: no CR, LF or NUL, names are tokens, and none of
    /// the fields the handshake sets itself.
    pub headers: Headers,
    /// Limits on the server's response head.
    pub head_limits: HeadLimits,
    /// Limits on a rejection's body.
    pub body_limits: BodyLimits,
    /// The connection's behaviour once open.
    pub config: Config,
    /// An HTTP proxy to tunnel through with CONNECT before the handshake
    /// (`ws://` only). Default none.
    pub proxy: Option<crate::proxy::ProxyConfig>,
    /// A SOCKS5 proxy, for a runtime to tunnel through before TLS and the
    /// handshake. The core's [`Client`](crate::Client) does not run it and
    /// refuses a config that has one. Default none.
    pub socks5: Option<crate::proxy::Socks5Config>,
    /// Whether a runtime may pick a proxy from the environment
    /// (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`) when neither
    /// [`proxy`](Self::proxy) nor [`socks5`](Self::socks5) is set. The core
    /// never reads the environment. Default true.
    pub proxy_from_env: bool,
    /// How long a runtime may take to have a transport ready for the
    /// handshake: name resolution, TCP, a SOCKS5 tunnel, a `wss://` HTTP
    /// proxy tunnel and TLS.
    /// The core does no I/O and never reads it; the handshake's own
    /// deadline is [`Config::handshake_timeout`]. Default 10 s.
    pub connect_timeout: core::time::Duration,
}

impl ClientConfig {
    /// A configuration for the given `ws://` or `wss://` URL. For `wss`,
    /// the caller runs TLS underneath.
    ///
    /// # Errors
    /// [`UrlError`] when the URL is not a valid WebSocket URL.
    pub fn new(url: &str) -> Result<Self, UrlError> {
        Ok(ClientConfig {
            target: WsUrl::parse(url)?,
            ..ClientConfig::pre_upgraded(Config::default())
        })
    }

    /// The configuration of a client whose stream was upgraded elsewhere: no
    /// URL, only the connection's behaviour.
    pub(crate) fn pre_upgraded(config: Config) -> Self {
        ClientConfig {
            target: WsUrl::none(),
            origin: None,
            protocols: Vec::new(),
            extensions: Vec::new(),
            headers: Headers::new(),
            head_limits: HeadLimits::default(),
            body_limits: BodyLimits::default(),
            config,
            proxy: None,
            socks5: None,
            proxy_from_env: true,
            connect_timeout: core::time::Duration::from_secs(10),
        }
    }

    /// Connects through an HTTP proxy: the client writes a CONNECT to the
    /// URL's host and port first, and its handshake request once the proxy
    /// has established the tunnel. The caller opens the transport to
    /// [`ProxyConfig::host`](crate::proxy::ProxyConfig::host) and
    /// [`port`](crate::proxy::ProxyConfig::port).
    ///
    /// ```
    /// use wsmachine::handshake::client::ClientConfig;
    /// use wsmachine::proxy::ProxyConfig;
    ///
    /// let config = ClientConfig::new("ws://example.com/chat")?
    ///     .with_proxy(ProxyConfig::from_url("http://proxy.local:3128")?);
    /// assert_eq!(config.proxy.as_ref().map(|proxy| proxy.port()), Some(3128));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_proxy(mut self, proxy: crate::proxy::ProxyConfig) -> Self {
        self.proxy = Some(proxy);
        self.socks5 = None;
        self
    }

    /// Connects through a SOCKS5 proxy, replacing an HTTP one. A runtime
    /// runs the [`Socks5Tunnel`](crate::proxy::Socks5Tunnel) before TLS and
    /// the handshake; the core's client does not.
    pub fn with_socks5_proxy(mut self, proxy: crate::proxy::Socks5Config) -> Self {
        self.socks5 = Some(proxy);
        self.proxy = None;
        self
    }

    /// Sets [`proxy_from_env`](Self::proxy_from_env): `false` keeps a
    /// runtime from reading proxies from the environment.
    #[must_use]
    pub fn with_proxy_from_env(mut self, enabled: bool) -> Self {
        self.proxy_from_env = enabled;
        self
    }

    /// Sets the connection's settings (limits, timers, permessage-deflate).
    #[must_use]
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: core::time::Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Adds a subprotocol to offer.
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Sets the `Origin` header.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Offers permessage-deflate with these preferences: sets
    /// [`Config::deflate`](crate::config::Config::deflate).
    ///
    /// ```
    /// use wsmachine::extensions::permessage_deflate::DeflateConfig;
    /// use wsmachine::handshake::client::ClientConfig;
    ///
    /// let config = ClientConfig::new("ws://example.com/")?
    ///     .with_deflate(DeflateConfig::default());
    /// assert!(config.config.deflate.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn with_deflate(
        mut self,
        deflate: crate::extensions::permessage_deflate::DeflateConfig,
    ) -> Self {
        self.config.deflate = Some(deflate);
        self
    }

    /// Adds an extra request header.
    pub fn with_header(mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push(name, value);
        self
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        self.target.as_str()
    }

    /// Whether the URL is `wss://`.
    pub fn is_secure(&self) -> bool {
        self.target.is_secure()
    }

    /// The host, without brackets for an IPv6 literal.
    pub fn host(&self) -> &str {
        self.target.host()
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.target.port()
    }

    /// The path and query sent in the request line.
    pub fn resource(&self) -> &str {
        self.target.resource()
    }

    /// The `Host` header: the host, with the port when it is not the
    /// scheme's default (RFC 6455 §4.1, item 4).
    pub fn host_header(&self) -> String {
        self.target.host_header()
    }

    /// Writes the handshake request with the given key to `out`.
    pub(crate) fn write_request(
        &self,
        key: &str,
        out: &mut BytesMut,
    ) -> Result<(), ClientConfigError> {
        self.check_offer()?;
        let mut headers = Headers::new();
        headers.push("Host", self.host_header());
        headers.push("Upgrade", "websocket");
        headers.push("Connection", "Upgrade");
        headers.push("Sec-WebSocket-Key", key);
        self.push_offer_headers(&mut headers);
        write_request(out, "GET", self.target.resource(), &headers, &[])?;
        Ok(())
    }

    /// Checks what every version of the handshake request carries from
    /// this config: the extra headers, the subprotocols, the extension
    /// offers.
    pub(crate) fn check_offer(&self) -> Result<(), ClientConfigError> {
        for (name, _) in self.headers.iter() {
            if is_reserved_header(name) {
                return Err(ClientConfigError::ReservedHeader {
                    name: name.to_string(),
                });
            }
        }
        for (index, protocol) in self.protocols.iter().enumerate() {
            let repeated = self
                .protocols
                .get(..index)
                .is_some_and(|earlier| earlier.contains(protocol));
            if !is_token(protocol) || repeated {
                return Err(ClientConfigError::InvalidProtocol {
                    protocol: protocol.clone(),
                });
            }
        }
        #[cfg(feature = "deflate")]
        if self.config.deflate.is_some()
            && self
                .extensions
                .iter()
                .any(|offer| crate::extensions::permessage_deflate::is_deflate_element(offer))
        {
            return Err(ClientConfigError::DeflateOfferedTwice);
        }
        Ok(())
    }

    /// Pushes the fields every version of the handshake request carries
    /// (RFC 6455 §4.1, items 9 to 12; RFC 8441 §5): the version, the
    /// origin, the offers, then the extra headers. Call
    /// [`check_offer`](Self::check_offer) first.
    pub(crate) fn push_offer_headers(&self, headers: &mut Headers) {
        headers.push("Sec-WebSocket-Version", "13");
        if let Some(origin) = &self.origin {
            headers.push("Origin", origin.as_str());
        }
        if !self.protocols.is_empty() {
            headers.push("Sec-WebSocket-Protocol", self.protocols.join(", "));
        }
        let offers = self.extension_offers();
        if !offers.is_empty() {
            headers.push("Sec-WebSocket-Extensions", offers.join(", "));
        }
        for (name, value) in self.headers.iter() {
            headers.push(name, value);
        }
    }

    /// Checks a 101 response against RFC 6455 §4.1 and this offer.
    pub(crate) fn check_response(
        &self,
        key: &str,
        response: Response,
    ) -> Result<Accepted, HandshakeError> {
        let headers = &response.headers;
        // RFC 6455 §4.1, client requirements 2 to 6, in order.
        if !headers
            .get_all("Upgrade")
            .any(|value| value.eq_ignore_ascii_case(b"websocket"))
        {
            return Err(HandshakeError::ResponseNotWebSocket);
        }
        if !headers.contains_token("Connection", "upgrade") {
            return Err(HandshakeError::ResponseMissingConnectionUpgrade);
        }
        match single_value(headers, "Sec-WebSocket-Accept") {
            None => return Err(HandshakeError::MissingAccept),
            Some(Some(accept)) if accept == accept_key(key.as_bytes()).as_bytes() => {}
            Some(_) => return Err(HandshakeError::AcceptMismatch),
        }
        let (protocol, extensions) = self.check_choices(headers)?;
        Ok(Accepted {
            response,
            protocol,
            extensions,
        })
    }

    /// Checks the server's choices against this offer (RFC 6455 §4.1,
    /// client requirements 5 and 6; RFC 7692 §7 for permessage-deflate): the
    /// extensions it answered, then the subprotocol it chose.
    pub(crate) fn check_choices(
        &self,
        headers: &Headers,
    ) -> Result<(Option<String>, Vec<String>), HandshakeError> {
        let mut extensions = Vec::new();
        let offers = self.extension_offers();
        for element in header_elements(headers) {
            if !is_offered_extension(&offers, element) {
                return Err(HandshakeError::UnofferedExtension {
                    extension: String::from(element),
                });
            }
            extensions.push(String::from(element));
        }
        #[cfg(feature = "deflate")]
        self.deflate_response(&extensions)
            .map_err(HandshakeError::InvalidDeflateResponse)?;
        let chosen: Vec<&str> = headers.tokens("Sec-WebSocket-Protocol").collect();
        let protocol = match chosen.as_slice() {
            [] => None,
            [protocol] if self.protocols.iter().any(|offered| offered == protocol) => {
                Some(String::from(*protocol))
            }
            _ => {
                return Err(HandshakeError::UnofferedSubprotocol {
                    protocol: chosen.join(", "),
                });
            }
        };
        Ok((protocol, extensions))
    }
}

impl ClientConfig {
    /// Every extension offer the request makes: the app's, then
    /// permessage-deflate's.
    fn extension_offers(&self) -> Vec<String> {
        #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
        let mut offers = self.extensions.clone();
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &self.config.deflate {
            offers.push(deflate.offer().to_string());
        }
        offers
    }

    /// The permessage-deflate response among the accepted extensions,
    /// checked against the offer; `None` when it was not offered or not
    /// accepted.
    #[cfg(feature = "deflate")]
    pub(crate) fn deflate_response(
        &self,
        accepted: &[String],
    ) -> Result<
        Option<crate::extensions::permessage_deflate::DeflateParams>,
        crate::extensions::permessage_deflate::DeflateResponseError,
    > {
        match &self.config.deflate {
            Some(deflate) => crate::extensions::permessage_deflate::client_response(
                deflate,
                accepted.iter().map(String::as_str),
            ),
            None => Ok(None),
        }
    }
}

/// Fields the handshake writes itself, and framing fields the writer owns.
fn is_reserved_header(name: &str) -> bool {
    [
        "Host",
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Accept",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "Origin",
    ]
    .iter()
    .any(|reserved| reserved.eq_ignore_ascii_case(name))
}
