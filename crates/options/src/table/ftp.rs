//! FTP/SFTP specific options (`--ftp-user`, `--ftp-pasv`, `--ssh-host-key-md`, …).

use super::{OptionDef, OptionKind, CHANGE_DOWNLOAD, CHANGE_GLOBAL, PER_DOWNLOAD};

/// This section's rows, in aria2's order.
pub(super) const OPTIONS: &[OptionDef] = &[
    OptionDef {
        name: "ftp-user",
        short: None,
        kind: OptionKind::String,
        default: "",
        flags: PER_DOWNLOAD | CHANGE_DOWNLOAD | CHANGE_GLOBAL,
        tags: &["#basic", "#ftp"],
        arg: "=USER",
        help: "Set FTP user.",
    },
    OptionDef {
        name: "ftp-passwd",
        short: None,
        kind: OptionKind::String,
        default: "",
        flags: PER_DOWNLOAD | CHANGE_DOWNLOAD | CHANGE_GLOBAL,
        tags: &["#basic", "#ftp"],
        arg: "=PASSWD",
        help: "Set FTP password.",
    },
    OptionDef {
        name: "ftp-type",
        short: None,
        kind: OptionKind::Enum(&["binary", "ascii"]),
        default: "binary",
        flags: PER_DOWNLOAD | CHANGE_DOWNLOAD | CHANGE_GLOBAL,
        tags: &["#ftp"],
        arg: "=TYPE",
        help: "Set FTP transfer type.",
    },
    OptionDef {
        name: "ftp-pasv",
        short: Some('p'),
        kind: OptionKind::Bool,
        default: "true",
        flags: PER_DOWNLOAD | CHANGE_DOWNLOAD | CHANGE_GLOBAL,
        tags: &["#ftp"],
        arg: "[=true|false]",
        help: "Use the passive mode in FTP.",
    },
    OptionDef {
        name: "ftp-reuse-connection",
        short: None,
        kind: OptionKind::Bool,
        default: "true",
        flags: PER_DOWNLOAD | CHANGE_DOWNLOAD | CHANGE_GLOBAL,
        tags: &["#ftp"],
        arg: "[=true|false]",
        help: "Reuse connection in FTP.",
    },
    OptionDef {
        name: "ssh-host-key-md",
        short: None,
        kind: OptionKind::Checksum,
        default: "",
        flags: PER_DOWNLOAD | CHANGE_DOWNLOAD | CHANGE_GLOBAL,
        tags: &["#ftp"],
        arg: "=TYPE=DIGEST",
        help: "Set checksum for SSH host public key (TYPE=DIGEST, TYPE is sha-1, md5 or sha-256).",
    },
];
