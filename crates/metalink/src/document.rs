//! The typed form of a metalink document, independent of v3/v4 syntax.

use url::Url;

use crate::hash::{Checksum, PieceHashes};

/// Which dialect a document was written in. Kept because v3 and v4 differ in
/// small ways users notice (v3 `preference` vs v4 `priority`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetalinkVersion {
    /// `http://www.metalinker.org/`, the `.metalink` format.
    V3,
    /// RFC 5854, `urn:ietf:params:xml:ns:metalink`, the `.meta4` format.
    V4,
}

/// A parsed metalink document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metalink {
    pub version: MetalinkVersion,
    /// Files in document order, each with a sanitized name.
    pub files: Vec<FileEntry>,
    /// Names of `<file>` entries that were dropped because the name was
    /// unsafe (`../x`, `/etc/passwd`), missing or a repeat of an earlier
    /// file's name, so the caller can warn.
    pub rejected_names: Vec<String>,
    /// v4 `<origin>`: where a fresh copy of this metalink lives.
    pub origin: Option<String>,
}

/// One `<file>` of the document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileEntry {
    /// Relative path, already checked by [`crate::sanitize_file_name`].
    pub name: String,
    pub size: Option<u64>,
    pub identity: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    /// Languages (`<language>` may repeat in v4); as written.
    pub languages: Vec<String>,
    /// Operating systems (`<os>` may repeat in v4); as written.
    pub oses: Vec<String>,
    /// Whole-file checksums with valid lengths, in document order.
    pub hashes: Vec<Checksum>,
    /// Chunk checksums; only lists consistent with `size` are kept.
    pub pieces: Vec<PieceHashes>,
    /// Mirrors (`<url>`), in document order; see
    /// [`FileEntry::ordered_uris`] for the order to try them.
    pub resources: Vec<Resource>,
    /// Torrents or other metalinks describing this file (v4 `<metaurl>`, v3
    /// `<url type="bittorrent">`).
    pub metaurls: Vec<MetaUrl>,
    /// Detached signature of the file, saved by aria2 as `NAME.sig`.
    pub signature: Option<Signature>,
}

impl FileEntry {
    /// The checksum to verify the finished file with: the strongest
    /// algorithm offered (sha-512 > … > sha-1 > md5), as aria2 does.
    pub fn strongest_hash(&self) -> Option<&Checksum> {
        self.hashes.iter().max_by_key(|c| c.algo)
    }

    /// The chunk checksums to validate pieces with during download, again
    /// the strongest algorithm offered.
    pub fn strongest_pieces(&self) -> Option<&PieceHashes> {
        self.pieces.iter().max_by_key(|p| p.algo)
    }
}

/// One mirror `<url>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The URI, absolute once [`Metalink::resolve`] has run.
    pub uri: String,
    /// ISO 3166-1 alpha-2 country code, lower-cased.
    pub location: Option<String>,
    /// Normalized priority: 1 is best, [`crate::LOWEST_PRIORITY`] worst.
    /// v4 `priority` is taken as is; v3 `preference` (100 best) becomes
    /// `101 - preference`, as aria2 does.
    pub priority: u32,
    /// v3 `maxconnections`: the most connections this mirror wants.
    pub max_connections: Option<u32>,
}

impl Resource {
    /// Lower-cased URI scheme (`http`, `ftp`, …), or `None` for a relative
    /// URI not yet resolved.
    pub fn scheme(&self) -> Option<String> {
        scheme_of(&self.uri)
    }

    /// Host part, used by `--metalink-enable-unique-protocol`.
    pub fn host(&self) -> Option<String> {
        Url::parse(&self.uri)
            .ok()?
            .host_str()
            .map(str::to_ascii_lowercase)
    }
}

/// One `<metaurl>`: a torrent (or another metalink) describing the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaUrl {
    pub uri: String,
    /// `torrent` for BitTorrent; other values are kept but aria2 ignores them.
    pub mediatype: String,
    /// Normalized like [`Resource::priority`].
    pub priority: u32,
    /// v4 `name`: the path of this file inside a multi-file torrent. Files
    /// sharing one torrent are downloaded from one swarm.
    pub name: Option<String>,
}

impl MetaUrl {
    /// Whether this points to a `.torrent` aria2 would use.
    pub fn is_torrent(&self) -> bool {
        self.mediatype.eq_ignore_ascii_case("torrent")
    }
}

/// A detached signature over the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `application/pgp-signature` for v4; v3 `type="pgp"` maps to it too.
    pub mediatype: String,
    pub body: String,
}

pub(crate) fn scheme_of(uri: &str) -> Option<String> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then(|| scheme.to_ascii_lowercase())
}

/// Resolves `uri` against `base`; `None` if the result is not a URL.
fn resolve_one(base: Option<&Url>, uri: &str) -> Option<String> {
    match Url::parse(uri) {
        Ok(u) => Some(u.to_string()),
        Err(url::ParseError::RelativeUrlWithoutBase) => Some(base?.join(uri).ok()?.to_string()),
        Err(_) => None,
    }
}

impl Metalink {
    /// Makes every `<url>` and `<metaurl>` absolute.
    ///
    /// `base` is the URI the metalink was fetched from, or
    /// `--metalink-base-uri` for a local file (aria2's rule). With no base,
    /// relative URIs are dropped since nothing could fetch them. URIs that do
    /// not parse at all are dropped too, so the core never sees one.
    pub fn resolve(&mut self, base: Option<&Url>) {
        for file in &mut self.files {
            file.resources
                .retain_mut(|r| match resolve_one(base, &r.uri) {
                    Some(abs) => {
                        r.uri = abs;
                        true
                    }
                    None => false,
                });
            file.metaurls
                .retain_mut(|m| match resolve_one(base, &m.uri) {
                    Some(abs) => {
                        m.uri = abs;
                        true
                    }
                    None => false,
                });
        }
    }

    /// Groups files that share one torrent `<metaurl>`: aria2 downloads them
    /// from a single swarm, selecting those files. Returns, per torrent URI in
    /// first-seen order, the indexes into `files` and each file's path inside
    /// the torrent (`name`, or the file's own name).
    pub fn torrent_groups(&self) -> Vec<(String, Vec<(usize, String)>)> {
        let mut groups: Vec<(String, Vec<(usize, String)>)> = Vec::new();
        for (i, file) in self.files.iter().enumerate() {
            let best = file
                .metaurls
                .iter()
                .filter(|m| m.is_torrent())
                .min_by_key(|m| m.priority);
            let Some(m) = best else { continue };
            let inner = m.name.clone().unwrap_or_else(|| file.name.clone());
            match groups.iter_mut().find(|(uri, _)| *uri == m.uri) {
                Some((_, members)) => members.push((i, inner)),
                None => groups.push((m.uri.clone(), vec![(i, inner)])),
            }
        }
        groups
    }
}
