//! A SOCKS5 CONNECT (RFC 1928), with username/password authentication
//! (RFC 1929), as a state machine: the greeting out, the method in, the
//! credentials out and their verdict in, the request out, the reply in.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::socks5_config::{Socks5Config, Socks5ConfigError, Socks5Credentials, Socks5Target};

const VERSION: u8 = 5;
/// RFC 1929 §2: the version of the username/password subnegotiation.
const AUTH_VERSION: u8 = 1;
const NO_AUTH: u8 = 0x00;
const USER_PASSWORD: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xFF;
const CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// A SOCKS5 reply code other than success (RFC 1928 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplyCode {
    /// 0x01: general SOCKS server failure.
    GeneralFailure,
    /// 0x02: connection not allowed by ruleset.
    NotAllowed,
    /// 0x03: network unreachable.
    NetworkUnreachable,
    /// 0x04: host unreachable.
    HostUnreachable,
    /// 0x05: connection refused.
    ConnectionRefused,
    /// 0x06: TTL expired.
    TtlExpired,
    /// 0x07: command not supported.
    CommandNotSupported,
    /// 0x08: address type not supported.
    AddressTypeNotSupported,
    /// 0x09 to 0xFF: unassigned.
    Other(u8),
}

impl ReplyCode {
    /// The code of a failure reply; `None` for 0x00, success.
    pub fn from_u8(code: u8) -> Option<Self> {
        Some(match code {
            0x00 => return None,
            0x01 => ReplyCode::GeneralFailure,
            0x02 => ReplyCode::NotAllowed,
            0x03 => ReplyCode::NetworkUnreachable,
            0x04 => ReplyCode::HostUnreachable,
            0x05 => ReplyCode::ConnectionRefused,
            0x06 => ReplyCode::TtlExpired,
            0x07 => ReplyCode::CommandNotSupported,
            0x08 => ReplyCode::AddressTypeNotSupported,
            other => ReplyCode::Other(other),
        })
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            ReplyCode::GeneralFailure => 0x01,
            ReplyCode::NotAllowed => 0x02,
            ReplyCode::NetworkUnreachable => 0x03,
            ReplyCode::HostUnreachable => 0x04,
            ReplyCode::ConnectionRefused => 0x05,
            ReplyCode::TtlExpired => 0x06,
            ReplyCode::CommandNotSupported => 0x07,
            ReplyCode::AddressTypeNotSupported => 0x08,
            ReplyCode::Other(code) => code,
        }
    }
}

impl core::fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            ReplyCode::GeneralFailure => "general SOCKS server failure",
            ReplyCode::NotAllowed => "connection not allowed by ruleset",
            ReplyCode::NetworkUnreachable => "network unreachable",
            ReplyCode::HostUnreachable => "host unreachable",
            ReplyCode::ConnectionRefused => "connection refused",
            ReplyCode::TtlExpired => "TTL expired",
            ReplyCode::CommandNotSupported => "command not supported",
            ReplyCode::AddressTypeNotSupported => "address type not supported",
            ReplyCode::Other(_) => "unassigned reply code",
        };
        write!(f, "{text} (0x{:02x})", self.code())
    }
}

/// Why a SOCKS5 tunnel failed: the proxy refused, or its answer is
/// malformed or cut short.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Socks5Error {
    /// The proxy refused the connection with a reply code.
    #[error("the SOCKS5 proxy refused: {0}")]
    Refused(ReplyCode),
    /// The proxy accepts none of the offered methods (0xFF): it wants
    /// credentials that were not configured, or a method not offered.
    #[error("the SOCKS5 proxy accepts no offered authentication method")]
    NoAcceptableMethod,
    /// RFC 1929: the proxy refused the user name and password.
    #[error("the SOCKS5 proxy refused the credentials (status 0x{status:02x})")]
    AuthFailed {
        /// The non-zero status.
        status: u8,
    },
    /// The proxy chose a method that was not offered.
    #[error("the SOCKS5 proxy chose method 0x{method:02x}, which was not offered")]
    UnexpectedMethod {
        /// The method.
        method: u8,
    },
    /// A version byte other than 5 (or 1 in the authentication reply).
    #[error("the SOCKS5 proxy answered with version {got}")]
    InvalidVersion {
        /// The version byte received.
        got: u8,
    },
    /// The reply's reserved byte is not zero.
    #[error("the SOCKS5 reply's reserved byte is 0x{got:02x}")]
    InvalidReserved {
        /// The byte received.
        got: u8,
    },
    /// The reply's address type is not 1, 3 or 4.
    #[error("the SOCKS5 reply has address type 0x{got:02x}")]
    InvalidAddressType {
        /// The byte received.
        got: u8,
    },
    /// The reply's bound domain name has length 0.
    #[error("the SOCKS5 reply has an empty domain name")]
    EmptyDomain,
    /// The transport ended before the reply did.
    #[error("the transport ended before the SOCKS5 proxy answered")]
    UnexpectedEof,
}

/// The address the proxy bound for the tunnel, from its reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoundAddress {
    /// An IPv4 or IPv6 address and port.
    Ip(SocketAddr),
    /// A domain name (raw bytes, 1 to 255) and port.
    Domain {
        /// The name as sent.
        name: Bytes,
        /// The port.
        port: u16,
    },
}

/// How a SOCKS5 tunnel ended, from [`Socks5Tunnel::poll_event`]. A
/// refusal is an error, [`Socks5Error::Refused`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Socks5Event {
    /// The tunnel is open.
    Established {
        /// The address the proxy bound.
        bound: BoundAddress,
        /// Bytes received after the reply: give them to the next layer.
        leftover: Bytes,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Method,
    Auth,
    Reply,
    Done,
}

/// A SOCKS5 CONNECT through a proxy (RFC 1928, RFC 1929), sans-I/O.
///
/// [`new`](Self::new) queues the greeting for
/// [`poll_transmit`](Self::poll_transmit); feed the proxy's bytes to
/// [`receive`](Self::receive) and write what `poll_transmit` gives after
/// each; the end of the transport goes to
/// [`receive_eof`](Self::receive_eof). [`poll_event`](Self::poll_event)
/// gives [`Socks5Event::Established`] once; every failure, a refusal among
/// them, is a [`Socks5Error`].
///
/// ```
/// use wsmachine::proxy::{Socks5Config, Socks5Event, Socks5Target, Socks5Tunnel};
///
/// let proxy = Socks5Config::from_url("socks5h://proxy.local")?;
/// let target = Socks5Target::from_host("example.com")?;
/// let mut tunnel = Socks5Tunnel::new(&proxy, target, 443)?;
/// assert_eq!(tunnel.poll_transmit().as_deref(), Some(&[5, 1, 0][..]));
/// tunnel.receive(&[5, 0])?;
/// assert_eq!(tunnel.poll_transmit().as_deref(), Some(&b"\x05\x01\x00\x03\x0bexample.com\x01\xbb"[..]));
/// tunnel.receive(&[5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90, 0x16])?;
/// match tunnel.poll_event() {
///     Some(Socks5Event::Established { leftover, .. }) => assert_eq!(&leftover[..], b"\x16"),
///     other => panic!("not established: {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Socks5Tunnel {
    stage: Stage,
    credentials: Option<Socks5Credentials>,
    /// The CONNECT request, written once the method is settled.
    request: Bytes,
    out: BytesMut,
    recv: BytesMut,
    outcome: Option<BoundAddress>,
    error: Option<Socks5Error>,
}

impl Socks5Tunnel {
    /// A tunnel to `target:port` through the proxy `config` describes, its
    /// greeting queued: "no authentication", and username/password when
    /// `config` has credentials.
    ///
    /// # Errors
    /// [`Socks5ConfigError::InvalidPort`] for port 0, or
    /// [`Socks5ConfigError::InvalidLength`] for a domain name that is empty
    /// or over 255 bytes.
    pub fn new(
        config: &Socks5Config,
        target: Socks5Target,
        port: u16,
    ) -> Result<Self, Socks5ConfigError> {
        if port == 0 {
            return Err(Socks5ConfigError::InvalidPort);
        }
        let mut request = BytesMut::with_capacity(262);
        request.put_slice(&[VERSION, CONNECT, 0]);
        match &target {
            Socks5Target::Ip(IpAddr::V4(ip)) => {
                request.put_u8(ATYP_IPV4);
                request.put_slice(&ip.octets());
            }
            Socks5Target::Ip(IpAddr::V6(ip)) => {
                request.put_u8(ATYP_IPV6);
                request.put_slice(&ip.octets());
            }
            Socks5Target::Domain(name) => {
                // Length-prefixed: no byte of the name can end the field.
                let len = one_byte_len(super::Socks5Field::Host, name)?;
                request.put_u8(ATYP_DOMAIN);
                request.put_u8(len);
                request.put_slice(name.as_bytes());
            }
        }
        request.put_u16(port);
        let credentials = config.credentials().cloned();
        let mut out = BytesMut::new();
        match &credentials {
            Some(_) => out.put_slice(&[VERSION, 2, NO_AUTH, USER_PASSWORD]),
            None => out.put_slice(&[VERSION, 1, NO_AUTH]),
        }
        Ok(Socks5Tunnel {
            stage: Stage::Method,
            credentials,
            request: request.freeze(),
            out,
            recv: BytesMut::new(),
            outcome: None,
            error: None,
        })
    }

    /// The next bytes to write to the proxy: the greeting, then the
    /// credentials and the request as the proxy's answers call for them.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.split().freeze())
        }
    }

    /// Feeds bytes read from the proxy. Bytes after the reply are kept for
    /// `leftover` until [`poll_event`](Self::poll_event) has given it;
    /// later ones are the next layer's and are not read.
    ///
    /// # Errors
    /// The tunnel's [`Socks5Error`], returned again by every later call.
    pub fn receive(&mut self, data: &[u8]) -> Result<(), Socks5Error> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if self.stage == Stage::Done {
            if self.outcome.is_some() {
                self.recv.extend_from_slice(data);
            }
            return Ok(());
        }
        self.recv.extend_from_slice(data);
        match self.advance() {
            Ok(()) => Ok(()),
            Err(error) => {
                self.stage = Stage::Done;
                self.recv.clear();
                self.error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Tells the tunnel the transport ended.
    ///
    /// # Errors
    /// [`Socks5Error::UnexpectedEof`] before the reply was complete, or the
    /// earlier error.
    pub fn receive_eof(&mut self) -> Result<(), Socks5Error> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if self.stage == Stage::Done {
            return Ok(());
        }
        self.stage = Stage::Done;
        self.recv.clear();
        self.error = Some(Socks5Error::UnexpectedEof);
        Err(Socks5Error::UnexpectedEof)
    }

    /// The outcome, once: `None` before it and after it was taken.
    pub fn poll_event(&mut self) -> Option<Socks5Event> {
        let bound = self.outcome.take()?;
        Some(Socks5Event::Established {
            bound,
            leftover: core::mem::take(&mut self.recv).freeze(),
        })
    }

    /// Whether the exchange is over: established or failed.
    pub fn is_finished(&self) -> bool {
        self.stage == Stage::Done
    }

    /// The fatal error, if the tunnel failed.
    pub fn error(&self) -> Option<&Socks5Error> {
        self.error.as_ref()
    }

    /// Reads as far as the buffered bytes go. Each field is checked as soon
    /// as it is in, so the outcome depends only on the bytes, never on how
    /// they were split.
    fn advance(&mut self) -> Result<(), Socks5Error> {
        loop {
            let buf = &self.recv[..];
            match self.stage {
                Stage::Method => {
                    if !check_version(buf, VERSION)? {
                        return Ok(());
                    }
                    let Some(&method) = buf.get(1) else {
                        return Ok(());
                    };
                    match (method, &self.credentials) {
                        (NO_AUTH, _) => {
                            self.out.put_slice(&self.request);
                            self.stage = Stage::Reply;
                        }
                        (USER_PASSWORD, Some(credentials)) => {
                            let auth = auth_request(credentials)?;
                            self.out.put_slice(&auth);
                            self.stage = Stage::Auth;
                        }
                        (NO_ACCEPTABLE, _) => return Err(Socks5Error::NoAcceptableMethod),
                        (method, _) => return Err(Socks5Error::UnexpectedMethod { method }),
                    }
                    self.recv.advance(2);
                }
                Stage::Auth => {
                    if !check_version(buf, AUTH_VERSION)? {
                        return Ok(());
                    }
                    match buf.get(1) {
                        None => return Ok(()),
                        Some(0) => {
                            self.out.put_slice(&self.request);
                            self.stage = Stage::Reply;
                        }
                        Some(&status) => return Err(Socks5Error::AuthFailed { status }),
                    }
                    self.recv.advance(2);
                }
                Stage::Reply => {
                    let Some((bound, len)) = parse_reply(buf)? else {
                        return Ok(());
                    };
                    self.recv.advance(len);
                    self.stage = Stage::Done;
                    self.outcome = Some(bound);
                    return Ok(());
                }
                Stage::Done => return Ok(()),
            }
        }
    }
}

fn one_byte_len(field: super::Socks5Field, value: &str) -> Result<u8, Socks5ConfigError> {
    match u8::try_from(value.len()) {
        Ok(len) if len > 0 => Ok(len),
        _ => Err(Socks5ConfigError::InvalidLength {
            field,
            len: value.len(),
        }),
    }
}

/// RFC 1929 §2: `01 ULEN UNAME PLEN PASSWD`. The lengths were checked when
/// the credentials were made; a failure here is reported as a refusal of
/// the method rather than a panic.
fn auth_request(credentials: &Socks5Credentials) -> Result<BytesMut, Socks5Error> {
    let not_sendable = |_| Socks5Error::UnexpectedMethod {
        method: USER_PASSWORD,
    };
    let user = credentials.user();
    let password = credentials.password();
    let user_len = one_byte_len(super::Socks5Field::User, user).map_err(not_sendable)?;
    let password_len =
        one_byte_len(super::Socks5Field::Password, password).map_err(not_sendable)?;
    let mut auth = BytesMut::with_capacity(3 + user.len() + password.len());
    auth.put_u8(AUTH_VERSION);
    auth.put_u8(user_len);
    auth.put_slice(user.as_bytes());
    auth.put_u8(password_len);
    auth.put_slice(password.as_bytes());
    Ok(auth)
}

/// Whether the version byte is in; an error when it is the wrong one.
fn check_version(buf: &[u8], expected: u8) -> Result<bool, Socks5Error> {
    match buf.first() {
        None => Ok(false),
        Some(&got) if got == expected => Ok(true),
        Some(&got) => Err(Socks5Error::InvalidVersion { got }),
    }
}

/// RFC 1928 §6: `VER REP RSV ATYP BND.ADDR BND.PORT`. The bound address
/// and the reply's length once it is whole; a refusal as soon as its code
/// is in (the address after it says nothing more).
fn parse_reply(buf: &[u8]) -> Result<Option<(BoundAddress, usize)>, Socks5Error> {
    if !check_version(buf, VERSION)? {
        return Ok(None);
    }
    let Some(&rep) = buf.get(1) else {
        return Ok(None);
    };
    if let Some(code) = ReplyCode::from_u8(rep) {
        return Err(Socks5Error::Refused(code));
    }
    match buf.get(2) {
        None => return Ok(None),
        Some(0) => {}
        Some(&got) => return Err(Socks5Error::InvalidReserved { got }),
    }
    let Some(&atyp) = buf.get(3) else {
        return Ok(None);
    };
    let (addr_start, addr_len) = match atyp {
        ATYP_IPV4 => (4, 4),
        ATYP_IPV6 => (4, 16),
        ATYP_DOMAIN => match buf.get(4) {
            None => return Ok(None),
            Some(0) => return Err(Socks5Error::EmptyDomain),
            Some(&len) => (5, usize::from(len)),
        },
        got => return Err(Socks5Error::InvalidAddressType { got }),
    };
    let port_at = addr_start + addr_len;
    let (Some(addr), Some(&[hi, lo])) =
        (buf.get(addr_start..port_at), buf.get(port_at..port_at + 2))
    else {
        return Ok(None);
    };
    let port = u16::from_be_bytes([hi, lo]);
    let bound = match (atyp, addr) {
        (ATYP_IPV4, &[a, b, c, d]) => {
            BoundAddress::Ip(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port))
        }
        (ATYP_IPV6, _) => match <[u8; 16]>::try_from(addr) {
            Ok(octets) => {
                BoundAddress::Ip(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port))
            }
            // cannot fail: `addr` is the 16 bytes sliced above.
            Err(_) => return Ok(None),
        },
        _ => BoundAddress::Domain {
            name: Bytes::copy_from_slice(addr),
            port,
        },
    };
    Ok(Some((bound, port_at + 2)))
}
