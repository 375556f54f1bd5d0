//! The CSV reader of reference tables and partner uploads on arbitrary text:
//! no panic, every record has the header's columns, and a line re-encoded with
//! full quoting splits back into the same fields.
#![no_main]

use filieris_kernel::csv::{parse_csv_records, split_csv_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(records) = parse_csv_records(text) {
        if let Some(first) = records.first() {
            assert!(records.iter().all(|r| r.len() == first.len()));
        }
    }
    for line in text.lines() {
        if let Ok(fields) = split_csv_line(line) {
            let encoded: Vec<String> = fields.iter().map(|f| format!("\"{}\"", f.replace('"', "\"\""))).collect();
            assert_eq!(split_csv_line(&encoded.join(",")).as_ref(), Ok(&fields));
        }
    }
});
