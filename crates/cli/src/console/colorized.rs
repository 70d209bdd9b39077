//! aria2's `ColorizedStream`: text with color marks that is written with
//! or without the colors, and cut to the terminal's width without counting
//! them.

/// aria2's console colors (`ColorizedStream.cc`).
pub mod colors {
    pub const MAGENTA: &str = "\x1b[35m";
    pub const GREEN: &str = "\x1b[32m";
    pub const CYAN: &str = "\x1b[36m";
    pub const YELLOW: &str = "\x1b[33m";
    pub const CLEAR: &str = "\x1b[0m";
}

enum Piece {
    Color(&'static str),
    Text(String),
}

#[derive(Default)]
pub struct Colorized {
    pieces: Vec<Piece>,
}

impl Colorized {
    pub fn color(&mut self, c: &'static str) -> &mut Self {
        self.pieces.push(Piece::Color(c));
        self
    }

    pub fn text(&mut self, s: impl Into<String>) -> &mut Self {
        self.pieces.push(Piece::Text(s.into()));
        self
    }

    /// The text, with its colors when `color` (then ending in a reset),
    /// cut after `max` bytes of text when given. aria2 counts bytes too,
    /// so a cut never splits a character only because the text is ASCII;
    /// we back off to a character boundary for the rest.
    pub fn render(&self, color: bool, max: Option<usize>) -> String {
        let mut out = String::new();
        let mut left = max.unwrap_or(usize::MAX);
        for p in &self.pieces {
            match p {
                Piece::Color(c) => {
                    if color {
                        out.push_str(c);
                    }
                }
                Piece::Text(t) => {
                    if t.len() > left {
                        let mut cut = left;
                        while !t.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        out.push_str(&t[..cut]);
                        break;
                    }
                    out.push_str(t);
                    left -= t.len();
                    if left == 0 {
                        break;
                    }
                }
            }
        }
        if color {
            out.push_str(colors::CLEAR);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_and_cuts_like_aria2() {
        let mut c = Colorized::default();
        c.color(colors::MAGENTA)
            .text("[")
            .color(colors::CLEAR)
            .text("#abc DL:")
            .color(colors::GREEN)
            .text("1Ki");
        assert_eq!(c.render(false, None), "[#abc DL:1Ki");
        assert_eq!(
            c.render(true, None),
            "\x1b[35m[\x1b[0m#abc DL:\x1b[32m1Ki\x1b[0m"
        );
        assert_eq!(c.render(false, Some(5)), "[#abc");
        assert_eq!(c.render(true, Some(3)), "\x1b[35m[\x1b[0m#a\x1b[0m");
    }
}
