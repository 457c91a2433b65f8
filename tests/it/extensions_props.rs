//! Property tests of the `Sec-WebSocket-Extensions` grammar: canonical
//! elements round-trip, whitespace and quoting do not change what is parsed,
//! splitting a list over several field lines changes nothing, and no input
//! panics.

use proptest::prelude::*;
use wsmachine::extensions::{Extension, ExtensionParam, parse_list};

fn token() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}"
}

fn extension() -> impl Strategy<Value = Extension> {
    (
        token(),
        proptest::collection::vec((token(), proptest::option::of(token())), 0..5),
    )
        .prop_map(|(name, params)| Extension {
            name,
            params: params
                .into_iter()
                .map(|(name, value)| ExtensionParam { name, value })
                .collect(),
        })
}

fn ows() -> impl Strategy<Value = String> {
    "[ \t]{0,2}"
}

/// The element written with random whitespace, and with values randomly
/// quoted (with needless escapes).
fn spelled(extension: &Extension) -> impl Strategy<Value = String> + use<> {
    let parts = extension.params.len();
    let name = extension.name.clone();
    let params = extension.params.clone();
    (
        proptest::collection::vec(
            (ows(), ows(), ows(), ows(), any::<bool>(), any::<bool>()),
            parts,
        ),
        ows(),
        ows(),
    )
        .prop_map(move |(spacing, before, after)| {
            let mut out = format!("{before}{name}");
            for (param, (a, b, c, d, quote, escape)) in params.iter().zip(spacing) {
                out.push_str(&format!("{a};{b}{}", param.name));
                if let Some(value) = &param.value {
                    out.push_str(&format!("{c}={d}"));
                    if quote {
                        out.push('"');
                        for ch in value.chars() {
                            if escape {
                                out.push('\\');
                            }
                            out.push(ch);
                        }
                        out.push('"');
                    } else {
                        out.push_str(value);
                    }
                }
            }
            out.push_str(&after);
            out
        })
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::default()))]
    #[test]
    fn canonical_elements_round_trip(extension in extension()) {
        let written = extension.to_string();
        prop_assert_eq!(Extension::parse(&written), Ok(extension.clone()));
        prop_assert_eq!(parse_list(&written), Ok(vec![extension]));
    }

    #[test]
    fn spelling_does_not_change_the_element(
        (extension, spelled) in extension().prop_flat_map(|e| {
            let s = spelled(&e);
            (Just(e), s)
        })
    ) {
        prop_assert_eq!(Extension::parse(&spelled), Ok(extension));
    }

    #[test]
    fn a_list_over_several_field_lines_is_the_same_list(
        extensions in proptest::collection::vec(extension(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let elements: Vec<String> = extensions.iter().map(|e| e.to_string()).collect();
        let whole = parse_list(&elements.join(", "));
        prop_assert_eq!(&whole, &Ok(extensions.clone()));
        // Cut the list between elements into several values, as separate
        // field lines would be, and parse each.
        let mut bounds: Vec<usize> = cuts.iter().map(|cut| cut.index(elements.len() + 1)).collect();
        bounds.push(0);
        bounds.push(elements.len());
        bounds.sort_unstable();
        let mut pieces = Vec::new();
        for pair in bounds.windows(2) {
            let line = elements[pair[0]..pair[1]].join(" ,");
            pieces.extend(parse_list(&line).unwrap());
        }
        prop_assert_eq!(pieces, extensions);
    }

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,40}|[a-z;=\", \\\\]{0,40}") {
        if let Ok(list) = parse_list(&input) {
            // Whatever parses writes back to something that parses the same.
            let written: Vec<String> = list.iter().map(|e| e.to_string()).collect();
            prop_assert_eq!(parse_list(&written.join(", ")), Ok(list));
        }
    }
}
