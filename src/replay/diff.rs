//! Text bodies as a short line diff, binary bodies as sizes and the first
//! byte that differs.

use serde::Serialize;

/// Lines of a text diff shown at most; the rest is counted.
pub const MAX_LINES: usize = 20;
/// Above this many line pairs the middle is shown as replaced whole rather
/// than aligned line by line.
const MAX_ALIGN: usize = 250_000;

/// A text diff: `- ` lines only captured, `+ ` lines only replayed, `  `
/// context around them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextDiff {
    /// The lines shown, each with its two-character prefix.
    pub lines: Vec<String>,
    /// Changed lines left out beyond [`MAX_LINES`].
    pub more: usize,
}

/// Where two byte strings part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BinaryDiff {
    /// The captured body's size in bytes.
    pub captured_len: usize,
    /// The replayed body's size in bytes.
    pub replayed_len: usize,
    /// The offset of the first byte that differs (the shorter length when
    /// one is a prefix of the other).
    pub first_difference: usize,
}

/// `None` when the texts are equal.
pub fn text(captured: &str, replayed: &str) -> Option<TextDiff> {
    if captured == replayed {
        return None;
    }
    let old: Vec<&str> = captured.lines().collect();
    let new: Vec<&str> = replayed.lines().collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (mid_old, mid_new) = (
        &old[prefix..old.len() - suffix],
        &new[prefix..new.len() - suffix],
    );
    let mut ops: Vec<(char, &str)> = Vec::new();
    if prefix > 0 {
        ops.push((' ', old[prefix - 1]));
    }
    match mid_old.len().saturating_mul(mid_new.len()) <= MAX_ALIGN {
        true => align(mid_old, mid_new, &mut ops),
        false => {
            ops.extend(mid_old.iter().map(|l| ('-', *l)));
            ops.extend(mid_new.iter().map(|l| ('+', *l)));
        }
    }
    if suffix > 0 {
        ops.push((' ', old[old.len() - suffix]));
    }
    if ops.iter().all(|(op, _)| *op == ' ') {
        // Same lines, different line endings or a final newline.
        ops = vec![('-', "(the texts differ only in line endings)")];
    }
    let shown = ops.len().min(MAX_LINES);
    let more = ops[shown..].iter().filter(|(op, _)| *op != ' ').count();
    let lines = ops[..shown]
        .iter()
        .map(|(op, line)| format!("{op} {line}"))
        .collect();
    Some(TextDiff { lines, more })
}

/// A longest-common-subsequence alignment of two short line lists.
fn align<'a>(old: &[&'a str], new: &[&'a str], ops: &mut Vec<(char, &'a str)>) {
    let (n, m) = (old.len(), new.len());
    // common[i][j]: the LCS length of old[i..] and new[j..].
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = match old[i] == new[j] {
                true => common[i + 1][j + 1] + 1,
                false => common[i + 1][j].max(common[i][j + 1]),
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            ops.push((' ', old[i]));
            (i, j) = (i + 1, j + 1);
        } else if j < m && (i == n || common[i][j + 1] > common[i + 1][j]) {
            ops.push(('+', new[j]));
            j += 1;
        } else {
            ops.push(('-', old[i]));
            i += 1;
        }
    }
}

/// `None` when the bytes are equal.
pub fn binary(captured: &[u8], replayed: &[u8]) -> Option<BinaryDiff> {
    if captured == replayed {
        return None;
    }
    let first_difference = captured
        .iter()
        .zip(replayed)
        .position(|(a, b)| a != b)
        .unwrap_or(captured.len().min(replayed.len()));
    Some(BinaryDiff {
        captured_len: captured.len(),
        replayed_len: replayed.len(),
        first_difference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(text("a\nb\n", "a\nb\n"), None);
    }

    #[test]
    fn a_changed_line_shows_with_its_neighbours() {
        let diff = text("one\ntwo\nthree\nfour\n", "one\ntwo\nTHREE\nfour\n");
        let diff = diff.unwrap_or_else(|| panic!("the texts differ"));
        assert_eq!(diff.lines, ["  two", "- three", "+ THREE", "  four"]);
        assert_eq!(diff.more, 0);
    }

    #[test]
    fn inserted_and_removed_lines_are_aligned() {
        let diff = text("a\nb\nc\nd", "a\nc\nd\ne").unwrap_or_else(|| panic!("the texts differ"));
        assert_eq!(diff.lines, ["  a", "- b", "  c", "  d", "+ e"]);
        let single = text("oxen", "oxes").unwrap_or_else(|| panic!("the texts differ"));
        assert_eq!(single.lines, ["- oxen", "+ oxes"]);
    }

    #[test]
    fn long_diffs_are_cut_and_counted() {
        let old: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let new: String = (0..100).map(|i| format!("LINE {i}\n")).collect();
        let diff = text(&old, &new).unwrap_or_else(|| panic!("the texts differ"));
        assert_eq!(diff.lines.len(), MAX_LINES);
        assert_eq!(diff.more, 200 - MAX_LINES);
    }

    #[test]
    fn texts_differing_only_in_line_endings_still_differ() {
        let diff = text("a\n", "a").unwrap_or_else(|| panic!("the texts differ"));
        assert_eq!(diff.lines, ["- (the texts differ only in line endings)"]);
    }

    #[test]
    fn binary_bodies_show_sizes_and_the_first_differing_byte() {
        assert_eq!(binary(b"abc", b"abc"), None);
        let diff = binary(&[0, 1, 2, 3], &[0, 1, 9]).unwrap_or_else(|| panic!("they differ"));
        assert_eq!(
            (diff.captured_len, diff.replayed_len, diff.first_difference),
            (4, 3, 2)
        );
        let prefix = binary(&[0, 1], &[0, 1, 2]).unwrap_or_else(|| panic!("they differ"));
        assert_eq!(prefix.first_difference, 2);
    }
}
