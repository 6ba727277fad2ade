//! `unetseg serve`: a small static file server for the web page.
//!
//! It maps `/` to `www/`, `/pkg/` to `pkg/` (the wasm build) and `/weights/`
//! to `weights/`, all relative to `--root`. The deployed GitHub Pages site has
//! the same layout (www's files at the top, `pkg/` and `weights/` beside
//! them), so the page only uses relative paths. Only GET and HEAD are
//! answered; paths that leave these folders are refused.
//!
//! Each connection has a thread of its own, kept alive while the browser reuses it
//! (closed after 30 s idle); request heads are parsed by `httparse`. Not tiny_http:
//! its 0.12 task pool can leave a new connection queued behind kept-alive ones when
//! two arrive at once (`TaskPool::spawn` counts a waiting thread that an earlier
//! notification already claimed), and a page load then hangs on one of its files
//! until the browser drops an idle connection; that was seen here. Every reply
//! carries `Cross-Origin-Opener-Policy: same-origin` and
//! `Cross-Origin-Embedder-Policy: require-corp`, which make the page
//! cross-origin isolated (needed by multi-threaded wasm; the page loads nothing
//! from other origins).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::{Error, Result};

/// Arguments of `unetseg serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// TCP port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on. Keep 127.0.0.1 unless others must reach the page.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Folder that holds www/, pkg/ and weights/ (the repository root).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
}

/// Runs the subcommand: serves until the process is stopped.
pub fn run(args: ServeArgs) -> Result<()> {
    let site = Site::new(&args.root)?;
    let (server, addr) = listen(&args.host, args.port)?;
    if site.missing_wasm() {
        eprintln!("warning: {} is missing; build it with scripts/build-web.sh", site.pkg.join("unetseg.js").display());
    }
    println!("unetseg page: http://{addr}/");
    // Flushed so that scripts waiting for this line (tests/browser/helpers.mjs) see it at once.
    let _ = std::io::stdout().flush();
    site.serve(server);
    Ok(())
}

/// Listens on `host:port` (port 0: a free one); returns the listener and the address it got.
fn listen(host: &str, port: u16) -> Result<(TcpListener, SocketAddr)> {
    let cannot = |e: std::io::Error| Error::invalid(format!("cannot listen on {host}:{port}: {e}"));
    let listener = TcpListener::bind((host, port)).map_err(cannot)?;
    let addr = listener.local_addr().map_err(cannot)?;
    Ok((listener, addr))
}

/// How long a kept-alive connection may wait for its next request.
const IDLE: Duration = Duration::from_secs(30);
/// Longest request head (request line and headers) read.
const MAX_HEAD: usize = 16 * 1024;
/// Most headers a request may have.
const MAX_HEADERS: usize = 64;

/// The request methods the server tells apart.
#[derive(Debug, PartialEq)]
enum Method {
    Get,
    Head,
    /// Any other (answered 405).
    Other,
}

impl Method {
    fn parse(name: &str) -> Self {
        match name {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            _ => Method::Other,
        }
    }
}

/// The reason phrase of the statuses the server sends.
fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// One request head read off a connection, up to its blank line: `None` when the
/// connection ends (or idles out) before a request starts.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let read = match reader.read_until(b'\n', &mut head) {
            Ok(read) => read,
            Err(e) if before == 0 && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        if read == 0 {
            return if before == 0 { Ok(None) } else { Err(ErrorKind::UnexpectedEof.into()) };
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") || (before == 0 && head == b"\r\n") {
            if head.iter().all(|b| b.is_ascii_whitespace()) {
                // Blank lines between requests are allowed; keep reading.
                head.clear();
                continue;
            }
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD {
            return Err(std::io::Error::new(ErrorKind::InvalidData, "request head too large"));
        }
    }
}

/// The three folders the page is made of.
#[derive(Clone, Debug)]
struct Site {
    www: PathBuf,
    pkg: PathBuf,
    weights: PathBuf,
}

/// What the server answers to one request.
#[derive(Debug, PartialEq)]
enum Reply {
    /// A file to send, with its MIME type.
    File(PathBuf, &'static str),
    /// A redirect (a folder asked for without its trailing slash).
    Redirect(String),
    /// An HTTP error status.
    Status(u16),
}

/// Headers of every reply: no stale files while developing, no MIME sniffing,
/// and cross-origin isolation.
const COMMON_HEADERS: [(&str, &str); 4] = [
    ("Cache-Control", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
];

impl Site {
    fn new(root: &Path) -> Result<Self> {
        let www = root.join("www");
        if !www.join("index.html").is_file() {
            return Err(Error::file(
                www.join("index.html"),
                "not found: run `unetseg serve` from the repository root or pass --root",
            ));
        }
        Ok(Self { www, pkg: root.join("pkg"), weights: root.join("weights") })
    }

    fn missing_wasm(&self) -> bool {
        !self.pkg.join("unetseg.js").is_file()
    }

    /// Decides the reply for a request `method` on `target` (path and query).
    fn route(&self, method: &Method, target: &str) -> Reply {
        if *method != Method::Get && *method != Method::Head {
            return Reply::Status(405);
        }
        let path = target.split(['?', '#']).next().unwrap_or("");
        let Ok(decoded) = percent_decode_str(path).decode_utf8() else {
            return Reply::Status(400);
        };
        let Some(relative) = decoded.strip_prefix('/') else {
            return Reply::Status(400);
        };
        let (base, rest) = match relative.split_once('/') {
            Some(("pkg", rest)) => (&self.pkg, rest),
            Some(("weights", rest)) => (&self.weights, rest),
            _ => (&self.www, relative),
        };
        let Some(mut file) = safe_join(base, rest) else {
            return Reply::Status(403);
        };
        if file.is_dir() {
            if !path.ends_with('/') {
                return Reply::Redirect(format!("{path}/"));
            }
            file.push("index.html");
        }
        if !file.is_file() {
            return Reply::Status(404);
        }
        let mime = mime_type(&file);
        Reply::File(file, mime)
    }

    /// Accepts connections as long as it runs, each answered on a thread of its own
    /// (a weights download does not hold up the page's other files).
    fn serve(self, listener: TcpListener) {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let site = self.clone();
            std::thread::spawn(move || {
                if let Err(e) = site.connection(stream) {
                    if !matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) {
                        eprintln!("serve: {e}");
                    }
                }
            });
        }
    }

    /// Answers the requests of one connection in turn until the client closes it,
    /// asks to (`Connection: close`, HTTP/1.0), sends a body or idles for [`IDLE`].
    fn connection(&self, stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(IDLE))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = BufWriter::new(stream);
        loop {
            let head = match read_head(&mut reader) {
                Ok(Some(head)) => head,
                Ok(None) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::InvalidData => {
                    self.respond(&mut writer, &Method::Get, Reply::Status(431), false)?;
                    return writer.flush();
                }
                Err(e) => return Err(e),
            };
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut request = httparse::Request::new(&mut headers);
            let (Ok(httparse::Status::Complete(_)), Some(method), Some(target)) =
                (request.parse(&head), request.method, request.path)
            else {
                self.respond(&mut writer, &Method::Get, Reply::Status(400), false)?;
                return writer.flush();
            };
            let value = |name: &str| {
                request.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.to_ascii_lowercase())
            };
            // Only GET and HEAD are answered: a request with a body is answered, then closed.
            let body = value("transfer-encoding").is_some() || value("content-length").is_some_and(|v| v != b"0");
            let close = request.version != Some(1) || value("connection").is_some_and(|v| v == b"close");
            let keep_alive = !body && !close;
            let method = Method::parse(method);
            let reply = self.route(&method, target);
            self.respond(&mut writer, &method, reply, keep_alive)?;
            writer.flush()?;
            if !keep_alive {
                return Ok(());
            }
        }
    }

    /// Writes the response for `reply`: its status line, [`COMMON_HEADERS`], the
    /// Content-Type and Content-Length (for every size: the page's weight download
    /// shows its progress from it), and the body unless `method` is HEAD. A file that
    /// cannot be opened is answered 500.
    fn respond(&self, out: &mut impl Write, method: &Method, reply: Reply, keep_alive: bool) -> std::io::Result<()> {
        let (code, mime, mut extra, body): (u16, &str, Vec<(&str, String)>, Body) = match reply {
            Reply::File(path, mime) => match File::open(&path).and_then(|f| Ok((f.metadata()?.len(), f))) {
                Ok((len, file)) => (200, mime, Vec::new(), Body::File(file, len)),
                Err(_) => status_body(500),
            },
            // Only ASCII without control characters can be a header value.
            Reply::Redirect(location) if location.bytes().all(|b| b.is_ascii_graphic()) => {
                let (_, mime, _, body) = status_body(301);
                (301, mime, vec![("Location", location)], body)
            }
            Reply::Redirect(_) => status_body(400),
            Reply::Status(code) => status_body(code),
        };
        if code == 405 {
            extra.push(("Allow", "GET, HEAD".into()));
        }
        let len = match &body {
            Body::File(_, len) => *len,
            Body::Text(text) => text.len() as u64,
        };
        write!(out, "HTTP/1.1 {code} {}\r\nContent-Type: {mime}\r\nContent-Length: {len}\r\n", reason(code))?;
        for (name, value) in COMMON_HEADERS.iter().map(|&(n, v)| (n, v.to_string())).chain(extra) {
            write!(out, "{name}: {value}\r\n")?;
        }
        write!(out, "Connection: {}\r\n\r\n", if keep_alive { "keep-alive" } else { "close" })?;
        if *method != Method::Head {
            match body {
                Body::File(mut file, _) => {
                    std::io::copy(&mut file, out)?;
                }
                Body::Text(text) => out.write_all(text.as_bytes())?,
            }
        }
        Ok(())
    }
}

/// The body of a response.
enum Body {
    /// A file and its length.
    File(File, u64),
    /// A short text.
    Text(String),
}

/// A plain-text reply with status `code` ("404 Not Found\n").
fn status_body(code: u16) -> (u16, &'static str, Vec<(&'static str, String)>, Body) {
    (code, "text/plain; charset=utf-8", Vec::new(), Body::Text(format!("{code} {}\n", reason(code))))
}

/// Joins a URL path below `base`, refusing anything that could leave it:
/// `..`, absolute paths, drive prefixes, backslashes and NUL bytes.
fn safe_join(base: &Path, relative: &str) -> Option<PathBuf> {
    if relative.contains('\\') || relative.contains('\0') {
        return None;
    }
    let mut out = base.to_path_buf();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => {
                // Hidden files (.git, .env, ...) are never part of the page.
                if part.to_string_lossy().starts_with('.') {
                    return None;
                }
                out.push(part);
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The MIME type of a file of the page, from its extension.
///
/// A table of the page's own kinds of file rather than `mime_guess`: it is short,
/// it pins the types the browser insists on (`application/wasm` for streaming
/// compilation, `text/javascript` for modules, which `mime_guess` has changed
/// between releases) and it adds the charset of text files.
fn mime_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "tif" | "tiff" => "image/tiff",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "zip" => "application/zip",
        "txt" | "md" => "text/plain; charset=utf-8",
        // .safetensors (the weights) and anything else.
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A throwaway site folder with one file in each of the three mapped folders.
    fn site_in_temp(name: &str) -> (PathBuf, Site) {
        let root = std::env::temp_dir().join(format!("unetseg-serve-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (dir, file, body) in [
            ("www", "index.html", "<p>page</p>"),
            ("www/samples", "a.png", "png"),
            ("pkg", "unetseg_bg.wasm", "\0asm"),
            ("weights", "default.safetensors", "w"),
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            std::fs::write(root.join(dir).join(file), body).unwrap();
        }
        std::fs::write(root.join("secret.txt"), "secret").unwrap();
        std::fs::write(root.join("Cargo.toml"), "[package]").unwrap();
        let site = Site::new(&root).unwrap();
        (root, site)
    }

    #[test]
    fn maps_the_three_folders_with_their_types() {
        let (root, site) = site_in_temp("map");
        let html = "text/html; charset=utf-8";
        assert_eq!(site.route(&Method::Get, "/"), Reply::File(root.join("www/index.html"), html));
        assert_eq!(site.route(&Method::Get, "/?bench"), Reply::File(root.join("www/index.html"), html));
        assert_eq!(
            site.route(&Method::Get, "/samples/a.png"),
            Reply::File(root.join("www/samples/a.png"), "image/png")
        );
        assert_eq!(
            site.route(&Method::Head, "/pkg/unetseg_bg.wasm"),
            Reply::File(root.join("pkg/unetseg_bg.wasm"), "application/wasm")
        );
        assert_eq!(
            site.route(&Method::Get, "/weights/default.safetensors"),
            Reply::File(root.join("weights/default.safetensors"), "application/octet-stream")
        );
        assert_eq!(site.route(&Method::Get, "/samples"), Reply::Redirect("/samples/".into()));
        assert_eq!(site.route(&Method::Get, "/samples/"), Reply::Status(404), "a folder without index.html");
        assert_eq!(site.route(&Method::Get, "/nothing.js"), Reply::Status(404));
        // A malformed escape stays as it is: no such file.
        assert_eq!(site.route(&Method::Get, "/%zz"), Reply::Status(404));
        assert_eq!(site.route(&Method::parse("POST"), "/"), Reply::Status(405));
        assert_eq!(site.route(&Method::parse("PUT"), "/"), Reply::Status(405));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn refuses_paths_that_leave_the_site() {
        let (root, site) = site_in_temp("traversal");
        for target in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/samples/../../secret.txt",
            "/pkg/../secret.txt",
            "/weights/%2E%2E/secret.txt",
            "/..%2fsecret.txt",
            "/..%5csecret.txt",
            "/%00",
            "/.hidden",
        ] {
            assert_eq!(site.route(&Method::Get, target), Reply::Status(403), "{target}");
        }
        assert_eq!(site.route(&Method::Get, "/%ff"), Reply::Status(400), "not UTF-8");
        assert_eq!(site.route(&Method::Get, "relative"), Reply::Status(400));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn types_of_the_page_files() {
        for (file, mime) in [
            ("a.wasm", "application/wasm"),
            ("a.js", "text/javascript; charset=utf-8"),
            ("a.MJS", "text/javascript; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("a.html", "text/html; charset=utf-8"),
            ("a.json", "application/json"),
            ("a.svg", "image/svg+xml"),
            ("a.png", "image/png"),
            ("a.tif", "image/tiff"),
            ("a.zip", "application/zip"),
            ("a.safetensors", "application/octet-stream"),
            ("no-extension", "application/octet-stream"),
        ] {
            assert_eq!(mime_type(Path::new(file)), mime, "{file}");
        }
    }

    /// One request over a fresh connection: the status line, the headers (names in
    /// lower case) and the body.
    fn fetch(addr: SocketAddr, method: &str, path: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("end of the headers");
        let head = String::from_utf8(response[..split].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().to_owned();
        let headers = lines
            .map(|l| {
                let (name, value) = l.split_once(':').unwrap();
                (name.trim().to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        (status, headers, response[split + 4..].to_vec())
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn answers_over_tcp() {
        let (root, site) = site_in_temp("tcp");
        // Bigger than one write buffer.
        let weights = vec![7u8; 100_000];
        std::fs::write(root.join("weights/big.safetensors"), &weights).unwrap();
        let (server, addr) = listen("127.0.0.1", 0).unwrap();
        assert_ne!(addr.port(), 0);
        std::thread::spawn(move || site.serve(server));

        let (status, headers, body) = fetch(addr, "GET", "/");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, b"<p>page</p>");
        assert_eq!(header(&headers, "content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(header(&headers, "content-length"), Some("11"));
        assert_eq!(header(&headers, "cross-origin-opener-policy"), Some("same-origin"));
        assert_eq!(header(&headers, "cross-origin-embedder-policy"), Some("require-corp"));
        assert_eq!(header(&headers, "cache-control"), Some("no-cache"));

        let (status, headers, body) = fetch(addr, "GET", "/weights/big.safetensors");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(header(&headers, "content-length"), Some("100000"), "{headers:?}");
        assert_eq!(header(&headers, "transfer-encoding"), None);
        assert_eq!(body, weights);

        let (status, headers, body) = fetch(addr, "HEAD", "/pkg/unetseg_bg.wasm");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(header(&headers, "content-type"), Some("application/wasm"));
        assert_eq!(header(&headers, "content-length"), Some("4"));
        assert!(body.is_empty());

        let (status, headers, body) = fetch(addr, "GET", "/missing.js");
        assert_eq!(status, "HTTP/1.1 404 Not Found");
        assert_eq!(body, b"404 Not Found\n");
        assert_eq!(header(&headers, "cross-origin-embedder-policy"), Some("require-corp"));

        // Sent as it is (a browser would resolve the dots first): refused, and the
        // Cargo.toml beside www/ is not sent.
        let (status, _, body) = fetch(addr, "GET", "/../Cargo.toml");
        assert_eq!(status, "HTTP/1.1 403 Forbidden");
        assert!(!String::from_utf8_lossy(&body).contains("[package]"));

        let (status, headers, _) = fetch(addr, "GET", "/samples");
        assert_eq!(status, "HTTP/1.1 301 Moved Permanently");
        assert_eq!(header(&headers, "location"), Some("/samples/"));

        let (status, headers, _) = fetch(addr, "DELETE", "/");
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
        assert_eq!(header(&headers, "allow"), Some("GET, HEAD"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn keeps_connections_alive_and_idle_ones_hold_up_nothing() {
        let (root, site) = site_in_temp("keepalive");
        let (listener, addr) = listen("127.0.0.1", 0).unwrap();
        std::thread::spawn(move || site.serve(listener));
        // Kept-alive connections left idle, as a browser leaves them.
        let idle: Vec<TcpStream> = (0..8)
            .map(|_| {
                let mut stream = TcpStream::connect(addr).unwrap();
                write!(stream, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
                stream
            })
            .collect();
        // New connections arriving together are all answered.
        let fetches: Vec<_> =
            (0..16).map(|_| std::thread::spawn(move || fetch(addr, "GET", "/samples/a.png").2)).collect();
        for fetch in fetches {
            assert_eq!(fetch.join().unwrap(), b"png");
        }
        // Two requests sent at once on one connection: two replies, the connection
        // kept alive after the first and closed after the second.
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nHEAD /samples/a.png HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut replies = String::new();
        stream.read_to_string(&mut replies).unwrap();
        assert_eq!(replies.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{replies}");
        let keep = replies.find("Connection: keep-alive").unwrap();
        assert!(replies[keep..].contains("Connection: close") && replies.ends_with("\r\n\r\n"), "{replies}");
        drop(idle);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn requires_the_page_folder() {
        let missing = std::env::temp_dir().join("unetseg-serve-no-www");
        assert!(Site::new(&missing).unwrap_err().to_string().contains("index.html"));
    }
}
