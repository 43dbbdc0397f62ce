//! One keep-alive HTTP/1.1 connection, plain or TLS (rustls), driven by
//! blocking reads and writes on the calling thread.
//!
//! A session call is one small request and one small response on a
//! connection nobody else uses (each Ruby thread has its own). Blocking
//! I/O does it in a write and a read or two; an async client added a
//! reactor, a scheduler and wakers around the same two syscalls. Waits are
//! bounded by the call's deadline (socket timeouts) and cut short by
//! [`Interrupt`].

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::error::StoreError;
use crate::ops::interrupt::Interrupt;

/// The largest response accepted (an item is at most 400 KB).
const MAX_RESPONSE: usize = 16 * 1024 * 1024;
/// Largest header block accepted.
const MAX_HEAD: usize = 64 * 1024;
/// A connection idle this long is checked for a close by the server before
/// it is reused.
const IDLE_CHECK: Duration = Duration::from_secs(2);

/// Where requests go, parsed once.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The `Host` header (and signed host): host, and port when given.
    pub authority: String,
    host: String,
    port: u16,
    tls: Option<ServerName<'static>>,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let invalid =
            |why: &str| StoreError::Configuration(format!("invalid endpoint {url:?}: {why}"));
        let uri: http::Uri = url.parse().map_err(|e| invalid(&format!("{e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid("the scheme must be http or https")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let tls = if https {
            Some(
                ServerName::try_from(host.to_string())
                    .map_err(|e| invalid(&format!("not a TLS server name ({e})")))?,
            )
        } else {
            None
        };
        Ok(Endpoint {
            authority: authority.as_str().to_string(),
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            tls,
        })
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// The TLS settings of every connection of the process: the system's root
/// certificates (SSL_CERT_FILE / SSL_CERT_DIR are honoured) with rustls'
/// safe defaults. Loading the roots takes milliseconds: done once.
pub fn tls_config() -> Result<Arc<ClientConfig>, StoreError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "none found".into());
        return Err(StoreError::Configuration(format!(
            "cannot load TLS root certificates: {why}"
        )));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Configuration(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A response: status, DynamoDB's request id, body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

pub struct Connection {
    stream: Stream,
    buf: Vec<u8>,
    idle_since: Instant,
}

impl Connection {
    /// Connects (and, for https, sets up TLS on the first write).
    pub fn open(
        endpoint: &Endpoint,
        tls: Option<&Arc<ClientConfig>>,
        connect_timeout: Option<Duration>,
        deadline: Option<Instant>,
        interrupt: &Interrupt,
    ) -> Result<Self, StoreError> {
        interrupt.check()?;
        let addrs: Vec<SocketAddr> = (endpoint.host.as_str(), endpoint.port)
            .to_socket_addrs()
            .map_err(|e| StoreError::Network(format!("cannot resolve {}: {e}", endpoint.host)))?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for addr in &addrs {
            let limit = match (connect_timeout, remaining(deadline)?) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let attempt = match limit {
                Some(limit) => {
                    TcpStream::connect_timeout(addr, limit.max(Duration::from_millis(1)))
                }
                None => TcpStream::connect(addr),
            };
            interrupt.check()?;
            match attempt {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = Some(io_error(&format!("connecting to {addr}"), &e)),
            }
        }
        let tcp = tcp.ok_or_else(|| {
            last.unwrap_or_else(|| {
                StoreError::Network(format!("{} resolves to no address", endpoint.host))
            })
        })?;
        tcp.set_nodelay(true)
            .map_err(|e| io_error("setting TCP_NODELAY", &e))?;
        let stream = match (&endpoint.tls, tls) {
            (Some(name), Some(config)) => {
                let session = ClientConnection::new(config.clone(), name.clone())
                    .map_err(|e| StoreError::Network(format!("TLS: {e}")))?;
                Stream::Tls(Box::new(StreamOwned::new(session, tcp)))
            }
            (Some(_), None) => {
                return Err(StoreError::Internal(
                    "https endpoint without TLS settings".into(),
                ))
            }
            (None, _) => Stream::Plain(tcp),
        };
        Ok(Connection {
            stream,
            buf: Vec::with_capacity(4096),
            idle_since: Instant::now(),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.stream.tcp().as_raw_fd()
    }

    /// False when the server closed the connection (or sent something
    /// unasked) while it was idle. Only looked at after a pause.
    pub fn usable(&self) -> bool {
        if self.idle_since.elapsed() < IDLE_CHECK {
            return true;
        }
        let mut byte = [0u8; 1];
        // SAFETY: a one-byte buffer we own; MSG_PEEK leaves the data.
        let n = unsafe {
            libc::recv(
                self.fd(),
                byte.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }

    /// Sends `request` (complete bytes) and reads the response. After an
    /// error the connection must be dropped.
    pub fn exchange(
        &mut self,
        request: &[u8],
        deadline: Option<Instant>,
    ) -> Result<Response, StoreError> {
        let limit = remaining(deadline)?;
        let tcp = self.stream.tcp();
        tcp.set_write_timeout(limit)
            .map_err(|e| io_error("setting a timeout", &e))?;
        self.stream
            .write_all(request)
            .and_then(|_| self.stream.flush())
            .map_err(|e| io_error("sending the request", &e))?;
        self.buf.clear();
        let response = self.read_response(deadline)?;
        self.idle_since = Instant::now();
        Ok(response)
    }

    fn read_response(&mut self, deadline: Option<Instant>) -> Result<Response, StoreError> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut head = httparse::Response::new(&mut headers);
            let parsed = head
                .parse(&self.buf)
                .map_err(|e| protocol(&format!("bad response head ({e})")))?;
            let httparse::Status::Complete(head_len) = parsed else {
                if self.buf.len() > MAX_HEAD {
                    return Err(protocol("response head too large"));
                }
                self.fill(deadline)?;
                continue;
            };
            let status = head.code.unwrap_or(0);
            if (100..200).contains(&status) {
                // An interim response (100 Continue): the real one follows.
                self.buf.drain(..head_len);
                continue;
            }
            let mut request_id = None;
            let mut length = None;
            let mut chunked = false;
            let mut keep_alive = head.version == Some(1);
            for h in head.headers.iter() {
                let value = std::str::from_utf8(h.value).unwrap_or("").trim();
                if h.name.eq_ignore_ascii_case("content-length") {
                    length = Some(
                        value
                            .parse::<usize>()
                            .map_err(|_| protocol("bad content-length"))?,
                    );
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.to_ascii_lowercase().contains("chunked");
                } else if h.name.eq_ignore_ascii_case("connection") {
                    let value = value.to_ascii_lowercase();
                    if value.contains("close") {
                        keep_alive = false;
                    } else if value.contains("keep-alive") {
                        keep_alive = true;
                    }
                } else if h.name.eq_ignore_ascii_case("x-amzn-requestid") {
                    request_id = Some(value.to_string());
                }
            }
            self.buf.drain(..head_len);
            let body = if chunked {
                self.read_chunked(deadline)?
            } else if let Some(length) = length {
                if length > MAX_RESPONSE {
                    return Err(protocol("response too large"));
                }
                while self.buf.len() < length {
                    self.fill(deadline)?;
                }
                self.buf.drain(..length).collect()
            } else {
                keep_alive = false;
                self.read_to_end(deadline)?
            };
            // Anything after the response is unasked for: don't reuse.
            if !self.buf.is_empty() {
                keep_alive = false;
            }
            return Ok(Response {
                status,
                request_id,
                body,
                keep_alive,
            });
        }
    }

    fn read_chunked(&mut self, deadline: Option<Instant>) -> Result<Vec<u8>, StoreError> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(at) = find_crlf(&self.buf) {
                    break at;
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(protocol("bad chunk header"));
                }
                self.fill(deadline)?;
            };
            let size_text = std::str::from_utf8(&self.buf[..line_end]).unwrap_or("");
            let size_text = size_text.split(';').next().unwrap_or("").trim();
            let size =
                usize::from_str_radix(size_text, 16).map_err(|_| protocol("bad chunk size"))?;
            if body.len() + size > MAX_RESPONSE {
                return Err(protocol("response too large"));
            }
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers, if any, end with an empty line.
                loop {
                    if let Some(at) = find_crlf(&self.buf) {
                        self.buf.drain(..at + 2);
                        if at == 0 {
                            return Ok(body);
                        }
                        continue;
                    }
                    self.fill(deadline)?;
                }
            }
            while self.buf.len() < size + 2 {
                self.fill(deadline)?;
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    fn read_to_end(&mut self, deadline: Option<Instant>) -> Result<Vec<u8>, StoreError> {
        while self.read_more(deadline)? > 0 {}
        Ok(std::mem::take(&mut self.buf))
    }

    /// Reads more bytes into the buffer, waiting until the deadline; the
    /// response is not complete yet, so the end of the stream is an error.
    fn fill(&mut self, deadline: Option<Instant>) -> Result<(), StoreError> {
        match self.read_more(deadline)? {
            0 => Err(StoreError::Network(
                "the connection was closed before a complete response".into(),
            )),
            _ => Ok(()),
        }
    }

    /// One read into the buffer: the bytes read, 0 at the end of the stream.
    fn read_more(&mut self, deadline: Option<Instant>) -> Result<usize, StoreError> {
        if self.buf.len() > MAX_RESPONSE + MAX_HEAD {
            return Err(protocol("response too large"));
        }
        let limit = remaining(deadline)?;
        self.stream
            .tcp()
            .set_read_timeout(limit)
            .map_err(|e| io_error("setting a timeout", &e))?;
        let start = self.buf.len();
        self.buf.resize(start + 16 * 1024, 0);
        let read = loop {
            match self.stream.read(&mut self.buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.buf.truncate(start + *read.as_ref().unwrap_or(&0));
        read.map_err(|e| io_error("reading the response", &e))
    }
}

/// Time left before `deadline`: `None` without one, an error once passed.
fn remaining(deadline: Option<Instant>) -> Result<Option<Duration>, StoreError> {
    match deadline {
        None => Ok(None),
        Some(at) => {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                Err(StoreError::Timeout(
                    "no response within the operation timeout".into(),
                ))
            } else {
                Ok(Some(left))
            }
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn protocol(why: &str) -> StoreError {
    StoreError::Network(format!("unreadable HTTP response: {why}"))
}

fn io_error(doing: &str, e: &io::Error) -> StoreError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            StoreError::Timeout(format!("{doing}: {e}"))
        }
        _ => StoreError::Network(format!("{doing}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server answering each request with the next canned bytes.
    fn serve(answers: Vec<&'static [u8]>) -> (String, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let handle = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accept");
            for answer in answers {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf);
                for piece in answer.chunks(7) {
                    socket.write_all(piece).expect("write");
                    socket.flush().expect("flush");
                }
            }
        });
        (url, handle)
    }

    #[test]
    fn reads_length_chunked_and_close_delimited_bodies_on_one_connection() {
        let (url, server) = serve(vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-amzn-RequestId: R1\r\n\r\n{}",
            b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\n{\"a\r\n2\r\n\":\r\n2\r\n1}\r\n0\r\nT: v\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
        ]);
        let endpoint = Endpoint::parse(&url).expect("endpoint");
        let interrupt = Interrupt::new();
        let mut conn = Connection::open(&endpoint, None, None, None, &interrupt).expect("open");
        let first = conn
            .exchange(b"GET / HTTP/1.1\r\n\r\n", None)
            .expect("first");
        assert_eq!((first.status, first.body.as_slice()), (200, &b"{}"[..]));
        assert_eq!(first.request_id.as_deref(), Some("R1"));
        assert!(first.keep_alive);
        let second = conn
            .exchange(b"GET / HTTP/1.1\r\n\r\n", None)
            .expect("second");
        assert_eq!(
            (second.status, second.body.as_slice()),
            (400, &b"{\"a\":1}"[..])
        );
        let third = conn
            .exchange(b"GET / HTTP/1.1\r\n\r\n", None)
            .expect("third");
        assert_eq!(third.body, b"until the end");
        assert!(!third.keep_alive);
        server.join().expect("server");
    }

    #[test]
    fn a_silent_server_times_out_and_a_closed_one_is_a_network_error() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = Endpoint::parse(&format!("http://{}", listener.local_addr().expect("addr")))
            .expect("endpoint");
        let interrupt = Interrupt::new();
        let mut conn = Connection::open(&endpoint, None, None, None, &interrupt).expect("open");
        let (socket, _) = listener.accept().expect("accept");
        let deadline = Some(Instant::now() + Duration::from_millis(100));
        match conn.exchange(b"GET / HTTP/1.1\r\n\r\n", deadline) {
            Err(StoreError::Timeout(_)) => {}
            other => panic!("expected a timeout, got {other:?}"),
        }
        let mut conn = Connection::open(&endpoint, None, None, None, &interrupt).expect("open");
        drop(socket);
        let (socket, _) = listener.accept().expect("accept");
        drop(socket);
        match conn.exchange(b"GET / HTTP/1.1\r\n\r\n", None) {
            Err(StoreError::Network(_)) => {}
            other => panic!("expected a closed connection, got {other:?}"),
        }
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("https://dynamodb.us-east-1.amazonaws.com").expect("https");
        assert_eq!(
            (e.authority.as_str(), e.port, e.is_tls()),
            ("dynamodb.us-east-1.amazonaws.com", 443, true)
        );
        let e = Endpoint::parse("http://[::1]:8000").expect("ipv6");
        assert_eq!((e.host.as_str(), e.port), ("::1", 8000));
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("http://u:p@x").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }
}
