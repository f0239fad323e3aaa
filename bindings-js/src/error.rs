//! Errors crossing the boundary. Every failing export throws a [`Failure`]: a small tagged
//! value with the error family (`kind`), the core's stable `code` and a one-sentence
//! `message`. The package's JS shim (`js/index.js`) turns it into an instance of the matching
//! `Error` subclass (`PageIdError`, `DecodeError`, `InvalidArgumentError`, all extending
//! `WikiSyncError`), so JS callers never see a `Failure`.

use wasm_bindgen::prelude::wasm_bindgen;
use wikisync_core::entry::DecodeError;
use wikisync_core::id::PageIdError;

/// Which JS error class a [`Failure`] becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A page id was refused (`PageIdError`).
    PageId,
    /// An entry document was refused (`DecodeError`).
    Decode,
    /// An argument does not have the documented shape (`InvalidArgumentError`).
    InvalidArgument,
}

impl Kind {
    /// The tag the JS shim dispatches on.
    fn tag(self) -> &'static str {
        match self {
            Kind::PageId => "page_id",
            Kind::Decode => "decode",
            Kind::InvalidArgument => "invalid_argument",
        }
    }
}

/// The code of every [`Kind::InvalidArgument`] failure.
pub const INVALID_ARGUMENT: &str = "invalid_argument";

/// What a failing export throws; the JS shim converts it to a `WikiSyncError` subclass.
#[wasm_bindgen]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    kind: Kind,
    code: &'static str,
    message: String,
}

#[wasm_bindgen]
impl Failure {
    /// The error family: `page_id`, `decode` or `invalid_argument`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.kind.tag().to_owned()
    }

    /// The core's stable code, e.g. `path_traversal`, `hash_mismatch`, `invalid_argument`.
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        self.code.to_owned()
    }

    /// One sentence for humans.
    #[wasm_bindgen(getter)]
    pub fn message(&self) -> String {
        self.message.clone()
    }
}

impl Failure {
    /// An argument of the wrong shape; `message` says which and why.
    pub fn invalid_argument(message: impl Into<String>) -> Failure {
        Failure {
            kind: Kind::InvalidArgument,
            code: INVALID_ARGUMENT,
            message: message.into(),
        }
    }

    /// The family of this failure.
    pub fn family(&self) -> Kind {
        self.kind
    }

    /// The stable code of this failure.
    pub fn code_str(&self) -> &'static str {
        self.code
    }
}

impl From<PageIdError> for Failure {
    fn from(e: PageIdError) -> Failure {
        Failure {
            kind: Kind::PageId,
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<DecodeError> for Failure {
    fn from(e: DecodeError) -> Failure {
        Failure {
            kind: Kind::Decode,
            code: e.code(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_keep_their_codes() {
        let f = Failure::from(PageIdError::PathTraversal);
        assert_eq!((f.family(), f.code_str()), (Kind::PageId, "path_traversal"));
        assert_eq!(f.kind(), "page_id");
        let f = Failure::from(DecodeError::Doctype);
        assert_eq!(
            (f.kind(), f.code()),
            ("decode".to_owned(), "doctype".to_owned())
        );
        assert!(f.message().contains("DOCTYPE"));
        let f = Failure::invalid_argument("entry: missing field `page`");
        assert_eq!(
            (f.kind(), f.code()),
            ("invalid_argument".into(), "invalid_argument".into())
        );
    }
}
