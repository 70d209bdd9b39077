//! Fuzzes the FTP control-connection path: the streaming reply parser fed in
//! uneven pieces, every reply-text parser on each reply, and the session
//! state machine driven by whatever replies come out. Any panic, overflow or
//! hang is a bug: these bytes come from arbitrary servers.
#![no_main]

use arietta_ftp::{
    parse_epsv, parse_mdtm, parse_pasv, parse_pwd, parse_size, DataMode, Features, ReplyParser,
    Session, Step, TransferType,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(control & 0x3f).max(1);
    let mut parser = ReplyParser::with_limits(512, 4096);
    let offset = u64::from(control >> 6);
    let mut session = Session::new(control & 0x40 != 0);
    // A download's operations in order; each starts when the one before
    // is done, driven by whatever replies come out.
    let dirs = vec!["pub".to_string(), "dir".to_string()];
    let mut next_op = 0;
    let mut session_alive = true;
    for chunk in data.chunks(step) {
        parser.push(chunk);
        loop {
            let reply = match parser.next_reply() {
                Ok(Some(reply)) => reply,
                Ok(None) => break,
                Err(_) => return,
            };
            assert!((100..600).contains(&reply.code));
            let text = reply.first_line();
            let _ = parse_pasv(text);
            let _ = parse_epsv(text);
            let _ = parse_size(text);
            let _ = parse_mdtm(text);
            let _ = parse_pwd(text);
            let _ = Features::from_reply(&reply);
            if session_alive {
                let mut step = session.on_reply(&reply);
                loop {
                    step = match step {
                        Ok(Step::OpenData(_)) => session.data_opened(),
                        Ok(Step::Write(_)) => session.written(),
                        Ok(Step::Transfer { completed }) => Ok(session.finish(completed)),
                        Ok(Step::Done) => {
                            next_op += 1;
                            match next_op {
                                1 => Ok(session.login("anonymous", "ARIA2USER@")),
                                2 => Ok(session.set_type(TransferType::Binary)),
                                3 => session.change_dir(&dirs),
                                4 => Ok(session.ask_modified("file")),
                                5 => Ok(session.ask_size("file")),
                                6 => session.retrieve("file", offset, DataMode::Passive),
                                7 => Ok(session.abort()),
                                _ => break,
                            }
                        }
                        Ok(Step::Send(_) | Step::AwaitReply) => break,
                        Err(_) => {
                            session_alive = false;
                            break;
                        }
                    };
                }
            }
        }
        assert!(parser.buffered() <= 512 + step);
    }
});
