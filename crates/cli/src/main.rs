//! `arietta`: aria2c's command line on arietta's thread-per-core engine.
#![deny(unsafe_op_in_unsafe_fn)]

mod arg_groups;
mod build_info;
mod console;
mod logging;
mod metalink_input;
mod nofile;
mod parameterized_uri;
mod socket_setup;
mod stdout_stream;
mod terminal;
mod units;

use std::path::Path;
use std::process::ExitCode as ProcessExit;
use std::sync::Arc;

use arietta_core::{DownloadRequest, ExitCode, Gid};
use arietta_options::{
    check_local_files, conf_path, conf_to_set, environment_defaults, parse_args, parse_conf_file,
    ConfPath, InputEntry, InputReader, LocalFile, OptionError, OptionSet, USAGE_LINE,
};

use crate::arg_groups::ArgGroup;
use crate::console::{Console, ConsoleStyle};
use crate::terminal::SharedTerminal;

fn main() -> ProcessExit {
    // First, before any thread exists, so that every thread inherits the
    // mask and Ctrl-C reaches only the signal thread (see there).
    arietta_core::block_shutdown_signals();
    // A panic on one core would leave the others waiting for it forever:
    // report it and end the process instead of hanging a script.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        eprintln!("arietta: internal error; please report it. Exiting.");
        std::process::exit(ExitCode::Unknown.code().into());
    }));
    let code = real_main();
    ProcessExit::from(code.code())
}

/// aria2 names each unknown option line of a conf or input file and goes
/// on without it.
fn warn_unknown(lines: &[String]) {
    for line in lines {
        tracing::warn!("Unknown option: {line}");
    }
}

/// Options aria2 has that cannot act here say so once, when given a value
/// of their own (a conf file's `event-poll=epoll` changes nothing either
/// way and stays quiet).
fn warn_inapplicable(global: &OptionSet) {
    for (name, why) in arietta_options::inapplicable_given(global) {
        tracing::warn!("--{name} has no effect in arietta: {why}.");
    }
    if global.get_str("min-tls-version") == "TLSv1.1" {
        tracing::warn!(
            "--min-tls-version=TLSv1.1 acts as TLSv1.2 in arietta: its TLS library (rustls) \
             speaks no TLS older than 1.2."
        );
    }
}

fn bad_option(e: &OptionError) -> ExitCode {
    eprint!("{}", e.report());
    ExitCode::BadOption
}

/// A bad entry of an `-i` file, reported as aria2c does.
fn bad_input_entry(e: &OptionError) -> ExitCode {
    eprint!("{}", e.input_report());
    ExitCode::BadOption
}

fn real_main() -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    let parsed = match parse_args(std::env::args_os().skip(1)) {
        Ok(p) => p,
        Err(e) => return bad_option(&e),
    };
    if parsed.version {
        print!("{}", version_text());
        return ExitCode::Success;
    }
    if let Some(topic) = &parsed.help {
        print!("{}", arietta_options::help_text(topic));
        return ExitCode::Success;
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let mut global = environment_defaults(env, &cwd, |p| p.exists());
    let mut conf_read = None;
    let mut conf_unknown = Vec::new();
    match conf_path(&parsed.options, env, |p| p.exists()) {
        ConfPath::None => {}
        ConfPath::Explicit(p) | ConfPath::Default(p) => {
            let text = match std::fs::read_to_string(&p) {
                Ok(t) => t,
                Err(_) => {
                    // aria2c 1.36 exits 1 here, not 28.
                    eprintln!("Configuration file {} is not found.", p.display());
                    eprint!("{}", arietta_options::help_text("#help"));
                    return ExitCode::Unknown;
                }
            };
            match parse_conf_file(&text).and_then(|c| {
                conf_unknown = c.unknown;
                conf_to_set(c.pairs)
            }) {
                Ok(set) => {
                    global.overlay(&set);
                    conf_read = Some(p);
                }
                Err(e) => {
                    eprint!("{}", e.conf_report(&p.display().to_string()));
                    return ExitCode::BadOption;
                }
            }
        }
    }
    // The command line is a layer of its own over the conf file and the
    // environment, as in aria2, whose downloads copy it (and only it):
    // `--save-session` writes its per-download options with each entry.
    let global = {
        let mut top = OptionSet::with_parent(Arc::new(global));
        top.overlay(&parsed.options);
        top
    };
    if let Err(e) = check_local_files(&global, stat_local_file) {
        return bad_option(&e);
    }
    let global = Arc::new(global);
    let streaming = stdout_stream::wanted(&global);
    if streaming {
        if let Err(e) = stdout_stream::take_stdout() {
            return exception(
                ExitCode::Unknown,
                format_args!("cannot write to stdout: {e}"),
            );
        }
    }

    let terminal = SharedTerminal::new(global.get_bool("stderr"));
    if let Err(e) = logging::install(&global, &terminal) {
        // aria2 refuses to start without its log; we keep the console.
        eprintln!("Exception caught: {e}");
    }
    logging::log_startup();
    logging::log_options(conf_read.as_deref(), &global);
    warn_unknown(&conf_unknown);
    if streaming {
        stdout_stream::warn_ignored(&global);
    }
    warn_inapplicable(&global);
    nofile::raise(&global);
    if let Err(e) = socket_setup::install(&global) {
        return exception(ExitCode::Unknown, &e);
    }

    let uris = match expand_uris(&global, &parsed.uris) {
        Ok(u) => u,
        Err(code) => return code,
    };
    if global.get_bool("show-files") {
        return show_files(&global, &uris);
    }
    let torrent_file = global
        .get_opt_str("torrent-file")
        .is_some_and(|t| !t.is_empty());
    // `-T`: the arguments are the torrent's web seeds, as in aria2.
    let groups = if torrent_file {
        vec![ArgGroup::Uris(uris.clone())]
    } else {
        match arg_groups::group(&uris, global.get_bool("force-sequential"), &local_kind) {
            Ok(g) => g,
            Err(e) => {
                return exception(ExitCode::Unknown, &e);
            }
        }
    };
    let mut metalinks: Vec<String> = groups
        .iter()
        .filter_map(|g| match g {
            ArgGroup::Metalink(m) => Some(m.clone()),
            ArgGroup::Uris(_) => None,
        })
        .collect();
    if let Some(m) = global
        .get_opt_str("metalink-file")
        .filter(|m| !m.is_empty())
    {
        metalinks.insert(0, m.to_owned());
    }
    let mut requests = Vec::new();
    if let Some(m) = global
        .get_opt_str("metalink-file")
        .filter(|m| !m.is_empty())
    {
        match metalink_requests(&global, m) {
            Ok(mut r) => requests.append(&mut r),
            Err(code) => return code,
        }
    }
    for g in groups {
        match g {
            ArgGroup::Metalink(m) => match metalink_requests(&global, &m) {
                Ok(mut r) => requests.append(&mut r),
                Err(code) => return code,
            },
            // `-T` with no web seeds still starts its torrent.
            ArgGroup::Uris(u) if !u.is_empty() || torrent_file => {
                requests.push(DownloadRequest::new(u, global.clone()));
            }
            ArgGroup::Uris(_) => {}
        }
    }
    let deferred = match input_file_requests(&global) {
        Ok((mut r, deferred)) => {
            requests.append(&mut r);
            deferred
        }
        Err(code) => return code,
    };
    let rpc = global.get_bool("enable-rpc");
    if requests.is_empty()
        && deferred.is_none()
        && !rpc
        && global.get_opt_str("input-file").is_some()
    {
        // An input file with no entry is not an error to aria2.
        println!("No files to download.");
        return ExitCode::Success;
    }
    if requests.is_empty() && deferred.is_none() && !rpc {
        eprintln!("No URI specified.");
        eprintln!("{USAGE_LINE}");
        eprintln!("See 'arietta -h'.");
        return ExitCode::Unknown;
    }

    if !requests.is_empty() {
        tracing::info!(notice = true, "Downloading {} item(s)", requests.len());
    }
    let style = ConsoleStyle::from_options(&global);
    let reporter = Console::new(style, terminal.clone());
    let service = if rpc {
        arietta_daemon::on_global_option_change(Box::new(logging::change_global));
        match arietta_daemon::service((*global).clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                return exception(ExitCode::Unknown, &e);
            }
        }
    } else {
        None
    };
    if global.get_bool("daemon") {
        // Like aria2's -D: detach before any executor thread exists.
        // SAFETY: daemon(3) forks; no other thread has been started yet.
        if unsafe { libc::daemon(1, 0) } != 0 {
            return exception(
                ExitCode::Unknown,
                format_args!("cannot daemonize: {}", std::io::Error::last_os_error()),
            );
        }
    }
    logging::go_threaded();
    let code = match arietta_core::run_with_input(
        &global,
        requests,
        deferred,
        Box::new(reporter),
        service,
    ) {
        Ok(report) => {
            let code = report.exit_code();
            console::print_results(
                &style,
                &terminal,
                &report.results,
                code != ExitCode::Success,
            );
            code
        }
        Err(e) => {
            let code = match &e {
                arietta_core::SessionError::Setup(f) => f.exit_code(),
                _ => ExitCode::Unknown,
            };
            exception(code, &e)
        }
    };
    arietta_core::wait_for_hooks();
    logging::finish();
    code
}

/// `-v`: aria2c's layout (version line, then `** Configuration **` with
/// the features, hash algorithms, libraries, compiler and system), which
/// scripts read.
fn version_text() -> String {
    let mut s = format!(
        "arietta version {}\nThread-per-core downloads on glommio/io_uring, compatible with aria2 1.36.\n\n\
         ** Configuration **\nEnabled Features: {}\nHash Algorithms: {}\nLibraries: {}\nCompiler: {}\n",
        env!("CARGO_PKG_VERSION"),
        arietta_core::ENABLED_FEATURES.join(", "),
        arietta_core::HASH_ALGORITHMS.join(", "),
        build_info::libraries(),
        build_info::compiler(),
    );
    if let Some(os) = logging::operating_system() {
        s.push_str(&format!("System: {os}\n"));
    }
    s
}

/// What [`check_local_files`] needs to know of a must-exist option's file,
/// the failure worded as `strerror` (without Rust's "(os error N)").
fn stat_local_file(path: &Path) -> LocalFile {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => LocalFile::Dir,
        Ok(_) => LocalFile::File,
        Err(e) => {
            let text = e.to_string();
            let why = text.split(" (os error").next().unwrap_or(&text);
            LocalFile::Missing(why.to_owned())
        }
    }
}

/// aria2's "Exception caught" block on stderr (a one-frame trace with
/// `code`, then an empty line), and the same error in the `-l` file (only
/// there: the console already has it on stderr). Returns `code`.
#[track_caller]
fn exception(code: ExitCode, what: impl std::fmt::Display) -> ExitCode {
    use arietta_options::exception_text::{stack_trace, Frame};
    let trace = stack_trace(&[Frame::here(code.code(), what.to_string())]);
    eprint!("Exception caught\n{trace}\n");
    let at = std::panic::Location::caller();
    tracing::error!(
        file_only = true,
        log.file = at.file(),
        log.line = at.line(),
        "Exception caught: {what}"
    );
    code
}

/// `-P`: each command-line URI expanded into the URIs its pattern names.
fn expand_uris(global: &OptionSet, uris: &[String]) -> Result<Vec<String>, ExitCode> {
    if !global.get_bool("parameterized-uri") {
        return Ok(uris.to_vec());
    }
    let mut out = Vec::new();
    for u in uris {
        match parameterized_uri::expand(u) {
            Ok(mut v) => out.append(&mut v),
            Err(e) => {
                return Err(exception(ExitCode::Unknown, e));
            }
        }
        if out.len() > parameterized_uri::MAX_EXPANSION {
            return Err(exception(
                ExitCode::Unknown,
                parameterized_uri::PatternError::TooMany,
            ));
        }
    }
    Ok(out)
}

/// Reads and plans one metalink named on the command line; a document
/// that cannot be used is reported with aria2's exit code before anything
/// is written.
fn metalink_plan(
    global: &Arc<OptionSet>,
    source: &str,
) -> Result<arietta_core::MetalinkPlan, ExitCode> {
    let bytes = metalink_input::read_source(source).map_err(|e| {
        exception(
            ExitCode::MetalinkParse,
            format_args!("cannot read the metalink {source}: {e}"),
        )
    })?;
    arietta_core::metalink_plan::plan(&bytes, None, global)
        .map_err(|e| exception(e.exit_code(), format_args!("{source}: {e}")))
}

/// A metalink's downloads, its notices shown first.
fn metalink_requests(
    global: &Arc<OptionSet>,
    source: &str,
) -> Result<Vec<DownloadRequest>, ExitCode> {
    let plan = metalink_plan(global, source)?;
    for n in &plan.notices {
        eprintln!("{n}");
    }
    Ok(plan.requests)
}

/// A local argument's kind for [`arg_groups::group`]: a torrent
/// (`Some(true)`), a metalink (`Some(false)`) or neither.
fn local_kind(arg: &str) -> Option<bool> {
    if metalink_input::is_local_metalink(arg) {
        Some(false)
    } else {
        arietta_core::looks_like_torrent(arg).then_some(true)
    }
}

/// `-S`: aria2c's listings, and its exit status 0 whatever they found.
/// `-T` or `-M` names the one file to list; otherwise each argument is
/// listed under a `>>> Printing the contents of file …` heading, and what
/// cannot be listed is said there.
fn show_files(global: &OptionSet, uris: &[String]) -> ExitCode {
    let nonempty = |name| global.get_opt_str(name).filter(|t| !t.is_empty());
    if let Some(t) = nonempty("torrent-file") {
        show_torrent(t);
        return ExitCode::Success;
    }
    if let Some(m) = nonempty("metalink-file") {
        show_metalink(global, m);
        return ExitCode::Success;
    }
    if uris.is_empty() {
        eprintln!("No files to show.");
        return ExitCode::Unknown;
    }
    for p in uris {
        println!(">>> Printing the contents of file '{p}'...");
        if arietta_core::looks_like_torrent(p) {
            show_torrent(p);
        } else if metalink_input::is_local_metalink(p) {
            show_metalink(global, p);
        } else {
            println!("This file is neither Torrent nor Metalink file. Skipping.\n");
        }
    }
    ExitCode::Success
}

/// What aria2 prints for a file it cannot list: its exception line.
#[track_caller]
fn show_error(code: ExitCode, what: impl std::fmt::Display) {
    let at = std::panic::Location::caller();
    println!(
        "Exception: [{}:{}] errorCode={} {what}\n",
        logging::short_source(at.file()),
        at.line(),
        code.code()
    );
}

fn show_torrent(path: &str) {
    let parsed = std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|b| arietta_metainfo::Metainfo::parse(&b).map_err(|e| e.to_string()));
    match parsed {
        Ok(m) => print!("{}", m.show_files()),
        Err(e) => show_error(ExitCode::TorrentCorrupt, e),
    }
}

fn show_metalink(global: &OptionSet, source: &str) {
    let listed = metalink_input::read_source(source)
        .map_err(|e| e.to_string())
        .and_then(|b| arietta_core::metalink_plan::listing(&b, global).map_err(|e| e.to_string()));
    match listed {
        Ok(files) => println!("{}", metalink_input::show_files(&files)),
        Err(e) => show_error(ExitCode::MetalinkParse, e),
    }
}

/// `-i`: one download per entry, with its own option lines; all read
/// now, or with `--deferred-input` (unless `--save-session`, which needs
/// the whole queue, as aria2 documents) read as the queue needs them.
fn input_file_requests(global: &Arc<OptionSet>) -> Result<InputRequests, ExitCode> {
    let Some(input) = global.get_opt_str("input-file") else {
        return Ok((Vec::new(), None));
    };
    let source: Box<dyn std::io::BufRead + Send> = if input == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        match std::fs::File::open(Path::new(input)) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("Failed to open the input file {input}: {e}");
                return Err(ExitCode::Unknown);
            }
        }
    };
    let reader = InputReader::new(source);
    let deferred = global.get_bool("deferred-input")
        && global.get_opt_str("save-session").is_none_or(str::is_empty);
    if deferred {
        let global = global.clone();
        // A bad entry ends the list there, reported as at start-up.
        let lazy = reader.map_while(move |entry| {
            let entry = entry.map_err(|e| bad_input_entry(&e)).ok()?;
            entry_request(&global, entry).ok()
        });
        return Ok((Vec::new(), Some(Box::new(lazy))));
    }
    let mut out = Vec::new();
    for entry in reader {
        let entry = entry.map_err(|e| bad_input_entry(&e))?;
        out.push(entry_request(global, entry)?);
    }
    Ok((out, None))
}

/// Downloads of `-i` read now, and those left to read later.
type InputRequests = (Vec<DownloadRequest>, Option<arietta_core::DeferredRequests>);

/// One input-file entry as a download with its own options.
fn entry_request(global: &Arc<OptionSet>, entry: InputEntry) -> Result<DownloadRequest, ExitCode> {
    warn_unknown(&entry.unknown);
    let mut set = OptionSet::with_parent(global.clone());
    for (k, v) in &entry.options {
        set.set_per_download(k, v)
            .map_err(|e| bad_input_entry(&e))?;
    }
    let gid = set.get_opt_str("gid").and_then(Gid::parse);
    // aria2 unfolds -P patterns in input-file URIs too.
    let uris = expand_uris(&set, &entry.uris)?;
    Ok(DownloadRequest {
        gid,
        uris,
        options: Arc::new(set),
        metalink: None,
        snapshot: None,
        torrent: None,
    })
}
