//! The control protocol's framing: one JSON message per line, read through tokio-util's
//! `LinesCodec` with a maximum length, so a peer that sends an endless line costs a bounded
//! buffer and its connection, not the master's memory.
//!
//! The master and the agents talk from plain threads (a handful of connections, a message a
//! second), so the codec runs over a blocking `TcpStream` here rather than in a runtime.

use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::TcpStream;

use bytes::BytesMut;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder, LinesCodec};

/// The longest message: a worker's report with its latency histograms is a few KiB.
pub const MAX_FRAME: usize = 1 << 20;

/// Writes one message as a JSON line.
pub fn send<T: Serialize>(stream: &mut TcpStream, message: &T) -> std::io::Result<()> {
    let line = serde_json::to_string(message).map_err(std::io::Error::other)?;
    let mut frame = BytesMut::with_capacity(line.len() + 1);
    LinesCodec::new_with_max_length(MAX_FRAME).encode(line, &mut frame).map_err(std::io::Error::other)?;
    stream.write_all(&frame)
}

/// The messages of a connection, until it ends or sends something unreadable or too long.
pub struct Messages<T> {
    stream: TcpStream,
    codec: LinesCodec,
    buffer: BytesMut,
    ended: bool,
    message: PhantomData<T>,
}

/// Reads JSON-line messages from `stream`.
pub fn messages<T: DeserializeOwned>(stream: TcpStream) -> Messages<T> {
    Messages { stream, codec: LinesCodec::new_with_max_length(MAX_FRAME), buffer: BytesMut::with_capacity(8192), ended: false, message: PhantomData }
}

impl<T> Messages<T> {
    /// The connection the messages come from.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

impl<T: DeserializeOwned> Iterator for Messages<T> {
    type Item = std::io::Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let outcome = loop {
            match self.codec.decode(&mut self.buffer) {
                Ok(Some(line)) => break serde_json::from_str(&line).map_err(std::io::Error::other),
                Ok(None) => {}
                Err(e) => break Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.ended = outcome.is_err();
        Some(outcome)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    use super::{MAX_FRAME, messages, send};

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (client, listener.accept().unwrap().0)
    }

    #[test]
    fn messages_cross_as_lines() {
        let (mut client, server) = pair();
        send(&mut client, &vec![1, 2]).unwrap();
        send(&mut client, &vec![3]).unwrap();
        drop(client);
        let got: Vec<Vec<i32>> = messages(server).map(Result::unwrap).collect();
        assert_eq!(got, [vec![1, 2], vec![3]]);
    }

    #[test]
    fn a_line_over_the_limit_ends_the_connection_without_buffering_it_all() {
        let (mut client, server) = pair();
        let writer = std::thread::spawn(move || {
            // Twice the limit without a newline, then a valid message.
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..(2 * MAX_FRAME / chunk.len()) {
                if client.write_all(&chunk).is_err() {
                    return;
                }
            }
            let _ = client.write_all(b"\n[1]\n");
        });
        let mut read = messages::<Vec<i32>>(server);
        let first = read.next().expect("an answer");
        assert_eq!(first.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
        assert!(read.next().is_none(), "nothing is read after a frame over the limit");
        drop(read);
        writer.join().unwrap();
    }
}
