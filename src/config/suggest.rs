//! "Did you mean …?" for misspelt names: providers, keys and choices.
//!
//! Owns only the edit-distance ranking; callers decide the wording around it.

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a plausible
/// typo: at most 2 edits, and fewer edits than the word is long. Comparison
/// ignores ASCII case, so `GitHub` suggests `github`.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    let limit = 2.min(word.chars().count().saturating_sub(1));
    candidates
        .iter()
        .map(|c| (edit_distance(&word_lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean "x"?)` when a close candidate exists, else an empty string;
/// ready to append to a message.
pub(crate) fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates) {
        Some(c) => format!(" (did you mean {c:?}?)"),
        None => String::new(),
    }
}

/// `"a", "b" or "c"`, for messages listing the allowed values.
pub(crate) fn one_of(candidates: &[&str]) -> String {
    let quoted: Vec<String> = candidates.iter().map(|c| format!("{c:?}")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("githb", "github"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
    }

    #[test]
    fn suggests_only_plausible_typos() {
        let names = ["github", "gitlab", "stripe", "svix", "hmac"];
        assert_eq!(closest("githb", &names), Some("github"));
        assert_eq!(closest("GitHub", &names), Some("github"));
        assert_eq!(closest("strpe", &names), Some("stripe"));
        assert_eq!(closest("paypal", &names), None);
        assert_eq!(closest("x", &names), None);
        assert_eq!(did_you_mean("githb", &names), " (did you mean \"github\"?)");
        assert_eq!(did_you_mean("zzzzzz", &names), "");
    }

    #[test]
    fn lists() {
        assert_eq!(one_of(&["json"]), "\"json\"");
        assert_eq!(one_of(&["json", "pretty"]), "\"json\" or \"pretty\"");
        assert_eq!(one_of(&["a", "b", "c"]), "\"a\", \"b\" or \"c\"");
    }
}
