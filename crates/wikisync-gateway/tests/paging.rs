//! `GET /items` pages through a node of any size: cursors, next links, stability while
//! publishing, bad cursors, and a 2,000-page namespace at the default settings.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use wikisync_gateway::atom::strip_prolog;
use wikisync_gateway::config::Config;
use wikisync_gateway::http::idavoll::{DEFAULT_PAGE_ITEMS, MAX_PAGE_ITEMS};

/// One page as a client sees it: its entries in order and the next link (header and feed).
struct Page {
    entries: Vec<String>,
    next: Option<String>,
}

/// The `<entry …>…</entry>` elements of a feed, in order (the test entries nest none).
fn feed_entries(feed: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = feed;
    while let Some(start) = rest.find("<entry") {
        let end = rest[start..].find("</entry>").unwrap() + start + "</entry>".len();
        out.push(rest[start..end].to_owned());
        rest = &rest[end..];
    }
    out
}

/// The atom:id of a test entry.
fn id_of(entry: &str) -> String {
    let start = entry.find("<id>").unwrap() + 4;
    entry[start..start + entry[start..].find("</id>").unwrap()].to_owned()
}

/// `GET` of an `/items` path (or an absolute next link, whose path and query are used).
async fn page(api: &Api, target: &str) -> Page {
    let path = match target.find("/items?") {
        Some(at) => &target[at..],
        None => target,
    };
    let reply = api.send(get(path)).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    let header = reply.headers.get("link").map(|l| {
        let l = l.to_str().unwrap();
        assert!(l.ends_with(">; rel=\"next\""), "{l}");
        l[1..l.len() - ">; rel=\"next\"".len()].to_owned()
    });
    let in_feed = reply.body.find("<link rel=\"next\" href=\"").map(|at| {
        let href = &reply.body[at + 23..];
        href[..href.find('"').unwrap()].replace("&amp;", "&")
    });
    assert_eq!(header, in_feed, "the Link header and the feed's link agree");
    Page {
        entries: feed_entries(&reply.body),
        next: header,
    }
}

/// Every page from `first` on, following next links.
async fn all_pages(api: &Api, first: &str) -> Vec<Page> {
    let mut pages = vec![page(api, first).await];
    while let Some(next) = pages.last().unwrap().next.clone() {
        pages.push(page(api, &next).await);
        assert!(pages.len() < 10_000, "next links never end");
    }
    pages
}

fn items_path(uri: &str, extra: &str) -> String {
    format!("/items?uri={}{extra}", enc(uri))
}

/// A page's entry: like `common::entry`, with a body large enough to look like a wiki page.
fn page_entry(n: usize, revision: usize) -> String {
    let text = format!("page {n} revision {revision} ").repeat(20);
    entry(&format!("urn:wikisync:page:ns:p{n:04}"), &text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2000_page_namespace_at_the_default_settings_pages_completely_byte_for_byte() {
    let defaults = Config::default();
    assert_eq!(
        defaults.max_items_per_node, 0,
        "the default keeps every item"
    );
    let api = api_with(Config {
        service: SERVICE.to_owned(),
        verify: false,
        ..defaults
    });
    let uri = api.create().await;
    // The first sync of a namespace: every page published (concurrently, as a bulk publish
    // does), some of them twice (a later revision replaces the earlier one).
    let mut published: BTreeMap<String, String> = BTreeMap::new();
    for chunk in (0..2000).collect::<Vec<_>>().chunks(250) {
        let sends = chunk.iter().map(|&n| {
            let body = page_entry(n, 1);
            let api = &api;
            let uri = &uri;
            async move { (api.publish(Some(uri), &body).await, body) }
        });
        for (reply, body) in futures_util::future::join_all(sends).await {
            reply.uri();
            published.insert(id_of(&body), body);
        }
    }
    for n in (0..2000).step_by(7) {
        let body = page_entry(n, 2);
        api.publish(Some(&uri), &body).await.uri();
        published.insert(id_of(&body), body);
    }

    let pages = all_pages(&api, &items_path(&uri, "")).await;
    let mut seen = BTreeMap::new();
    for (i, p) in pages.iter().enumerate() {
        assert!(p.entries.len() <= DEFAULT_PAGE_ITEMS as usize);
        if p.next.is_some() {
            assert_eq!(
                p.entries.len(),
                DEFAULT_PAGE_ITEMS as usize,
                "page {i} is full"
            );
        }
        for e in &p.entries {
            assert!(
                seen.insert(id_of(e), e.clone()).is_none(),
                "{} twice",
                id_of(e)
            );
        }
    }
    assert_eq!(pages.len(), 2000usize.div_ceil(DEFAULT_PAGE_ITEMS as usize));
    assert_eq!(seen.len(), 2000, "every page of the namespace");
    for (id, body) in &published {
        assert_eq!(seen[id], strip_prolog(body), "{id} byte for byte");
    }
    // Newest first: the republished pages lead, the first page published comes last.
    assert_eq!(id_of(&pages[0].entries[0]), id_of(&page_entry(1995, 2)));
    let last = pages.last().unwrap().entries.last().unwrap();
    assert_ne!(id_of(last), id_of(&page_entry(1995, 2)));
    let metrics = api.send(get("/metrics")).await.body;
    assert!(
        metrics.contains("\nwikisync_gateway_items_dropped_total{by=\"gateway\"} 0\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn next_links_carry_the_node_the_page_size_and_an_opaque_cursor() {
    let api = api_with(Config {
        public_url: Some("https://gw.example.org/prefix".to_owned()),
        ..config()
    });
    let uri = api.create().await;
    for n in 0..5 {
        api.publish(Some(&uri), &page_entry(n, 1)).await.uri();
    }
    let first = page(&api, &items_path(&uri, "&max_items=2")).await;
    let next = first.next.unwrap();
    let prefix = format!(
        "https://gw.example.org/prefix/items?uri={}&max_items=2&after=",
        enc(&uri)
    );
    assert!(next.starts_with(&prefix), "{next}");
    let ids = |pages: &[Page]| -> Vec<String> {
        pages
            .iter()
            .flat_map(|p| p.entries.iter().map(|e| id_of(e)))
            .collect()
    };
    let pages = all_pages(&api, &items_path(&uri, "&max_items=2")).await;
    assert_eq!(
        pages.iter().map(|p| p.entries.len()).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    let expected: Vec<String> = (0..5).rev().map(|n| id_of(&page_entry(n, 1))).collect();
    assert_eq!(ids(&pages), expected, "newest first, across pages");
    // Idavoll's max_items keeps its meaning: the N newest.
    let newest = page(&api, &items_path(&uri, "&max_items=1")).await;
    assert_eq!(ids(std::slice::from_ref(&newest)), [expected[0].clone()]);
    // A page that holds the last item has no next link.
    let all = page(&api, &items_path(&uri, "&max_items=5")).await;
    assert_eq!((all.entries.len(), all.next), (5, None));
}

#[tokio::test]
async fn page_sizes_default_and_cap() {
    let api = api();
    let uri = api.create().await;
    let sends = (0..1100).map(|n| {
        let (api, uri) = (&api, &uri);
        async move {
            api.publish(Some(uri), &entry(&format!("urn:{n}"), "t"))
                .await
        }
    });
    for reply in futures_util::future::join_all(sends).await {
        reply.uri();
    }
    let default = page(&api, &items_path(&uri, "")).await;
    assert_eq!(default.entries.len(), DEFAULT_PAGE_ITEMS as usize);
    assert!(
        default
            .next
            .unwrap()
            .contains(&format!("max_items={DEFAULT_PAGE_ITEMS}&"))
    );
    let capped = page(&api, &items_path(&uri, "&max_items=1000000")).await;
    assert_eq!(capped.entries.len(), MAX_PAGE_ITEMS as usize);
    let rest = page(&api, &capped.next.unwrap()).await;
    assert_eq!((rest.entries.len(), rest.next), (100, None));
}

#[tokio::test]
async fn pages_stop_at_a_byte_budget_and_still_serve_everything() {
    let api = api();
    let uri = api.create().await;
    // Ten entries of almost a megabyte (the text is both title and content): more than one
    // page's byte budget.
    let big = |n: usize| entry(&format!("urn:big:{n}"), &"x".repeat(450 * 1024));
    for n in 0..10 {
        api.publish(Some(&uri), &big(n)).await.uri();
    }
    let pages = all_pages(&api, &items_path(&uri, "")).await;
    assert!(pages.len() >= 2, "cut by size, not by count");
    let ids: BTreeSet<String> = pages
        .iter()
        .flat_map(|p| p.entries.iter().map(|e| id_of(e)))
        .collect();
    assert_eq!(ids.len(), 10);
}

#[tokio::test]
async fn pages_neither_repeat_nor_skip_while_the_node_changes() {
    let api = api();
    let uri = api.create().await;
    // A subscriber from the start: what changes while paging reaches it as deliveries.
    assert_eq!(
        api.subscribe(&uri, "http://127.0.0.1:9/mirror")
            .await
            .status,
        204
    );
    for n in 0..300 {
        api.publish(Some(&uri), &page_entry(n, 1)).await.uri();
    }
    let before = api.store.outbox_len().await.unwrap();
    let id = |n: usize| id_of(&page_entry(n, 1));

    let mut served: Vec<String> = Vec::new();
    let mut target = items_path(&uri, "&max_items=40");
    let mut round = 0;
    loop {
        let p = page(&api, &target).await;
        served.extend(p.entries.iter().map(|e| id_of(e)));
        // Between pages: new pages, a page already served and one still to come edited, one
        // still to come deleted.
        api.publish(Some(&uri), &page_entry(1000 + round, 1))
            .await
            .uri();
        api.publish(Some(&uri), &page_entry(299 - round, 2))
            .await
            .uri();
        api.publish(Some(&uri), &page_entry(round, 2)).await.uri();
        let retract = format!("/publish?uri={}&item={}", enc(&uri), enc(&id(100 + round)));
        api.send(post(&retract, None, "")).await.uri();
        round += 1;
        match p.next {
            Some(next) => target = next,
            None => break,
        }
    }
    let unique: BTreeSet<&String> = served.iter().collect();
    assert_eq!(unique.len(), served.len(), "no item served twice");
    let changed = |n: usize| n < round || n >= 300 - round || (100..100 + round).contains(&n);
    for n in (0..300).filter(|&n| !changed(n)) {
        assert!(
            unique.contains(&id(n)),
            "{} was left alone and must be served",
            id(n)
        );
    }
    for r in 0..round {
        assert!(
            !unique.contains(&id(1000 + r)),
            "new items come by callback, not in pages"
        );
    }
    // Every change made while paging was queued for the subscriber.
    assert_eq!(
        api.store.outbox_len().await.unwrap(),
        before + 4 * round as u64
    );
}

#[tokio::test]
async fn bad_cursors_are_400_bad_cursor() {
    let api = api();
    let uri = api.create().await;
    for n in 0..3 {
        api.publish(Some(&uri), &page_entry(n, 1)).await.uri();
    }
    for bad in [
        "",
        "x",
        "s",
        "s-1",
        "s1x",
        "s99999999999999999999",
        "r0",
        "rzz",
        "i",
        "iff",
    ] {
        api.send(get(&items_path(&uri, &format!("&after={}", enc(bad)))))
            .await
            .assert_error_for(bad, 400, "bad_cursor");
    }
    // A cursor of another listing (a node read from another service) does not fit this node.
    api.send(get(&items_path(&uri, "&after=r6162")))
        .await
        .assert_error(400, "bad_cursor");
    // A well-formed cursor past the oldest item is simply an empty last page.
    let empty = page(&api, &items_path(&uri, "&after=s1")).await;
    assert_eq!((empty.entries.len(), empty.next), (0, None));
}
