//! An HTTP/2 client on the h2 crate for extended CONNECT (RFC 8441):
//! the connection, the request, and the stream as the driver's transport.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use h2::client::SendRequest;
use h2::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// One h2c connection with prior knowledge, once the server's SETTINGS
/// allow extended CONNECT.
pub async fn h2_connection(addr: SocketAddr) -> SendRequest<Bytes> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (send_request, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut send_request = send_request.ready().await.expect("ready");
    // RFC 8441 §3: no :protocol before SETTINGS_ENABLE_CONNECT_PROTOCOL.
    // The SETTINGS frame comes with the server's preface, just after the
    // handshake.
    while !send_request.is_extended_connect_protocol_enabled() {
        tokio::time::sleep(Duration::from_millis(1)).await;
        send_request = send_request.ready().await.expect("ready");
    }
    send_request
}

/// Sends `request` with `protocol` as `:protocol`, and returns the
/// response and the stream's sending half.
pub async fn send_connect(
    send_request: &SendRequest<Bytes>,
    mut request: http::Request<()>,
    protocol: Option<&str>,
) -> (http::Response<RecvStream>, SendStream<Bytes>) {
    if let Some(protocol) = protocol {
        request
            .extensions_mut()
            .insert(h2::ext::Protocol::from(protocol));
    }
    let mut send_request = send_request.clone().ready().await.expect("ready");
    let (response, send) = send_request
        .send_request(request, false)
        .expect("send the request");
    (response.await.expect("a response"), send)
}

/// An extended CONNECT stream as a byte stream: DATA frames in, DATA
/// frames out, END_STREAM as the end.
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// What arrived in a DATA frame and was not read yet.
    pending: Bytes,
}

impl H2Stream {
    /// The stream of one accepted extended CONNECT.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        H2Stream {
            send,
            recv,
            pending: Bytes::new(),
        }
    }
}

fn io_error(error: h2::Error) -> io::Error {
    io::Error::other(error)
}

impl AsyncRead for H2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pending.is_empty() {
            match ready!(self.recv.poll_data(cx)) {
                // END_STREAM: the transport's end.
                None => return Poll::Ready(Ok(())),
                Some(Ok(data)) => {
                    // The window opens again as the bytes are taken.
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    self.pending = data;
                }
                Some(Err(error)) => return Poll::Ready(Err(io_error(error))),
            }
        }
        let len = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending[..len]);
        self.pending.advance(len);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Send only what the peer's window admits, so memory stays bounded.
        self.send.reserve_capacity(buf.len());
        loop {
            match ready!(self.send.poll_capacity(cx)) {
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                Some(Err(error)) => return Poll::Ready(Err(io_error(error))),
                Some(Ok(0)) => continue,
                Some(Ok(capacity)) => {
                    let len = capacity.min(buf.len());
                    self.send
                        .send_data(Bytes::copy_from_slice(&buf[..len]), false)
                        .map_err(io_error)?;
                    return Poll::Ready(Ok(len));
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // h2 sends what it was given as soon as the connection task runs.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // END_STREAM on an empty DATA frame. After a reset or an earlier
        // end there is nothing left to end.
        let _ = self.send.send_data(Bytes::new(), true);
        Poll::Ready(Ok(()))
    }
}
