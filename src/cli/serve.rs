//! `unetseg serve`: a small static file server for the web page.
//!
//! It maps `/` to `www/`, `/pkg/` to `pkg/` (the wasm build) and `/weights/`
//! to `weights/`, all relative to `--root`. The deployed GitHub Pages site has
//! the same layout (www's files at the top, `pkg/` and `weights/` beside
//! them), so the page only uses relative paths. Only GET and HEAD are
//! answered; paths that leave these folders are refused.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

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
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .map_err(|e| Error::invalid(format!("cannot listen on {}:{}: {e}", args.host, args.port)))?;
    let addr = listener.local_addr().map_err(|e| Error::invalid(format!("cannot read the listening address: {e}")))?;
    if site.missing_wasm() {
        eprintln!("warning: {} is missing; build it with scripts/build-web.sh", site.pkg.join("unetseg.js").display());
    }
    println!("unetseg page: http://{addr}/");
    // Flushed so that scripts waiting for this line see it at once.
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let site = site.clone();
        std::thread::spawn(move || {
            if let Err(e) = site.answer(stream) {
                eprintln!("serve: {e}");
            }
        });
    }
    Ok(())
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
    /// An HTTP error status and its reason phrase.
    Status(u16, &'static str),
}

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
    fn route(&self, method: &str, target: &str) -> Reply {
        if method != "GET" && method != "HEAD" {
            return Reply::Status(405, "Method Not Allowed");
        }
        let path = target.split(['?', '#']).next().unwrap_or("");
        let Some(decoded) = percent_decode(path) else {
            return Reply::Status(400, "Bad Request");
        };
        let Some(relative) = decoded.strip_prefix('/') else {
            return Reply::Status(400, "Bad Request");
        };
        let (base, rest) = match relative.split_once('/') {
            Some(("pkg", rest)) => (&self.pkg, rest),
            Some(("weights", rest)) => (&self.weights, rest),
            _ => (&self.www, relative),
        };
        let Some(mut file) = safe_join(base, rest) else {
            return Reply::Status(403, "Forbidden");
        };
        if file.is_dir() {
            if !path.ends_with('/') {
                return Reply::Redirect(format!("{path}/"));
            }
            file.push("index.html");
        }
        if !file.is_file() {
            return Reply::Status(404, "Not Found");
        }
        let mime = mime_type(&file);
        Reply::File(file, mime)
    }

    /// Reads one request from `stream` and answers it (one request per connection).
    fn answer(&self, mut stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        // Skip the headers: nothing in them changes the answer.
        let mut header = String::new();
        while reader.read_line(&mut header)? > 2 {
            header.clear();
        }
        let mut parts = request_line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let head_only = method == "HEAD";
        match self.route(method, target) {
            Reply::File(path, mime) => {
                let mut file = File::open(&path)?;
                let len = file.metadata()?.len();
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: {mime}\r\nContent-Length: {len}\r\n\
                     Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
                )?;
                if !head_only {
                    let mut buf = vec![0u8; 1 << 16];
                    loop {
                        let n = file.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        stream.write_all(&buf[..n])?;
                    }
                }
            }
            Reply::Redirect(location) => {
                write!(
                    stream,
                    "HTTP/1.1 301 Moved Permanently\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )?;
            }
            Reply::Status(code, reason) => {
                let body = format!("{code} {reason}\n");
                write!(
                    stream,
                    "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )?;
                if !head_only {
                    stream.write_all(body.as_bytes())?;
                }
            }
        }
        stream.flush()
    }
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

/// Decodes `%XX` escapes; `None` for malformed escapes or invalid UTF-8.
fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The MIME type of a file of the page, from its extension.
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
        "txt" | "md" => "text/plain; charset=utf-8",
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
        let site = Site::new(&root).unwrap();
        (root, site)
    }

    #[test]
    fn maps_the_three_folders_with_their_types() {
        let (root, site) = site_in_temp("map");
        assert_eq!(site.route("GET", "/"), Reply::File(root.join("www/index.html"), "text/html; charset=utf-8"));
        assert_eq!(site.route("GET", "/?bench"), Reply::File(root.join("www/index.html"), "text/html; charset=utf-8"));
        assert_eq!(site.route("GET", "/samples/a.png"), Reply::File(root.join("www/samples/a.png"), "image/png"));
        assert_eq!(
            site.route("HEAD", "/pkg/unetseg_bg.wasm"),
            Reply::File(root.join("pkg/unetseg_bg.wasm"), "application/wasm")
        );
        assert_eq!(
            site.route("GET", "/weights/default.safetensors"),
            Reply::File(root.join("weights/default.safetensors"), "application/octet-stream")
        );
        assert_eq!(site.route("GET", "/samples"), Reply::Redirect("/samples/".into()));
        assert_eq!(site.route("GET", "/nothing.js"), Reply::Status(404, "Not Found"));
        assert_eq!(site.route("POST", "/"), Reply::Status(405, "Method Not Allowed"));
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
            assert_eq!(site.route("GET", target), Reply::Status(403, "Forbidden"), "{target}");
        }
        assert_eq!(site.route("GET", "/%zz"), Reply::Status(400, "Bad Request"));
        assert_eq!(site.route("GET", "relative"), Reply::Status(400, "Bad Request"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn answers_over_tcp() {
        let (root, site) = site_in_temp("tcp");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for stream in listener.incoming().take(2) {
                site.answer(stream.unwrap()).unwrap();
            }
        });
        let get = |request: &str| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            let mut response = String::new();
            s.read_to_string(&mut response).unwrap();
            response
        };
        let ok = get("GET /pkg/unetseg_bg.wasm HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Type: application/wasm\r\n"));
        assert!(ok.ends_with("\r\n\r\n\0asm"));
        let refused = get("GET /../secret.txt HTTP/1.1\r\n\r\n");
        assert!(refused.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{refused}");
        assert!(!refused.contains("secret\n") && !refused.ends_with("secret"));
        server.join().unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn requires_the_page_folder() {
        let missing = std::env::temp_dir().join("unetseg-serve-no-www");
        assert!(Site::new(&missing).unwrap_err().to_string().contains("index.html"));
    }
}
