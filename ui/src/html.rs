//! Small HTML helpers: escaping, the page layout, French number formats.
//!
//! Every dynamic string goes through [`esc`] (text and attribute values
//! alike), so a structure name or a service message can never inject markup.

use std::fmt::Write as _;

use filieris_runtime::identity::Identity;

use crate::nav::Page;

/// Escapes text for an HTML text node or a quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string component.
pub fn url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An integer with French digit grouping (narrow no-break space).
pub fn int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    if n < 0 { format!("−{out}") } else { out }
}

/// Cents as euros, French format: `1 234,05 €`.
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "−" } else { "" };
    format!("{sign}{},{:02}\u{a0}€", int((cents / 100).abs()), (cents % 100).abs())
}

/// Hundredths (FTE) as a French decimal: `12,50`.
pub fn hundredths(h: i64) -> String {
    let sign = if h < 0 { "−" } else { "" };
    format!("{sign}{},{:02}", int((h / 100).abs()), (h % 100).abs())
}

/// A ratio as a French percentage with one decimal, or "—" without a denominator.
pub fn percent(numerator: i64, denominator: i64) -> String {
    if denominator == 0 {
        return "—".into();
    }
    // Tenths of a percent, rounded half away from zero, in integers.
    let tenths = (numerator as i128 * 1000 * 2 + denominator as i128) / (denominator as i128 * 2);
    format!("{},{}\u{a0}%", tenths / 10, (tenths % 10).abs())
}

/// A notice for a section whose data could not be read.
pub fn unavailable(what: &str, why: &str) -> String {
    format!("<p class=\"notice unavailable\" role=\"status\"><strong>{}</strong> : {}</p>", esc(what), esc(why))
}

/// A `<select>` with a visible label; `options` are (value, label).
pub fn select(name: &str, label: &str, options: &[(String, String)], selected: &str) -> String {
    let mut s =
        format!("<div class=\"field\"><label for=\"f-{n}\">{}</label><select id=\"f-{n}\" name=\"{n}\">", esc(label), n = esc(name));
    for (value, text) in options {
        let sel = if value == selected { " selected" } else { "" };
        let _ = write!(s, "<option value=\"{}\"{sel}>{}</option>", esc(value), esc(text));
    }
    s.push_str("</select></div>");
    s
}

/// A text input with a visible label.
pub fn input(name: &str, label: &str, kind: &str, value: &str, extra: &str) -> String {
    format!(
        "<div class=\"field\"><label for=\"f-{n}\">{}</label><input id=\"f-{n}\" name=\"{n}\" type=\"{}\" value=\"{}\" {extra}></div>",
        esc(label),
        esc(kind),
        esc(value),
        n = esc(name)
    )
}

/// A GET filter form that submits itself when a select changes (app.js).
pub fn filter_form(action: &str, fields: &str) -> String {
    format!(
        "<form class=\"filters\" method=\"get\" action=\"{}\" data-autosubmit>{fields}<button type=\"submit\">Filtrer</button></form>",
        esc(action)
    )
}

/// The whole page: landmarks, navigation for the user's roles, skip link.
pub fn layout(title: &str, current: Page, who: Option<(&Identity, &str, &[Page])>, body: &str) -> String {
    let mut nav_html = String::new();
    if let Some((identity, csrf, menu)) = who {
        nav_html.push_str("<nav aria-label=\"Navigation principale\"><ul>");
        for page in menu {
            let current_attr = if *page == current { " aria-current=\"page\"" } else { "" };
            let _ = write!(nav_html, "<li><a href=\"{}\"{current_attr}>{}</a></li>", page.path(), esc(page.label()));
        }
        nav_html.push_str("</ul></nav>");
        let _ = write!(
            nav_html,
            "<div class=\"who\"><span>{}</span> <span class=\"roles\">{}</span><form method=\"post\" action=\"/ui/deconnexion\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Se déconnecter</button></form></div>",
            esc(&identity.caller),
            esc(&identity.roles.join(", ")),
            esc(csrf)
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} — Filieris</title><link rel=\"stylesheet\" href=\"/ui/assets/app.css\"><script src=\"/ui/assets/app.js\" defer></script></head>\
         <body><a class=\"skip\" href=\"#contenu\">Aller au contenu</a>\
         <header class=\"top\"><a class=\"brand\" href=\"/ui/\">Filieris <small>CANSSM</small></a>{nav_html}</header>\
         <main id=\"contenu\" tabindex=\"-1\"><h1>{t}</h1>{body}</main>\
         <footer><p>Filieris — pilotage de l'offre de soins CANSSM. Données lues avec vos droits.</p></footer></body></html>\n",
        t = esc(title)
    )
}

/// Links to the next page of a list (keeping the other query parameters).
pub fn pager(base: &str, params: &[(&str, &str)], next_token: &str) -> String {
    let keep: Vec<String> =
        params.iter().filter(|(k, v)| !v.is_empty() && *k != "page").map(|(k, v)| format!("{}={}", url(k), url(v))).collect();
    let first = format!("{base}?{}", keep.join("&"));
    let mut s = String::from("<nav class=\"pager\" aria-label=\"Pagination\">");
    if params.iter().any(|(k, v)| *k == "page" && !v.is_empty()) {
        let _ = write!(s, "<a href=\"{}\">« Première page</a>", esc(&first));
    }
    if !next_token.is_empty() {
        let mut next = keep.clone();
        next.push(format!("page={}", url(next_token)));
        let _ = write!(s, "<a href=\"{}\" rel=\"next\">Page suivante »</a>", esc(&format!("{base}?{}", next.join("&"))));
    }
    s.push_str("</nav>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(esc("<a href='x'>\"&</a>"), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&lt;/a&gt;");
    }

    #[test]
    fn french_numbers() {
        assert_eq!(int(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(int(-12), "−12");
        assert_eq!(euros(123_405), "1\u{202f}234,05\u{a0}€");
        assert_eq!(euros(-5), "−0,05\u{a0}€");
        assert_eq!(hundredths(1250), "12,50");
        assert_eq!(percent(1, 3), "33,3\u{a0}%");
        assert_eq!(percent(2, 3), "66,7\u{a0}%");
        assert_eq!(percent(1, 0), "—");
    }

    #[test]
    fn query_components_are_encoded() {
        assert_eq!(url("region = NORD&x"), "region%20%3D%20NORD%26x");
    }
}
