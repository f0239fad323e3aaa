//! Reading the core's internally tagged enums (`{"type": "localSave", "edit": {...}}`) and its
//! list-or-object values without serde's derived code for them.
//!
//! Why by hand: serde's derive reads an internally tagged enum by copying the whole object into
//! its private `Content` buffer first (the tag may come last) and then deserializing the
//! variant's fields from that buffer, and its untagged enums do the same. So every type found
//! under such an enum was compiled a second time, for `Content`, next to the code that reads it
//! from JSON: in the WebAssembly module of the npm package that copy was over a quarter of the
//! code. The bindings read their JSON arguments into a `serde_json::Value` first
//! ([`crate::wire::parse`]); the impls here take the object out of the value they are given, look
//! up its `type` and read each field from its own `Value`, so every type is deserialized from
//! `Value` only. Serializing stays derived (it never buffers).
//!
//! The rules are the derive's for the same attributes (`tag = "type"`, camelCase variant and
//! field names):
//! - the tag names a variant, by its camelCase name or an alias the enum lists; another name is
//!   refused with serde's "unknown variant" error, a missing tag with "missing field `type`";
//! - a missing field is `None` for an `Option`, the default for a field marked so in the
//!   enum's docs, otherwise "missing field `x`"; keys the variant does not have are ignored;
//!   a unit variant ignores every key but the tag;
//! - a list-or-object value ([`ListOr`]) is read as its list form from a JSON array and as its
//!   object form from a JSON object.
//!
//! Two spellings the derive also took are not read: an enum given as a JSON array whose first
//! element is the tag, and a tag given as the variant's number (`{"type": 0}`). Neither is a
//! documented shape and no host writes them. Besides the conformance vectors, this module's
//! tests read every variant back from what its derived `Serialize` writes, and fail to compile
//! when an enum gains a variant they do not know.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::{Error, Map, Value};

/// The other keys of a tagged object, its tag taken out; each is read once.
pub(crate) struct Fields(Map<String, Value>);

impl Fields {
    /// The field `name` as a `T`. Missing, it is `None` for an `Option` (which is what reads
    /// `null`) and a "missing field" error for any other type, as with serde's derive.
    pub(crate) fn field<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<T, Error> {
        match self.0.remove(name) {
            Some(value) => T::deserialize(value),
            None => T::deserialize(Value::Null).map_err(|_| Error::missing_field(name)),
        }
    }

    /// The field `name` as a `T`, or `T::default()` when it is missing (`#[serde(default)]`).
    pub(crate) fn field_or_default<T: DeserializeOwned + Default>(
        &mut self,
        name: &'static str,
    ) -> Result<T, Error> {
        self.0
            .remove(name)
            .map_or_else(|| Ok(T::default()), T::deserialize)
    }

    /// The field `name` as it is, for a field read with its own function (`with = ...`);
    /// `None` when it is missing.
    pub(crate) fn take(&mut self, name: &'static str) -> Option<Value> {
        self.0.remove(name)
    }

    /// The remaining keys read as one `T`: a newtype variant's fields.
    pub(crate) fn rest<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        T::deserialize(Value::Object(std::mem::take(&mut self.0)))
    }
}

/// Reads an internally tagged enum: the object, its `type` (a string), and then `read` builds
/// the variant that tag names from the other fields (for a name it does not know it returns
/// [`serde::de::Error::unknown_variant`]). Each impl passes a plain `fn` declared inside its
/// `deserialize`, not a closure: a closure there would be compiled again for every
/// deserializer type (serde's derive also calls it with its missing-field deserializer).
pub(crate) fn deserialize<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    read: fn(&str, &mut Fields) -> Result<T, Error>,
) -> Result<T, D::Error> {
    let object = Map::<String, Value>::deserialize(deserializer)?;
    read_object(object, read).map_err(D::Error::custom)
}

/// [`deserialize`] once the object is read (not generic over the deserializer).
fn read_object<T>(
    mut object: Map<String, Value>,
    read: fn(&str, &mut Fields) -> Result<T, Error>,
) -> Result<T, Error> {
    let tag = match object.remove("type") {
        Some(tag) => String::deserialize(tag)?,
        None => return Err(Error::missing_field("type")),
    };
    read(&tag, &mut Fields(object))
}

/// A value written as a list, or in an older or alternative form as an object: `L` is read from
/// a JSON array, `O` from a JSON object (what `#[serde(untagged)]` did, without its buffer).
pub(crate) enum ListOr<L, O> {
    /// From a JSON array.
    List(L),
    /// From a JSON object.
    Object(O),
}

impl<'de, L: DeserializeOwned, O: DeserializeOwned> Deserialize<'de> for ListOr<L, O> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let read = match Value::deserialize(deserializer)? {
            list @ Value::Array(_) => L::deserialize(list).map(ListOr::List),
            object @ Value::Object(_) => O::deserialize(object).map(ListOr::Object),
            other => Err(Error::invalid_type(
                unexpected(&other),
                &"a list or an object",
            )),
        };
        read.map_err(D::Error::custom)
    }
}

/// What a JSON value is, for an "invalid type" error.
fn unexpected(value: &Value) -> serde::de::Unexpected<'_> {
    use serde::de::Unexpected;
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Other("number"),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::fmt::Debug;

    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::json;

    use crate::entry::{Entry, EntryKind, RevisionRef, SiteId};
    use crate::id::PageId;
    use crate::merge::{Conflict, Region, Resolution};
    use crate::sync::VersionVector;
    use crate::sync::{
        Change, ConflictChoice, ConflictOrigin, DropReason, GonePolicy, Input, LocalEdit,
        LocalMediaEdit, LockState, MediaChange, Notice, Role, SetupRequest, SubscriptionReport,
    };
    use crate::time::Timestamp;
    use crate::wire::{self, Labels};

    fn site() -> SiteId {
        SiteId::new("https://a.example/")
    }

    fn rev() -> RevisionRef {
        RevisionRef {
            revision: 7,
            site: site(),
        }
    }

    fn entry(kind: EntryKind) -> Entry {
        Entry {
            atom_id: "urn:x-wikisync:page:wiki:start".into(),
            page: PageId::clean("wiki:start").expect("a page id"),
            title: "Start".into(),
            updated: Timestamp(1_700_000_000),
            author: Some("alice".into()),
            summary: None,
            link: None,
            revision: rev(),
            base: None,
            clock: vec![rev()],
            minor: false,
            source: None,
            kind,
        }
    }

    /// Every value serializes (derived) and reads back (by hand) to itself, from JSON text
    /// and from a `Value`, with its tag first and last; and the values name exactly the
    /// variants the impl's "unknown variant" error lists.
    fn round_trips<T: Serialize + DeserializeOwned + PartialEq + Debug>(values: &[T]) {
        let mut tags = BTreeSet::new();
        for value in values {
            let json = serde_json::to_value(value).expect("serializes");
            let tag = json["type"].as_str().expect("a tag").to_owned();
            let mut fields = json.as_object().expect("an object").clone();
            fields.remove("type");
            let body = serde_json::to_string(&fields).expect("serializes");
            let rest = body.strip_prefix('{').expect("an object");
            let sep = if rest == "}" { "" } else { "," };
            let first = format!(r#"{{"type":{tag:?}{sep}{rest}"#);
            let last = format!(
                "{}{sep}\"type\":{tag:?}}}",
                body.strip_suffix('}').expect("}")
            );
            for text in [&first, &last] {
                let read: T = serde_json::from_str(text).expect("reads from text");
                assert_eq!(&read, value, "{text}");
                let read: T = wire::parse("value", text).expect("reads from a value");
                assert_eq!(&read, value, "{text}");
            }
            tags.insert(tag);
        }
        let err = wire::parse::<T>("value", r#"{"type": "?"}"#).expect_err("unknown");
        let listed: BTreeSet<String> = err
            .message
            .split('`')
            .skip(3)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        assert!(
            err.message.contains("unknown variant `?`"),
            "{}",
            err.message
        );
        assert_eq!(tags, listed, "samples against the impl's variant list");
    }

    #[test]
    fn every_variant_round_trips() {
        let t = Timestamp(1_700_000_000);
        let text = || Change::Text { text: "x".into() };
        round_trips(&[
            EntryKind::Page {
                text: "x".into(),
                media_type: "text/x-dokuwiki".into(),
            },
            EntryKind::Draft {
                lock_expires: t,
                conflict_with: Some(rev()),
            },
            EntryKind::Unlock,
            EntryKind::Deleted {
                when: t,
                by: Some("bob".into()),
                comment: None,
            },
            EntryKind::Media {
                media_type: "image/png".into(),
                sha256: "00".into(),
                size: 3,
                data: Some(vec![1, 2, 255]),
                url: None,
            },
            EntryKind::Media {
                media_type: "image/png".into(),
                sha256: "00".into(),
                size: 3,
                data: None,
                url: Some("https://a.example/x.png".into()),
            },
            EntryKind::MediaDeleted {
                when: t,
                by: None,
                comment: Some("old".into()),
            },
        ]);
        let edit = LocalEdit::text("x", 3).by("alice");
        let media = LocalMediaEdit {
            change: MediaChange::File {
                data: vec![0, 1],
                media_type: "image/png".into(),
            },
            author: None,
            summary: None,
            revision: 4,
        };
        round_trips(&[
            Input::LocalSave { edit },
            Input::SaveRequested {
                change: text(),
                editor: None,
            },
            Input::EditorOpened {
                editor: "alice".into(),
            },
            Input::EditorClosed {
                editor: "alice".into(),
            },
            Input::Notification {
                local_text: Some("y".into()),
                entry: Box::new(entry(EntryKind::Unlock)),
                namespace: Some("wiki".into()),
                publisher: Some(site()),
            },
            Input::Tick,
            Input::SourceGone {
                redirect: Some(site()),
            },
            Input::AnnounceSourceMove { new_source: site() },
            Input::MediaSaved { edit: media },
            Input::Retracted {
                item: "urn:x-wikisync:page:wiki:start".into(),
                publisher: None,
            },
            Input::Republish,
            Input::ResolveConflict {
                choice: ConflictChoice::Merge,
                local_text: None,
                editor_text: Some("z".into()),
            },
        ]);
        round_trips(&[
            Notice::EditedElsewhere {
                site: site(),
                editor: None,
                until: t,
            },
            Notice::LockLost {
                site: site(),
                editor: Some("bob".into()),
                until: t,
            },
            Notice::MirroredFrom { source: site() },
            Notice::SourceGone { source: site() },
            Notice::Conflict { revision: rev() },
            Notice::MediaTooLarge { size: 9, max: 8 },
            Notice::MediaConflict {
                kept: rev(),
                replaced: rev(),
            },
            Notice::EditedLocally {
                editor: "alice".into(),
                until: t,
            },
            Notice::ConflictReported {
                site: site(),
                revision: rev(),
            },
        ]);
        round_trips(&[
            MediaChange::File {
                data: vec![7],
                media_type: "image/gif".into(),
            },
            MediaChange::Deleted,
        ]);
        round_trips(&[text(), Change::Deleted]);
        round_trips(&[
            LockState::Free,
            LockState::AwaitingLocalSave {
                editor: "alice".into(),
                since: t,
                expires: t.plus_seconds(900),
                opened: VersionVector::default(),
            },
            LockState::AwaitingRemoteSave {
                site: site(),
                editor: None,
                since: t,
                expires: t.plus_seconds(900),
                displaced: Some("carol".into()),
            },
        ]);
        round_trips(&[
            ConflictOrigin::Remote,
            ConflictOrigin::LocalSave {
                editor: Some("alice".into()),
                text: None,
            },
        ]);
        round_trips(&[
            SubscriptionReport::Active {
                expires: Some(t),
                source_seen: None,
            },
            SubscriptionReport::Pending,
            SubscriptionReport::Dropped {
                reason: DropReason::NodeDeleted,
                at: t,
                redirect: Some("xmpp:x?;node=y".into()),
            },
            SubscriptionReport::NotFound,
            SubscriptionReport::Unreachable,
        ]);
        round_trips(&[
            Role::Source,
            Role::Mirror {
                source: site(),
                when_gone: GonePolicy::Delete,
            },
            Role::peer(),
            Role::Peer {
                peers: vec![site()],
            },
        ]);
        round_trips(&[
            SetupRequest::Source {
                node: None,
                gateway: Some("https://gw.example/".into()),
            },
            SetupRequest::Mirror {
                node: "n".into(),
                source: site(),
                when_gone: GonePolicy::Delete,
            },
            SetupRequest::Peer {
                node: Some("n".into()),
                gateway: None,
            },
            SetupRequest::MoveSource { new_source: site() },
            SetupRequest::Relocate {
                node: Some("n".into()),
                gateway: Some("https://gw.example/".into()),
            },
            SetupRequest::Retire,
            SetupRequest::Remove,
            SetupRequest::Follow {
                node: "n".into(),
                source: None,
            },
        ]);
        round_trips(&[
            Region::Resolved {
                text: "a".into(),
                resolution: Resolution::Words,
            },
            Region::Conflict(Conflict {
                base: "b".into(),
                ours: "o".into(),
                theirs: "t".into(),
            }),
        ]);
    }

    /// Fails to compile when a variant is added to one of the enums read by hand: add it to
    /// the enum's `Deserialize` impl and to `every_variant_round_trips`.
    #[allow(dead_code)]
    fn every_variant_is_read(
        (a, b, c, d, e): (&EntryKind, &Input, &Notice, &MediaChange, &Change),
        (f, g, h, i, j, k): (
            &LockState,
            &ConflictOrigin,
            &SubscriptionReport,
            &Role,
            &SetupRequest,
            &Region,
        ),
    ) {
        use EntryKind as K;
        use Input as I;
        use Notice as N;
        match a {
            K::Page { .. } | K::Draft { .. } | K::Unlock | K::Deleted { .. } => {}
            K::Media { .. } | K::MediaDeleted { .. } => {}
        }
        match b {
            I::LocalSave { .. } | I::SaveRequested { .. } | I::EditorOpened { .. } => {}
            I::EditorClosed { .. } | I::Notification { .. } | I::Tick => {}
            I::SourceGone { .. } | I::AnnounceSourceMove { .. } | I::MediaSaved { .. } => {}
            I::Retracted { .. } | I::Republish | I::ResolveConflict { .. } => {}
        }
        match c {
            N::EditedElsewhere { .. } | N::LockLost { .. } | N::MirroredFrom { .. } => {}
            N::SourceGone { .. } | N::Conflict { .. } | N::MediaTooLarge { .. } => {}
            N::MediaConflict { .. } | N::EditedLocally { .. } | N::ConflictReported { .. } => {}
        }
        match d {
            MediaChange::File { .. } | MediaChange::Deleted => {}
        }
        match e {
            Change::Text { .. } | Change::Deleted => {}
        }
        match f {
            LockState::Free | LockState::AwaitingLocalSave { .. } => {}
            LockState::AwaitingRemoteSave { .. } => {}
        }
        match g {
            ConflictOrigin::Remote | ConflictOrigin::LocalSave { .. } => {}
        }
        match h {
            SubscriptionReport::Active { .. } | SubscriptionReport::Pending => {}
            SubscriptionReport::Dropped { .. } | SubscriptionReport::NotFound => {}
            SubscriptionReport::Unreachable => {}
        }
        match i {
            Role::Source | Role::Mirror { .. } | Role::Peer { .. } => {}
        }
        match j {
            SetupRequest::Source { .. } | SetupRequest::Mirror { .. } => {}
            SetupRequest::Peer { .. } | SetupRequest::MoveSource { .. } => {}
            SetupRequest::Relocate { .. } => {}
            SetupRequest::Retire | SetupRequest::Remove | SetupRequest::Follow { .. } => {}
        }
        match k {
            Region::Resolved { .. } | Region::Conflict(_) => {}
        }
    }

    fn read<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
        let from_value = serde_json::from_value::<T>(value.clone()).map_err(|e| e.to_string());
        let from_text = serde_json::from_str::<T>(&value.to_string()).map_err(|e| e.to_string());
        // Both paths give the same answer (text errors add where they happened).
        match (&from_value, &from_text) {
            (Ok(_), Ok(_)) => {}
            (Err(a), Err(b)) => assert!(b.starts_with(a.as_str()), "{a} / {b}"),
            _ => panic!("value and text disagree on {value}"),
        }
        from_value
    }

    #[test]
    fn the_rules_are_the_derives() {
        // The tag: missing, unknown, snake_case (only old lock states have aliases), not a string.
        let err = read::<Change>(json!({"text": "x"})).expect_err("no tag");
        assert_eq!(err, "missing field `type`");
        let err = read::<Change>(json!({"type": "moved"})).expect_err("unknown");
        assert_eq!(err, "unknown variant `moved`, expected `text` or `deleted`");
        let err = read::<Input>(json!({"type": "local_save"})).expect_err("snake_case");
        assert!(err.starts_with("unknown variant `local_save`"), "{err}");
        assert!(read::<Change>(json!({"type": 0, "text": "x"})).is_err());
        assert!(read::<Change>(json!(["text", "x"])).is_err());
        assert!(read::<Change>(json!("text")).is_err());
        let old = read::<LockState>(
            json!({"type": "awaiting_remote_save", "site": "https://b.example/",
            "editor": null, "since": 1, "expires": 2}),
        );
        assert!(matches!(
            old,
            Ok(LockState::AwaitingRemoteSave {
                displaced: None,
                ..
            })
        ));
        // Fields: a missing `Option` is `None`, a missing other field an error, a missing
        // defaulted field its default; unknown keys are ignored, also by unit variants.
        assert_eq!(
            read::<Input>(json!({"type": "saveRequested", "change": {"type": "deleted"}})),
            Ok(Input::SaveRequested {
                change: Change::Deleted,
                editor: None
            })
        );
        // The publisher of a notification or retraction: missing or null is none, and a given
        // one is a site id in its normal form; a peer's missing peer set is empty.
        let retracted = |publisher| {
            read::<Input>(json!({"type": "retracted", "item": "i", "publisher": publisher}))
        };
        assert_eq!(
            retracted(json!("HTTPS://A.Example:443")),
            Ok(Input::Retracted {
                item: "i".into(),
                publisher: Some(site())
            })
        );
        assert_eq!(
            retracted(json!(null)),
            read::<Input>(json!({"type": "retracted", "item": "i"}))
        );
        assert!(matches!(
            retracted(json!(null)),
            Ok(Input::Retracted {
                publisher: None,
                ..
            })
        ));
        assert_eq!(read::<Role>(json!({"type": "peer"})), Ok(Role::peer()));
        assert_eq!(
            read::<Role>(json!({"type": "peer", "peers": ["https://a.example:443"]})),
            Ok(Role::Peer {
                peers: vec![site()]
            })
        );
        let err = read::<Input>(json!({"type": "editorOpened"})).expect_err("no editor");
        assert_eq!(err, "missing field `editor`");
        let err = read::<MediaChange>(json!({"type": "file", "mediaType": "a/b"})).expect_err("");
        assert_eq!(err, "missing field `data`");
        let err = read::<MediaChange>(json!({"type": "file", "data": "!", "mediaType": "a/b"}))
            .expect_err("not base64");
        assert_eq!(err, "data is not valid base64");
        assert_eq!(
            read::<SetupRequest>(
                json!({"type": "mirror", "node": "n", "source": "https://b.example/"})
            ),
            Ok(SetupRequest::Mirror {
                node: "n".into(),
                source: SiteId::new("https://b.example/"),
                when_gone: GonePolicy::Keep
            })
        );
        assert_eq!(
            read::<SetupRequest>(json!({"type": "relocate"})),
            Ok(SetupRequest::Relocate {
                node: None,
                gateway: None
            })
        );
        assert_eq!(
            read::<SetupRequest>(json!({"type": "source", "gateway": null})),
            Ok(SetupRequest::Source {
                node: None,
                gateway: None
            })
        );
        let err = read::<Role>(json!({"type": "mirror", "source": "https://b.example/"}))
            .expect_err("a role's whenGone is required");
        assert_eq!(err, "missing field `whenGone`");
        assert_eq!(
            read::<Change>(json!({"type": "text", "text": "x", "extra": 1})),
            Ok(Change::Text { text: "x".into() })
        );
        assert_eq!(
            read::<Change>(json!({"type": "deleted", "text": "x"})),
            Ok(Change::Deleted)
        );
        // A field of the wrong type says so.
        let err = read::<Change>(json!({"type": "text", "text": 1})).expect_err("a number");
        assert!(
            err.starts_with("invalid type: integer `1`, expected a string"),
            "{err}"
        );
    }

    #[test]
    fn lists_and_their_object_forms() {
        let vv: VersionVector =
            read(json!([{"revision": 3, "site": "https://a.example/"}])).expect("a list");
        let old: VersionVector = read(json!({"https://a.example/": 3})).expect("an object");
        assert_eq!(vv, old);
        assert_eq!(
            read::<VersionVector>(json!([])),
            Ok(VersionVector::default())
        );
        assert_eq!(
            read::<VersionVector>(json!({})),
            Ok(VersionVector::default())
        );
        let err = read::<VersionVector>(json!(null)).expect_err("null");
        assert_eq!(err, "invalid type: null, expected a list or an object");
        assert!(read::<VersionVector>(json!([{"https://a.example/": 3}])).is_err());
        assert_eq!(
            read::<Labels>(json!(["o", "b", "t"])),
            Ok(Labels::List(["o".into(), "b".into(), "t".into()]))
        );
        assert_eq!(
            read::<Labels>(json!({"ours": "o", "base": "b", "theirs": "t"})),
            Ok(Labels::Named {
                ours: "o".into(),
                base: "b".into(),
                theirs: "t".into()
            })
        );
        assert!(read::<Labels>(json!(["o", "b"])).is_err());
        assert!(read::<Labels>(json!({"ours": "o"})).is_err());
    }
}
