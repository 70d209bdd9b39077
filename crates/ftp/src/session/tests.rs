use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;

fn r(code: u16, text: &str) -> Reply {
    Reply::new(code, text)
}

fn sent(step: Result<Step, FtpError>) -> Command {
    match step.unwrap() {
        Step::Send(c) => c,
        other => panic!("expected Send, got {other:?}"),
    }
}

/// A session past the greeting and an anonymous login that landed in `/`.
fn logged_in() -> Session {
    let mut s = Session::new(false);
    assert_eq!(s.on_reply(&r(220, "hi")).unwrap(), Step::Done);
    assert_eq!(
        s.login("anonymous", "ARIA2USER@"),
        Step::Send(Command::User("anonymous".into()))
    );
    assert_eq!(
        sent(s.on_reply(&r(331, "pw"))),
        Command::Pass("ARIA2USER@".into())
    );
    assert_eq!(sent(s.on_reply(&r(230, "ok"))), Command::Pwd);
    assert_eq!(
        s.on_reply(&r(257, "\"/\" is the current directory"))
            .unwrap(),
        Step::Done
    );
    s
}

#[test]
fn greeting_waits_through_preliminaries() {
    let mut s = Session::new(false);
    assert_eq!(s.on_reply(&r(120, "soon")).unwrap(), Step::AwaitReply);
    assert_eq!(s.on_reply(&r(220, "hi")).unwrap(), Step::Done);
    let mut s = Session::new(false);
    assert_eq!(
        s.on_reply(&r(421, "busy")).unwrap_err().aria2_exit_code(),
        21
    );
}

#[test]
fn login_learns_the_home_directory() {
    let s = logged_in();
    assert!(s.reusable());
    // No password asked, PWD refused: logged in, but the connection cannot
    // find its way back to another directory, so it is not kept.
    let mut s = Session::new(false);
    s.on_reply(&r(220, "")).unwrap();
    s.login("u", "p");
    assert_eq!(sent(s.on_reply(&r(230, ""))), Command::Pwd);
    assert_eq!(s.on_reply(&r(500, "no PWD")).unwrap(), Step::Done);
    assert!(!s.reusable());
}

/// aria2c 1.36 answers a refused login with 21 (FTP protocol error).
#[test]
fn login_errors_are_exit_21() {
    let login = |user_reply: u16, pass_reply: Option<u16>| {
        let mut s = Session::new(false);
        s.on_reply(&r(220, "")).unwrap();
        s.login("u", "p");
        let step = s.on_reply(&r(user_reply, "x"));
        match pass_reply {
            Some(code) => {
                assert_eq!(sent(step), Command::Pass("p".into()));
                s.on_reply(&r(code, "x")).unwrap_err()
            }
            None => step.unwrap_err(),
        }
    };
    assert_eq!(login(331, Some(530)).aria2_exit_code(), 21);
    assert_eq!(login(332, Some(332)).aria2_exit_code(), 21);
    assert_eq!(login(530, None).aria2_exit_code(), 21);
    assert_eq!(login(500, None).aria2_exit_code(), 21);
    assert_eq!(login(331, Some(421)).aria2_exit_code(), 21);
}

#[test]
fn type_and_directory_are_sent_only_when_they_change() {
    let mut s = logged_in();
    let bin = TransferType::Binary;
    assert_eq!(s.set_type(bin), Step::Send(Command::Type(bin)));
    assert_eq!(s.on_reply(&r(200, "")).unwrap(), Step::Done);
    assert_eq!(s.set_type(bin), Step::Done);
    let dirs = vec!["pub".to_string(), "a b".to_string()];
    assert_eq!(sent(s.change_dir(&dirs)), Command::Cwd("/pub/a b".into()));
    assert_eq!(s.on_reply(&r(250, "")).unwrap(), Step::Done);
    assert_eq!(s.change_dir(&dirs).unwrap(), Step::Done);
    assert_eq!(sent(s.change_dir(&[])), Command::Cwd("/".into()));
    // A refused TYPE is exit 21; a missing directory exit 3, after which
    // the current directory is unknown and the next CWD is absolute again.
    assert_eq!(
        sent(Ok(s.set_type(TransferType::Ascii))),
        Command::Type(TransferType::Ascii)
    );
    assert_eq!(s.on_reply(&r(504, "")).unwrap_err().aria2_exit_code(), 21);
    assert_eq!(sent(s.change_dir(&dirs)), Command::Cwd("/pub/a b".into()));
    assert_eq!(s.on_reply(&r(550, "")).unwrap_err().aria2_exit_code(), 3);
    assert_eq!(sent(s.change_dir(&dirs)), Command::Cwd("/pub/a b".into()));
    assert!(
        s.reusable(),
        "a refused command leaves the connection in step"
    );
}

#[test]
fn without_a_home_directory_cwd_goes_one_component_at_a_time() {
    let mut s = Session::new(false);
    s.on_reply(&r(220, "")).unwrap();
    s.login("u", "p");
    s.on_reply(&r(230, "")).unwrap();
    s.on_reply(&r(502, "")).unwrap();
    let dirs = vec!["a".to_string(), "b".to_string()];
    assert_eq!(sent(s.change_dir(&dirs)), Command::Cwd("a".into()));
    assert_eq!(sent(s.on_reply(&r(250, ""))), Command::Cwd("b".into()));
    assert_eq!(s.on_reply(&r(250, "")).unwrap(), Step::Done);
    assert_eq!(s.change_dir(&dirs).unwrap(), Step::Done);
    assert!(matches!(s.change_dir(&[]), Err(FtpError::Misuse(_))));
}

#[test]
fn size_and_modification_time() {
    let mut s = logged_in();
    assert_eq!(s.ask_modified("f"), Step::Send(Command::Mdtm("f".into())));
    assert_eq!(s.on_reply(&r(213, "20231114221320")).unwrap(), Step::Done);
    assert!(s.modified().is_some());
    s.ask_modified("f");
    assert_eq!(s.on_reply(&r(502, "")).unwrap(), Step::Done);
    assert_eq!(s.modified(), None);
    s.ask_modified("f");
    assert_eq!(s.on_reply(&r(421, "")).unwrap_err().aria2_exit_code(), 21);

    assert_eq!(s.ask_size("f"), Step::Send(Command::Size("f".into())));
    assert_eq!(s.on_reply(&r(213, "1000")).unwrap(), Step::Done);
    assert_eq!(s.size(), Some(1000));
    s.ask_size("f");
    assert_eq!(s.on_reply(&r(502, "no SIZE")).unwrap(), Step::Done);
    assert_eq!(s.size(), None);
    s.ask_size("f");
    assert_eq!(s.on_reply(&r(550, "")).unwrap_err().aria2_exit_code(), 3);
    s.ask_size("f");
    assert!(matches!(
        s.on_reply(&r(213, "lots")),
        Err(FtpError::Malformed { .. })
    ));
}

#[test]
fn passive_resume_flow_and_pasv_fallback_is_remembered() {
    let mut s = logged_in();
    assert_eq!(sent(s.retrieve("f", 100, DataMode::Passive)), Command::Epsv);
    assert_eq!(sent(s.on_reply(&r(502, "no epsv"))), Command::Pasv);
    // The advertised address is ignored; only its port is used.
    assert_eq!(
        s.on_reply(&r(227, "Entering Passive Mode (10,9,8,7,4,1)"))
            .unwrap(),
        Step::OpenData(1025)
    );
    assert!(s.on_reply(&r(200, "?")).is_err(), "no reply while opening");
    s.retrieve("f", 100, DataMode::Passive).unwrap();
    s.on_reply(&r(227, "(10,9,8,7,4,1)")).unwrap();
    assert_eq!(sent(s.data_opened()), Command::Rest(100));
    assert_eq!(sent(s.on_reply(&r(350, ""))), Command::Retr("f".into()));
    assert_eq!(s.on_reply(&r(110, "mark")).unwrap(), Step::AwaitReply);
    assert_eq!(
        s.on_reply(&r(150, "opening")).unwrap(),
        Step::Transfer { completed: false }
    );
    assert_eq!(s.finish(false), Step::AwaitReply);
    assert_eq!(s.on_reply(&r(226, "done")).unwrap(), Step::Done);
    assert!(matches!(s.on_reply(&r(226, "")), Err(FtpError::Misuse(_))));
    // The next transfer goes to PASV straight away.
    assert_eq!(sent(s.retrieve("f", 0, DataMode::Passive)), Command::Pasv);
}

#[test]
fn epsv_then_retr_from_the_start() {
    let mut s = logged_in();
    s.retrieve("f", 0, DataMode::Passive).unwrap();
    assert_eq!(
        s.on_reply(&r(229, "(|||6000|)")).unwrap(),
        Step::OpenData(6000)
    );
    assert_eq!(sent(s.data_opened()), Command::Retr("f".into()));
    // An empty file: the final reply comes with the start.
    assert_eq!(
        s.on_reply(&r(226, "")).unwrap(),
        Step::Transfer { completed: true }
    );
    assert_eq!(s.finish(true), Step::Done);
    assert!(s.data_opened().is_err());
}

#[test]
fn active_mode_falls_back_to_port() {
    let mut s = logged_in();
    let local = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 2000);
    let mode = DataMode::Active(local.into());
    assert_eq!(sent(s.retrieve("f", 0, mode)), Command::Eprt(local.into()));
    assert_eq!(sent(s.on_reply(&r(500, "?"))), Command::Port(local));
    assert_eq!(sent(s.on_reply(&r(200, ""))), Command::Retr("f".into()));
    assert_eq!(
        s.on_reply(&r(125, "")).unwrap(),
        Step::Transfer { completed: false }
    );
    s.finish(false);
    s.on_reply(&r(226, "")).unwrap();
    assert_eq!(sent(s.retrieve("f", 0, mode)), Command::Port(local));
    // An IPv4-mapped listener address falls back to PORT too.
    let mut s = logged_in();
    let mapped = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).to_ipv6_mapped().into(), 2000);
    s.retrieve("f", 0, DataMode::Active(mapped)).unwrap();
    assert_eq!(sent(s.on_reply(&r(502, ""))), Command::Port(local));
}

#[test]
fn ipv6_has_no_pasv_or_port_fallback() {
    let mut s = Session::new(true);
    s.on_reply(&r(220, "")).unwrap();
    s.retrieve("f", 0, DataMode::Passive).unwrap();
    assert_eq!(s.on_reply(&r(502, "")).unwrap_err().aria2_exit_code(), 21);

    let mut s = logged_in();
    let v6 = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 1);
    s.retrieve("f", 0, DataMode::Active(v6)).unwrap();
    assert!(s.on_reply(&r(500, "")).is_err());
    // 421 is never a reason to fall back.
    let mut s = logged_in();
    s.retrieve("f", 0, DataMode::Passive).unwrap();
    assert!(s.on_reply(&r(421, "")).is_err());
}

#[test]
fn transfer_errors_keep_their_exit_codes() {
    let mut s = logged_in();
    s.retrieve("f", 1, DataMode::Passive).unwrap();
    s.on_reply(&r(229, "(|||9|)")).unwrap();
    s.data_opened().unwrap();
    assert_eq!(
        s.on_reply(&r(502, "no REST"))
            .unwrap_err()
            .aria2_exit_code(),
        8
    );
    s.retrieve("f", 0, DataMode::Passive).unwrap();
    s.on_reply(&r(229, "(|||9|)")).unwrap();
    s.data_opened().unwrap();
    assert_eq!(s.on_reply(&r(550, "")).unwrap_err().aria2_exit_code(), 3);
    s.retrieve("f", 0, DataMode::Passive).unwrap();
    s.on_reply(&r(229, "(|||9|)")).unwrap();
    s.data_opened().unwrap();
    s.on_reply(&r(150, "")).unwrap();
    s.finish(false);
    assert_eq!(
        s.on_reply(&r(426, "aborted"))
            .unwrap_err()
            .aria2_exit_code(),
        21
    );
    s.retrieve("f", 0, DataMode::Passive).unwrap();
    assert!(matches!(
        s.on_reply(&r(229, "garbage")),
        Err(FtpError::Malformed { .. })
    ));
}

#[test]
fn abort_drains_replies_up_to_the_noops_200() {
    let mut s = logged_in();
    assert_eq!(s.abort(), Step::Write(Command::Abor));
    assert_eq!(sent(s.written()), Command::Noop);
    assert_eq!(s.on_reply(&r(426, "")).unwrap(), Step::AwaitReply);
    assert_eq!(s.on_reply(&r(226, "")).unwrap(), Step::AwaitReply);
    assert_eq!(s.on_reply(&r(200, "")).unwrap(), Step::Done);
    assert!(s.reusable());
    // A server that never answers the NOOP is out of step.
    s.abort();
    s.written().unwrap();
    for _ in 0..ABORT_MAX_REPLIES - 1 {
        assert_eq!(s.on_reply(&r(226, "")).unwrap(), Step::AwaitReply);
    }
    assert!(s.on_reply(&r(226, "")).is_err());
    assert!(!s.reusable());
}

#[test]
fn quit_and_lost_step() {
    let mut s = logged_in();
    assert_eq!(s.quit(), Step::Write(Command::Quit));
    assert_eq!(s.written().unwrap(), Step::Done);
    assert!(s.written().is_err());
    s.lose_step();
    assert!(!s.reusable() && !s.in_step());
}

#[test]
fn joins_directories() {
    let d = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(join_dir("/", &d(&[])), "/");
    assert_eq!(join_dir("/", &d(&["pub", "x"])), "/pub/x");
    assert_eq!(join_dir("/home/u/", &d(&["a"])), "/home/u/a");
    assert_eq!(join_dir("/home/u", &d(&[])), "/home/u");
}

#[test]
fn split_paths() {
    assert_eq!(
        split_path("/a//b/c"),
        (vec!["a".into(), "b".into()], "c".into())
    );
    assert_eq!(split_path("c"), (vec![], "c".into()));
    assert_eq!(split_path(""), (vec![], String::new()));
}
