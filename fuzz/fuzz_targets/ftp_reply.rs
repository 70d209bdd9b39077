//! Fuzzes the FTP control-connection path: the streaming reply parser fed in
//! uneven pieces, every reply-text parser on each reply, and the session
//! state machine driven by whatever replies come out. Any panic, overflow or
//! hang is a bug: these bytes come from arbitrary servers.
#![no_main]

use arietta_ftp::{
    parse_epsv, parse_mdtm, parse_pasv, parse_pwd, parse_size, Features, ReplyParser, Session,
    SessionConfig, Step,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(control & 0x3f).max(1);
    let mut parser = ReplyParser::with_limits(512, 4096);
    let mut config = SessionConfig::anonymous("/pub/dir/file");
    config.offset = u64::from(control >> 6);
    config.want_mtime = control & 0x40 != 0;
    let mut session = Session::new(config);
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
                match session.on_reply(&reply) {
                    Ok(Step::OpenData(_)) => {
                        if session.data_opened().is_err() {
                            session_alive = false;
                        }
                    }
                    Ok(Step::Done) | Err(_) => session_alive = false,
                    Ok(_) => {}
                }
            }
        }
        assert!(parser.buffered() <= 512 + step);
    }
});
