use super::*;

const NODE: &str = "xmpp:pubsub.example.org?;node=doc";

fn setup(role: Role, subscribed: bool) -> NamespaceSetup {
    NamespaceSetup {
        role,
        node: Some(NODE.to_owned()),
        gateway: None,
        subscribed,
    }
}

fn mirror_of(source: &str) -> Role {
    Role::Mirror {
        source: SiteId::new(source),
        when_gone: GonePolicy::Keep,
    }
}

#[test]
fn a_new_source_creates_its_node_unless_one_is_given() {
    assert_eq!(
        plan_setup(
            None,
            SetupRequest::Source {
                node: None,
                gateway: None
            }
        ),
        Ok(vec![SetupStep::CreateNode, set_role(Role::Source)])
    );
    let given = plan_setup(
        None,
        SetupRequest::Source {
            node: Some(NODE.into()),
            gateway: None,
        },
    );
    assert_eq!(
        given.as_ref().map(|s| s[0].clone()),
        Ok(SetupStep::UseNode { node: NODE.into() })
    );
    assert!(matches!(
        plan_setup(
            None,
            SetupRequest::Source {
                node: Some("http://x".into()),
                gateway: None,
            }
        ),
        Err(SetupError::BadNode(_))
    ));
}

#[test]
fn only_a_source_moves_or_retires() {
    let mirror = setup(mirror_of("a"), true);
    for request in [
        SetupRequest::Retire,
        SetupRequest::MoveSource {
            new_source: SiteId::new("b"),
        },
    ] {
        assert_eq!(
            plan_setup(Some(&mirror), request.clone()),
            Err(SetupError::NotSource)
        );
        assert_eq!(plan_setup(None, request), Err(SetupError::NotSource));
    }
    let source = setup(Role::Source, false);
    assert_eq!(
        plan_setup(
            Some(&source),
            SetupRequest::MoveSource {
                new_source: SiteId::new("b")
            }
        ),
        Ok(vec![
            SetupStep::AnnounceSourceMove {
                new_source: SiteId::new("b")
            },
            SetupStep::UseNode { node: NODE.into() },
            set_role(mirror_of("b")),
            SetupStep::Subscribe,
        ])
    );
}

#[test]
fn removing_unsubscribes_only_what_is_subscribed() {
    assert_eq!(
        plan_setup(None, SetupRequest::Remove),
        Err(SetupError::NotSynced)
    );
    assert_eq!(
        plan_setup(Some(&setup(Role::Source, false)), SetupRequest::Remove),
        Ok(vec![SetupStep::ForgetRule])
    );
    assert_eq!(
        plan_setup(Some(&setup(Role::peer(), true)), SetupRequest::Remove),
        Ok(vec![
            SetupStep::Unsubscribe { node: NODE.into() },
            SetupStep::ForgetRule
        ])
    );
}

#[test]
fn joining_peers_sync_first_and_the_first_peer_creates_the_node() {
    let first = plan_setup(
        None,
        SetupRequest::Peer {
            node: None,
            gateway: None,
        },
    )
    .expect("a plan");
    assert_eq!(first[0], SetupStep::CreateNode);
    assert!(!first.contains(&SetupStep::FirstSync));
    let join = plan_setup(
        None,
        SetupRequest::Peer {
            node: Some(NODE.into()),
            gateway: None,
        },
    )
    .expect("a plan");
    assert_eq!(join.last(), Some(&SetupStep::FirstSync));
}

#[test]
fn re_mirroring_the_same_node_does_not_unsubscribe_it() {
    let current = setup(mirror_of("a"), true);
    let steps = plan_setup(
        Some(&current),
        SetupRequest::Mirror {
            node: "xmpp:PubSub.example.org?node=doc".into(),
            source: SiteId::new("a"),
            when_gone: GonePolicy::Delete,
        },
    )
    .expect("a plan");
    assert!(
        !steps
            .iter()
            .any(|s| matches!(s, SetupStep::Unsubscribe { .. }))
    );
}

const GW2: &str = "http://gw2.example:8081";
const FEED: &str = "http://GW2.example:8081/items?uri=xmpp%3Apubsub.two.example%3F%3Bnode%3Dnew";
const NEW: &str = "xmpp:pubsub.two.example?;node=new";

#[test]
fn a_mirror_follows_a_feed_url_to_the_other_gateway_and_stays_there() {
    let mirror = setup(mirror_of("a"), true);
    let follow = |current: &NamespaceSetup, node: &str| {
        plan_setup(
            Some(current),
            SetupRequest::Follow {
                node: node.into(),
                source: None,
            },
        )
    };
    assert_eq!(
        follow(&mirror, FEED),
        Ok(vec![
            SetupStep::Unsubscribe { node: NODE.into() },
            SetupStep::UseGateway {
                gateway: Some(GW2.into())
            },
            SetupStep::UseNode { node: NEW.into() },
            set_role(mirror_of("a")),
            SetupStep::Subscribe,
            SetupStep::FirstSync,
        ])
    );
    // there, a node URI alone names a node on that gateway; its feed URL changes nothing
    let there = NamespaceSetup {
        node: Some(NEW.into()),
        gateway: Some(GW2.into()),
        ..mirror
    };
    let next = "xmpp:pubsub.two.example?;node=next";
    assert_eq!(
        follow(&there, next).map(|s| s[1].clone()),
        Ok(SetupStep::UseNode { node: next.into() })
    );
    assert!(
        follow(&there, FEED)
            .expect("a plan")
            .iter()
            .all(|s| !matches!(
                s,
                SetupStep::Unsubscribe { .. } | SetupStep::UseGateway { .. }
            ))
    );
}

#[test]
fn a_source_relocates_to_a_node_created_on_another_gateway() {
    let source = setup(Role::Source, false);
    let relocate = |node: Option<&str>, gateway: Option<&str>| {
        plan_setup(
            Some(&source),
            SetupRequest::Relocate {
                node: node.map(str::to_owned),
                gateway: gateway.map(str::to_owned),
            },
        )
    };
    assert_eq!(
        relocate(None, Some("http://GW2.example:8081/")),
        Ok(vec![
            SetupStep::UseGateway {
                gateway: Some(GW2.into())
            },
            SetupStep::CreateNode,
            set_role(Role::Source),
            SetupStep::Republish,
            SetupStep::RedirectNode {
                node: NODE.into(),
                gateway: None,
                feed: true
            },
        ])
    );
    // on the same gateway, the redirect is the node URI
    assert_eq!(
        relocate(Some("xmpp:pubsub.example.org?;node=doc2"), None).map(|s| s.last().cloned()),
        Ok(Some(SetupStep::RedirectNode {
            node: NODE.into(),
            gateway: None,
            feed: false
        }))
    );
    assert_eq!(relocate(Some(NODE), None), Err(SetupError::SameNode));
    assert_eq!(
        relocate(Some(FEED), Some("http://gw3.example")).map_err(|e| e.code()),
        Err("two_gateways")
    );
    assert_eq!(
        relocate(None, Some("gw2.example")).map_err(|e| e.code()),
        Err("bad_gateway")
    );
    assert_eq!(
        plan_setup(
            Some(&setup(mirror_of("a"), true)),
            SetupRequest::Relocate {
                node: None,
                gateway: None
            }
        ),
        Err(SetupError::NotSource)
    );
}
