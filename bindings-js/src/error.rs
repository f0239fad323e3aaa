//! Errors crossing the boundary. Every failing export throws a [`Failure`]: the core's
//! [`WireError`] (its kind, stable code and one sentence). The package's JS shim
//! (`js/index.js`) turns it into the error class named by its kind (`PageIdError`,
//! `DecodeError`, `SetupError`, `MediaError`, `InvalidArgumentError`, all extending
//! `WikiSyncError`), so JS callers never see a `Failure`.

use wasm_bindgen::prelude::wasm_bindgen;
use wikisync_core::wire::WireError;

/// What a failing export throws; the JS shim converts it to a `WikiSyncError` subclass.
#[wasm_bindgen]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(WireError);

#[wasm_bindgen]
impl Failure {
    /// Which error class: `pageId`, `decode`, `setup`, `media` or `invalidArgument`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.0.kind.as_str().to_owned()
    }

    /// The stable code, e.g. `path_traversal`, `hash_mismatch`, `invalid_argument`.
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        self.0.code.to_owned()
    }

    /// One sentence for humans.
    #[wasm_bindgen(getter)]
    pub fn message(&self) -> String {
        self.0.message.clone()
    }
}

/// Any error the core can report across a binding (a `WireError` or a core error that becomes
/// one) is a failure.
impl<E: Into<WireError>> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wikisync_core::entry::DecodeError;
    use wikisync_core::id::PageIdError;
    use wikisync_core::sync::SetupError;

    #[test]
    fn core_errors_keep_their_kind_and_code() {
        let f = Failure::from(PageIdError::PathTraversal);
        assert_eq!(
            (f.kind(), f.code()),
            ("pageId".into(), "path_traversal".into())
        );
        let f = Failure::from(DecodeError::Doctype);
        assert_eq!((f.kind(), f.code()), ("decode".into(), "doctype".into()));
        assert!(f.message().contains("DOCTYPE"));
        let f = Failure::from(SetupError::NotSource);
        assert_eq!((f.kind(), f.code()), ("setup".into(), "not_source".into()));
        let f = Failure::from(wikisync_core::wire::verify_media(b"x", "00", 1).expect_err("bad"));
        assert_eq!(
            (f.kind(), f.code()),
            ("media".into(), "hash_mismatch".into())
        );
        let f = Failure::from(WireError::invalid_argument("entry: missing field `page`"));
        assert_eq!(
            (f.kind(), f.code()),
            ("invalidArgument".into(), "invalid_argument".into())
        );
    }
}
