//! What an opening handshake agreed on, for a connection that starts open
//! on a stream another stack upgraded.

use alloc::string::String;
use alloc::vec::Vec;

use crate::extensions::MessageCodec;
use crate::handshake::Accepted;
use crate::handshake::client::ClientConfig;
use crate::handshake::server::ServerConfig;

/// The subprotocol and extensions an opening handshake agreed on.
///
/// A [`Server`](crate::Server) or [`Client`](crate::Client) that did the
/// handshake itself works this out on its own. One that starts on a stream
/// another HTTP stack upgraded (hyper or axum `on_upgrade`, an HTTP/2 or
/// HTTP/3 extended CONNECT) gets it from
/// [`server::negotiate`](crate::handshake::server::negotiate) or
/// [`from_accepted`](Self::from_accepted), and passes it to
/// [`Server::new_upgraded`](crate::Server::new_upgraded) or
/// [`Client::new_upgraded`](crate::Client::new_upgraded), so that
/// permessage-deflate runs as agreed.
///
/// It is built only from answers already checked, so a connection never
/// starts with parameters it cannot honour.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    protocol: Option<String>,
    extensions: Vec<String>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::extensions::permessage_deflate::DeflateParams>,
}

impl Negotiated {
    /// No subprotocol and no extensions.
    pub fn none() -> Self {
        Negotiated::default()
    }

    /// Built from the elements of a response's `Sec-WebSocket-Extensions`
    /// that the caller has checked against the offer.
    #[cfg_attr(not(feature = "deflate"), allow(clippy::unnecessary_wraps))]
    pub(crate) fn checked(
        protocol: Option<String>,
        extensions: Vec<String>,
    ) -> Result<Self, NegotiationError> {
        #[cfg(feature = "deflate")]
        let deflate = crate::extensions::permessage_deflate::find_response(
            extensions.iter().map(String::as_str),
        )
        .map_err(NegotiationError::Deflate)?;
        Ok(Negotiated {
            protocol,
            extensions,
            #[cfg(feature = "deflate")]
            deflate,
        })
    }

    /// What a client's own handshake agreed on: the subprotocol and the
    /// extensions of the 101 it accepted.
    pub fn from_accepted(accepted: &Accepted) -> Self {
        // The client checked these elements against its offer before it
        // reported the acceptance, so they parse.
        Negotiated::checked(accepted.protocol.clone(), accepted.extensions.clone())
            .unwrap_or_default()
    }

    /// The subprotocol, if one was chosen.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The extension responses in effect, one element each, as the
    /// response's `Sec-WebSocket-Extensions` lists them.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Whether permessage-deflate was agreed.
    pub fn compresses(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflate.is_some();
        #[cfg(not(feature = "deflate"))]
        return false;
    }

    /// The codec a server runs for these extensions, with its level,
    /// threshold and window limits from `config`.
    #[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
    pub(crate) fn server_codec(&self, config: &ServerConfig) -> MessageCodec {
        #[cfg(feature = "deflate")]
        return self.codec(config.config.deflate.as_ref(), false);
        #[cfg(not(feature = "deflate"))]
        return MessageCodec::none();
    }

    /// The codec a client runs for these extensions, with its level,
    /// threshold and window limits from `config`.
    #[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
    pub(crate) fn client_codec(&self, config: &ClientConfig) -> MessageCodec {
        #[cfg(feature = "deflate")]
        return self.codec(config.config.deflate.as_ref(), true);
        #[cfg(not(feature = "deflate"))]
        return MessageCodec::none();
    }

    /// The codec for one side: the agreed parameters with that side's
    /// settings (the defaults when it has none).
    #[cfg(feature = "deflate")]
    fn codec(
        &self,
        deflate: Option<&crate::extensions::permessage_deflate::DeflateConfig>,
        is_client: bool,
    ) -> MessageCodec {
        use crate::extensions::permessage_deflate::{DeflateCodec, DeflateConfig};
        let Some(agreed) = &self.deflate else {
            return MessageCodec::none();
        };
        let default = DeflateConfig::default();
        let config = deflate.unwrap_or(&default);
        MessageCodec::deflate(DeflateCodec::new(config, agreed, is_client))
    }
}

/// Why extension responses could not be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NegotiationError {
    /// The permessage-deflate element is malformed or repeated.
    #[cfg(feature = "deflate")]
    Deflate(crate::extensions::permessage_deflate::DeflateResponseError),
}

impl From<NegotiationError> for crate::handshake::server::DecisionError {
    fn from(error: NegotiationError) -> Self {
        match error {
            #[cfg(feature = "deflate")]
            NegotiationError::Deflate(error) => Self::InvalidDeflateResponse(error),
        }
    }
}
