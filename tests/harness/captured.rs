//! A writer tests can read back: what the console sender and publisher write, JSON lines.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Every line written so far, parsed.
    pub fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// How many business events of `detail_type` were published so far.
    pub fn count(&self, detail_type: &str) -> usize {
        self.detail_types()
            .iter()
            .filter(|t| *t == detail_type)
            .count()
    }

    /// The `detail_type` of every business event published so far.
    pub fn detail_types(&self) -> Vec<String> {
        self.lines()
            .iter()
            .map(|v| v["detail_type"].as_str().unwrap().to_string())
            .collect()
    }
}
