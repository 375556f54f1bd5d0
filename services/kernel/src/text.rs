//! Search normalisation for names and aliases (registry.md §3.3): the same
//! structure is written "Sainte-Barbe", "Sainte Barbe" or "SAINTE BARBE", so
//! matching runs on a form without case, accents or punctuation.

/// Lower case, accents removed (French letters and common Latin ones,
/// œ → oe, æ → ae), every character that is not a letter or digit
/// (punctuation, apostrophes, dashes, symbols) turned into a space,
/// whitespace collapsed to single spaces, trimmed.
///
/// `normalize("Le Jardin du Temple – Fresnes-sur-Escaut")` is
/// `"le jardin du temple fresnes sur escaut"`.
pub fn normalize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    // Start as if after a space so leading separators are dropped.
    let mut pending_space = false;
    for c in input.chars().flat_map(char::to_lowercase) {
        // Combining accents from decomposed input ("e" + U+0301): drop them.
        if ('\u{0300}'..='\u{036f}').contains(&c) {
            continue;
        }
        let folded = fold(c);
        if folded.is_some() || c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            match folded {
                Some(s) => out.push_str(s),
                None => out.push(c),
            }
        } else {
            pending_space = true;
        }
    }
    out
}

/// ASCII replacement of a lower-case accented or ligatured letter.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
        'æ' => "ae",
        'ç' => "c",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'œ' => "oe",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_names() {
        let cases = [
            ("Le Jardin du Temple – Fresnes-sur-Escaut", "le jardin du temple fresnes sur escaut"),
            ("Polyclinique Sainte-Barbe - Carmaux", "polyclinique sainte barbe carmaux"),
            ("Polyclinique Sainte Barbe de Carmaux", "polyclinique sainte barbe de carmaux"),
            ("HOPITAL DE FREYMING", "hopital de freyming"),
            ("établissement de La Manaie - Auchel", "etablissement de la manaie auchel"),
            ("ÉTABLISSEMENT CHARLEVILLE S/ B", "etablissement charleville s b"),
            ("Ehpad Joseph-Porebski", "ehpad joseph porebski"),
            ("Filiéris", "filieris"),
            ("l'hôpital d’Hénin", "l hopital d henin"),
            ("  Résidence   «Ambroise Croizat»  ", "residence ambroise croizat"),
            ("Œuvre ÆGIS cœur", "oeuvre aegis coeur"),
            ("À Ç È É Ê Ë Î Ï Ô Ö Ù Û Ü Â Ä", "a c e e e e i i o o u u u a a"),
            ("à ç è é ê ë î ï ô ö ù û ü â ä", "a c e e e e i i o o u u u a a"),
            ("Centre n°3, 2ème étage", "centre n 3 2eme etage"),
            ("E\u{301}cole", "ecole"),
            ("SPASAD\u{a0}du\tNord\n", "spasad du nord"),
            ("", ""),
            (" -–'’. ", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input:?}");
        }
    }

    #[test]
    fn variants_of_a_name_meet() {
        let forms = ["Freyming-Merlebach - Creutzwald", "Freyming-Merlebach Creutzwald", "FREYMING MERLEBACH — CREUTZWALD"];
        for f in forms {
            assert_eq!(normalize(f), "freyming merlebach creutzwald");
        }
        // Idempotent.
        let once = normalize("Établissement de santé de Moselle-Est");
        assert_eq!(normalize(&once), once);
    }
}
