//! Builds the web UI (`ui/`, an npm project) and embeds it in the binary.
//!
//! - When `ui/dist` is missing or older than the UI's sources (`ui/src`, `index.html`,
//!   `package.json`, `package-lock.json`, `vite.config.ts`, `tsconfig.json`), runs `npm ci`
//!   (only when `ui/node_modules` is missing or older than the lock file) and `npm run build`.
//! - Copies `ui/dist` into `OUT_DIR` and writes `ui_assets.rs` there: one `include_bytes!` per
//!   file, which `src/ui.rs` serves. The copies keep the binary buildable whatever later
//!   happens to `ui/dist` (a manual `npm run build` renames the hashed assets).
//! - Compresses each text file (HTML, JS, CSS, SVG, JSON) with gzip at the best level once,
//!   here, and embeds that too when it is smaller, so the server sends it to browsers that
//!   accept gzip without compressing on every request.
//! - Cargo reruns this script only when those sources change, so a rebuild of Rust code alone
//!   never starts npm.
//! - `SIGHTLINE_SKIP_UI_BUILD=1` skips npm entirely and embeds a one-page placeholder that says
//!   the UI was not built (for Rust-only work on a machine without Node.js).
//!
//! Without npm, or when the UI's build fails, the build fails and says how to install Node.js.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Instant, SystemTime};
use std::{env, fs, io};

/// What the UI's build reads, relative to `ui/`; a change to any of them rebuilds it.
const UI_INPUTS: [&str; 6] = [
    "src",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

/// Extensions of the files worth compressing (text); images and fonts are compressed already.
const COMPRESSIBLE: [&str; 7] = ["html", "js", "mjs", "css", "svg", "json", "map"];

/// Files smaller than this are sent as they are: gzip's framing would eat the gain.
const MIN_COMPRESS_BYTES: usize = 1024;

/// The escape hatch: embed a placeholder instead of building the UI.
const SKIP_VARIABLE: &str = "SIGHTLINE_SKIP_UI_BUILD";

const PLACEHOLDER_HTML: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sightline</title></head>
<body style=\"font-family: system-ui, sans-serif; margin: 3em; max-width: 44em\">
<h1>Sightline</h1>
<p>This binary was built with <code>SIGHTLINE_SKIP_UI_BUILD=1</code>, so the web UI was not
built into it. Build it again without that variable (with Node.js 20.19 or later and npm
installed) to get the UI.</p>
<p>The API works as usual: <a href=\"/api/v1/services\">/api/v1/services</a>,
<a href=\"/api/v1/traces\">/api/v1/traces</a>, <a href=\"/jaeger/api/services\">/jaeger/api</a>,
<a href=\"/metrics\">/metrics</a>.</p>
</body></html>
";

const NODE_HELP: &str =
    "The web UI (ui/) is built with Node.js 20.19 or later and npm: install them \
(https://nodejs.org/en/download, a version manager such as nvm or fnm, or your system's \
packages if they are recent enough), then build again. To build without the UI, set \
SIGHTLINE_SKIP_UI_BUILD=1 (the binary then serves a page saying the UI was not built).";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    for input in UI_INPUTS {
        println!("cargo:rerun-if-changed=ui/{input}");
    }
    println!("cargo:rerun-if-env-changed={SKIP_VARIABLE}");
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let ui = manifest_dir.join("ui");
    let embedded = out_dir.join("ui");
    if embedded.exists() {
        fs::remove_dir_all(&embedded).map_err(|error| describe_io("clear", &embedded, error))?;
    }
    fs::create_dir_all(&embedded).map_err(|error| describe_io("create", &embedded, error))?;

    let skip = env::var(SKIP_VARIABLE).is_ok_and(|value| !value.is_empty() && value != "0");
    let built = if skip {
        println!("cargo:warning={SKIP_VARIABLE} is set: the binary serves a placeholder page instead of the web UI");
        let index = embedded.join("index.html");
        fs::write(&index, PLACEHOLDER_HTML).map_err(|error| describe_io("write", &index, error))?;
        false
    } else {
        let dist = ui.join("dist");
        if ui_build_is_stale(&ui, &dist) {
            build_ui(&ui)?;
        }
        copy_tree(&dist, &embedded)?;
        true
    };

    let mut files = Vec::new();
    list_files(&embedded, &mut files)?;
    files.sort();
    if !files.iter().any(|path| path.ends_with("index.html")) {
        return Err(format!(
            "{} has no index.html after the UI's build; delete ui/dist and build again",
            embedded.display()
        ));
    }
    let mut code = String::from(
        "// Generated by build.rs: the web UI's files, paths relative to ui/dist.\n\
         /// Each embedded file (see `EmbeddedFile` in src/ui.rs).\n\
         pub(crate) static ASSETS: &[EmbeddedFile] = &[\n",
    );
    for path in &files {
        let relative = path
            .strip_prefix(&embedded)
            .map_err(|error| error.to_string())?
            .to_string_lossy()
            .replace('\\', "/");
        let gzip = match gzip_copy(path)? {
            Some(compressed) => format!(
                "Some(include_bytes!({:?}))",
                compressed.display().to_string()
            ),
            None => "None".to_owned(),
        };
        let _ = writeln!(
            code,
            "    EmbeddedFile {{ path: {relative:?}, bytes: include_bytes!({:?}), gzip: {gzip} }},",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    let _ = writeln!(
        code,
        "/// False when built with {SKIP_VARIABLE}: [`ASSETS`] is only a placeholder page.\n\
         pub(crate) const UI_BUILT: bool = {built};"
    );
    let generated = out_dir.join("ui_assets.rs");
    fs::write(&generated, code).map_err(|error| describe_io("write", &generated, error))
}

/// Writes `path.gz` (gzip, best level) beside a compressible file and returns its path, or
/// `None` when the file is not text, is small, or does not shrink.
fn gzip_copy(path: &Path) -> Result<Option<PathBuf>, String> {
    let extension = path.extension().and_then(|extension| extension.to_str());
    if !extension.is_some_and(|extension| COMPRESSIBLE.contains(&extension)) {
        return Ok(None);
    }
    let bytes = fs::read(path).map_err(|error| describe_io("read", path, error))?;
    if bytes.len() < MIN_COMPRESS_BYTES {
        return Ok(None);
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(&bytes)
        .map_err(|error| describe_io("compress", path, error))?;
    let compressed = encoder
        .finish()
        .map_err(|error| describe_io("compress", path, error))?;
    // Less than a tenth smaller is not worth a second copy in the binary.
    if compressed.len() * 10 > bytes.len() * 9 {
        return Ok(None);
    }
    let mut target = path.as_os_str().to_owned();
    target.push(".gz");
    let target = PathBuf::from(target);
    fs::write(&target, compressed).map_err(|error| describe_io("write", &target, error))?;
    Ok(Some(target))
}

fn describe_io(what: &str, path: &Path, error: io::Error) -> String {
    format!("cannot {what} {}: {error}", path.display())
}

/// Returns the newest modification time of `path`, looking inside directories.
fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let metadata = fs::metadata(path).ok()?;
    let own = metadata.modified().ok();
    if !metadata.is_dir() {
        return own;
    }
    let entries = fs::read_dir(path).ok()?;
    entries
        .flatten()
        .filter_map(|entry| newest_mtime(&entry.path()))
        .chain(own)
        .max()
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}

/// Says whether `ui/dist` is missing or older than any of the UI's inputs.
fn ui_build_is_stale(ui: &Path, dist: &Path) -> bool {
    let Some(built) = mtime(&dist.join("index.html")) else {
        return true;
    };
    UI_INPUTS
        .iter()
        .filter_map(|input| newest_mtime(&ui.join(input)))
        .any(|changed| changed > built)
}

/// Runs `npm ci` when needed, then `npm run build`.
fn build_ui(ui: &Path) -> Result<(), String> {
    let installed = mtime(&ui.join("node_modules").join(".package-lock.json"));
    let locked = mtime(&ui.join("package-lock.json"));
    if installed.is_none() || installed < locked {
        run_npm(ui, &["ci", "--no-audit", "--no-fund"])?;
    }
    run_npm(ui, &["run", "build"])
}

fn run_npm(ui: &Path, args: &[&str]) -> Result<(), String> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let shown = format!("npm {}", args.join(" "));
    let started = Instant::now();
    let output = Command::new(npm)
        .args(args)
        .current_dir(ui)
        .output()
        .map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => {
                format!("cannot build the web UI: `npm` was not found on PATH.\n{NODE_HELP}")
            }
            _ => format!(
                "cannot run `{shown}` in {}: {error}\n{NODE_HELP}",
                ui.display()
            ),
        })?;
    if !output.status.success() {
        return Err(format!(
            "`{shown}` in {} failed ({}).\n--- its output ---\n{}{}\n---\n{NODE_HELP}",
            ui.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ));
    }
    // Visible with `cargo build -vv`: how long the UI's build took.
    eprintln!("{shown} took {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Copies the files under `from` into `to`, keeping the relative paths.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let entries = fs::read_dir(from).map_err(|error| describe_io("read", from, error))?;
    for entry in entries {
        let entry = entry.map_err(|error| describe_io("read", from, error))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if source.is_dir() {
            fs::create_dir_all(&target).map_err(|error| describe_io("create", &target, error))?;
            copy_tree(&source, &target)?;
        } else {
            fs::copy(&source, &target).map_err(|error| describe_io("copy", &source, error))?;
        }
    }
    Ok(())
}

fn list_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|error| describe_io("read", dir, error))?;
    for entry in entries {
        let path = entry
            .map_err(|error| describe_io("read", dir, error))?
            .path();
        if path.is_dir() {
            list_files(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}
