//! What every HTTP/3 connection runs besides its requests: our control
//! stream with our SETTINGS and our QPACK streams, and the peer's
//! unidirectional streams, its control stream above all.

use bytes::{Buf, Bytes, BytesMut};
use quinn::{Connection, RecvStream, SendStream, VarInt};
use tokio::sync::watch;
use wsmachine::http3::frame::{self, PeerSettings};
use wsmachine::http3::varint;

use super::Http3Error;
use super::codes::{
    H3_CLOSED_CRITICAL_STREAM, H3_FRAME_ERROR, H3_FRAME_UNEXPECTED, H3_MISSING_SETTINGS,
    H3_SETTINGS_ERROR, H3_STREAM_CREATION_ERROR,
};
use crate::error::Error;

/// The largest control-stream frame read whole (SETTINGS, GOAWAY); larger
/// ones of other types are skipped unread.
const MAX_CONTROL_FRAME: u64 = 16 * 1024;

/// Our unidirectional streams, which must stay open as long as the
/// connection (RFC 9114 §6.2.1: closing the control stream is a
/// connection error). Dropping them finishes them.
#[derive(Debug)]
pub(crate) struct LocalStreams {
    _control: SendStream,
    _qpack_encoder: SendStream,
    _qpack_decoder: SendStream,
}

/// Opens our control stream with our SETTINGS, and our QPACK encoder and
/// decoder streams, which stay empty without a dynamic table but which
/// some peers expect.
pub(crate) async fn open_local_streams(
    connection: &Connection,
    max_field_section_size: usize,
) -> Result<LocalStreams, Error> {
    let mut control = open_uni(connection, frame::CONTROL_STREAM).await?;
    let mut settings = BytesMut::new();
    frame::encode_settings(max_field_section_size as u64, &mut settings);
    control
        .write_all(&settings)
        .await
        .map_err(|error| Http3Error::Stream(error.into()))?;
    Ok(LocalStreams {
        _control: control,
        _qpack_encoder: open_uni(connection, frame::QPACK_ENCODER_STREAM).await?,
        _qpack_decoder: open_uni(connection, frame::QPACK_DECODER_STREAM).await?,
    })
}

async fn open_uni(connection: &Connection, stream_type: u64) -> Result<SendStream, Error> {
    let mut stream = connection
        .open_uni()
        .await
        .map_err(Http3Error::Connection)?;
    let mut header = BytesMut::new();
    varint::encode(stream_type, &mut header);
    stream
        .write_all(&header)
        .await
        .map_err(|error| Http3Error::Stream(error.into()))?;
    Ok(stream)
}

/// The peer's SETTINGS once its control stream has brought them; `None`
/// until then.
pub(crate) type SettingsReceiver = watch::Receiver<Option<PeerSettings>>;

/// Accepts the peer's unidirectional streams on a task of its own, until
/// the connection ends, and returns where its SETTINGS will appear.
pub(crate) fn spawn_peer_streams(connection: Connection) -> SettingsReceiver {
    let (settings, receiver) = watch::channel(None);
    tokio::spawn(async move {
        let mut has_control = false;
        while let Ok(recv) = connection.accept_uni().await {
            let mut reader = FrameReader::new(recv);
            // A stream that ends or fails before its type is not one.
            let Ok(Some(stream_type)) = reader.read_varint().await else {
                continue;
            };
            match stream_type {
                frame::CONTROL_STREAM if has_control => {
                    return close(
                        &connection,
                        H3_STREAM_CREATION_ERROR,
                        "a second control stream",
                    );
                }
                frame::CONTROL_STREAM => {
                    has_control = true;
                    let connection = connection.clone();
                    let settings = settings.clone();
                    tokio::spawn(async move {
                        if let Err((code, reason)) = read_control(reader, &settings).await {
                            close(&connection, code, reason);
                        }
                    });
                }
                // Without a dynamic table, the peer's QPACK streams carry
                // nothing this layer needs; they are read so that they
                // never block.
                frame::QPACK_ENCODER_STREAM | frame::QPACK_DECODER_STREAM => {
                    tokio::spawn(reader.drain());
                }
                // Push streams need a MAX_PUSH_ID we never send; other
                // types are extensions or grease (RFC 9114 §6.2.3).
                _ => {
                    let _ = reader
                        .recv
                        .stop(VarInt::from_u32(H3_STREAM_CREATION_ERROR as u32));
                }
            }
        }
    });
    receiver
}

fn close(connection: &Connection, code: u64, reason: &str) {
    let code = VarInt::from_u64(code).unwrap_or(VarInt::MAX);
    connection.close(code, reason.as_bytes());
}

/// The peer's control stream: SETTINGS first, then frames until the
/// connection's end; a control stream that ends is a connection error.
async fn read_control(
    mut reader: FrameReader,
    settings: &watch::Sender<Option<PeerSettings>>,
) -> Result<(), (u64, &'static str)> {
    let mut first = true;
    loop {
        let (frame_type, len) = match reader.read_frame_header().await {
            Ok(Some(header)) => header,
            Ok(None) | Err(_) => {
                return Err((H3_CLOSED_CRITICAL_STREAM, "the control stream ended"));
            }
        };
        if first && frame_type != frame::SETTINGS {
            return Err((
                H3_MISSING_SETTINGS,
                "the control stream did not start with SETTINGS",
            ));
        }
        match frame_type {
            frame::SETTINGS if !first => {
                return Err((H3_FRAME_UNEXPECTED, "a second SETTINGS frame"));
            }
            frame::SETTINGS => {
                let payload = reader
                    .read_payload(len, MAX_CONTROL_FRAME)
                    .await
                    .map_err(|_| (H3_FRAME_ERROR, "a SETTINGS frame too large or cut"))?;
                let peer = frame::decode_settings(&payload)
                    .map_err(|_| (H3_SETTINGS_ERROR, "invalid SETTINGS"))?;
                settings.send_replace(Some(peer));
            }
            frame::DATA | frame::HEADERS | frame::PUSH_PROMISE => {
                return Err((H3_FRAME_UNEXPECTED, "a request frame on the control stream"));
            }
            frame_type if frame::is_http2_only(frame_type) => {
                return Err((H3_FRAME_UNEXPECTED, "an HTTP/2 frame type"));
            }
            // GOAWAY, CANCEL_PUSH, MAX_PUSH_ID and unknown types: nothing
            // to act on. After a GOAWAY the peer refuses new requests
            // itself, with H3_REQUEST_REJECTED, which reaches the request.
            _ => reader
                .skip(len)
                .await
                .map_err(|_| (H3_CLOSED_CRITICAL_STREAM, "the control stream ended"))?,
        }
        first = false;
    }
}

/// Why a frame could not be read.
#[derive(Debug)]
pub(crate) enum ReadFrameError {
    /// The stream failed (reset, connection lost).
    Stream(std::io::Error),
    /// The stream ended inside a frame.
    Truncated,
    /// A frame longer than the caller reads whole.
    TooLarge,
}

/// Reads frames from a stream, keeping what arrived past the last frame
/// read, for an [`H3Stream`](super::H3Stream) to take over.
#[derive(Debug)]
pub(crate) struct FrameReader {
    pub(crate) recv: RecvStream,
    pub(crate) buffer: BytesMut,
}

impl FrameReader {
    pub(crate) fn new(recv: RecvStream) -> Self {
        FrameReader {
            recv,
            buffer: BytesMut::new(),
        }
    }

    /// Reads more; `false` at the stream's end.
    async fn fill(&mut self) -> Result<bool, ReadFrameError> {
        match self.recv.read_chunk(64 * 1024, true).await {
            Ok(Some(chunk)) => {
                self.buffer.extend_from_slice(&chunk.bytes);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(error) => Err(ReadFrameError::Stream(error.into())),
        }
    }

    /// A varint, or `None` at the stream's end before it.
    pub(crate) async fn read_varint(&mut self) -> Result<Option<u64>, ReadFrameError> {
        loop {
            if let Some((value, len)) = varint::decode(&self.buffer) {
                self.buffer.advance(len);
                return Ok(Some(value));
            }
            if !self.fill().await? {
                return match self.buffer.is_empty() {
                    true => Ok(None),
                    false => Err(ReadFrameError::Truncated),
                };
            }
        }
    }

    /// The next frame's type and length, or `None` at the stream's end
    /// between frames.
    pub(crate) async fn read_frame_header(&mut self) -> Result<Option<(u64, u64)>, ReadFrameError> {
        loop {
            if let Some((frame_type, len, header_len)) = frame::decode_header(&self.buffer) {
                self.buffer.advance(header_len);
                return Ok(Some((frame_type, len)));
            }
            if !self.fill().await? {
                return match self.buffer.is_empty() {
                    true => Ok(None),
                    false => Err(ReadFrameError::Truncated),
                };
            }
        }
    }

    /// The `len` bytes of a frame's payload, when `len` is at most `max`.
    pub(crate) async fn read_payload(
        &mut self,
        len: u64,
        max: u64,
    ) -> Result<Bytes, ReadFrameError> {
        if len > max {
            return Err(ReadFrameError::TooLarge);
        }
        let len = len as usize;
        while self.buffer.len() < len {
            if !self.fill().await? {
                return Err(ReadFrameError::Truncated);
            }
        }
        Ok(self.buffer.split_to(len).freeze())
    }

    /// Passes over `len` bytes without keeping them.
    pub(crate) async fn skip(&mut self, mut len: u64) -> Result<(), ReadFrameError> {
        loop {
            let here = len.min(self.buffer.len() as u64);
            self.buffer.advance(here as usize);
            len -= here;
            if len == 0 {
                return Ok(());
            }
            if !self.fill().await? {
                return Err(ReadFrameError::Truncated);
            }
        }
    }

    /// Reads and drops everything until the stream's end.
    async fn drain(mut self) {
        self.buffer.clear();
        while let Ok(Some(_)) = self.recv.read_chunk(64 * 1024, true).await {}
    }
}
