//! `unetseg serve`: a small static file server for the web page.
//!
//! It maps `/` to `www/`, `/pkg/` to `pkg/` (the wasm build) and `/weights/`
//! to `weights/`, all relative to `--root`. The deployed GitHub Pages site has
//! the same layout (www's files at the top, `pkg/` and `weights/` beside
//! them), so the page only uses relative paths. Only GET and HEAD are
//! answered; paths that leave these folders are refused.
//!
//! HTTP itself (parsing, keep-alive, HEAD without a body, status lines) is
//! `tiny_http`'s; this module decides which file answers which URL. Every reply
//! carries `Cross-Origin-Opener-Policy: same-origin` and
//! `Cross-Origin-Embedder-Policy: require-corp`, which make the page
//! cross-origin isolated (needed by multi-threaded wasm; the page loads nothing
//! from other origins).

use std::fs::File;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

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

/// Listens on `host:port` (port 0: a free one); returns the server and the address it got.
fn listen(host: &str, port: u16) -> Result<(Server, SocketAddr)> {
    let server =
        Server::http((host, port)).map_err(|e| Error::invalid(format!("cannot listen on {host}:{port}: {e}")))?;
    let addr = server.server_addr().to_ip().ok_or_else(|| Error::invalid("the server has no TCP address"))?;
    Ok((server, addr))
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

    /// Answers the requests of `server`, each on a thread of its own (a weights
    /// download does not hold up the page's other files), as long as it runs.
    fn serve(self, server: Server) {
        for request in server.incoming_requests() {
            let site = self.clone();
            std::thread::spawn(move || {
                let url = request.url().to_owned();
                if let Err(e) = site.answer(request) {
                    eprintln!("serve: {url}: {e}");
                }
            });
        }
    }

    /// Answers one request (tiny_http leaves out the body for HEAD). On an error
    /// (a file that cannot be opened) the request is dropped, and tiny_http answers 500.
    fn answer(&self, request: Request) -> std::io::Result<()> {
        match self.route(request.method(), request.url()) {
            Reply::File(path, mime) => {
                let response = Response::from_file(File::open(&path)?)
                    // Content-Length for every size (tiny_http would send files of
                    // 32 KiB and more chunked): the page's weight download shows
                    // its progress from it.
                    .with_chunked_threshold(usize::MAX);
                request.respond(with_headers(response, &[("Content-Type", mime)]))
            }
            Reply::Redirect(location) => match Header::from_bytes("Location", location.as_bytes()) {
                Ok(header) => request.respond(with_headers(Response::empty(301).with_header(header), &[])),
                // Only ASCII can be a header: a URL with raw non-ASCII bytes.
                Err(()) => request.respond(status_response(400)),
            },
            Reply::Status(code) => request.respond(status_response(code)),
        }
    }
}

/// A plain-text reply with status `code` ("404 Not Found"); 405 names the methods allowed.
fn status_response(code: u16) -> Response<std::io::Cursor<Vec<u8>>> {
    let status = StatusCode(code);
    let response =
        Response::from_string(format!("{code} {}\n", status.default_reason_phrase())).with_status_code(status);
    with_headers(response, if code == 405 { &[("Allow", "GET, HEAD")] } else { &[] })
}

/// `response` with [`COMMON_HEADERS`] and `extra`, all constant ASCII.
fn with_headers<R: Read>(mut response: Response<R>, extra: &[(&str, &str)]) -> Response<R> {
    for (name, value) in COMMON_HEADERS.iter().chain(extra) {
        response.add_header(Header::from_bytes(*name, *value).expect("header names and values are ASCII"));
    }
    response
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
    use std::net::TcpStream;

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
        assert_eq!(site.route(&Method::Post, "/"), Reply::Status(405));
        assert_eq!(site.route(&Method::Put, "/"), Reply::Status(405));
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
        // Bigger than tiny_http's 32 KiB threshold for chunked replies.
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
    fn requires_the_page_folder() {
        let missing = std::env::temp_dir().join("unetseg-serve-no-www");
        assert!(Site::new(&missing).unwrap_err().to_string().contains("index.html"));
    }
}
