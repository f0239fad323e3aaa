#!/usr/bin/env bash
# Times `wikisync merge` against `git merge-file -p` on the same inputs and compares results.
#
# 1. The TARGETS.md case: a ~1.3 MB page (12,000 lines) with 200 + 200 scattered edits on the
#    two sides; both tools are timed on it (hyperfine when available, else a timing loop).
# 2. 50 generated case triples (line edits, same-paragraph sentence edits, neighbouring-word
#    edits): counts how many each tool merges cleanly, and whether wikisync's output is
#    identical to git's wherever git is clean.
#
# Usage: bench/merge-vs-git.sh            (from anywhere inside the repository)
# Needs: cargo, git, python3; installs hyperfine with apt-get when missing and running as root.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cargo build --release --quiet -p wikisync-cli
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
wikisync="$target_dir/release/wikisync"

if ! command -v hyperfine >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -qq hyperfine >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq hyperfine >/dev/null 2>&1; }) || true
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import os, random, sys
work = sys.argv[1]
rng = random.Random(20261121)
WORDS = ("wiki page sync mirror source edit draft lock merge conflict namespace revision "
         "author summary entry atom node publish site Grüße 東京").split()

def line(i):
    s = f"Line {i}:"
    while len(s) < 100:
        s += " " + rng.choice(WORDS)
    return s + "\n"

def write(d, base, ours, theirs):
    os.makedirs(d, exist_ok=True)
    for name, text in (("base", base), ("ours", ours), ("theirs", theirs)):
        with open(os.path.join(d, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)

# The big case: edits at lines 0 mod 4 (ours) and 2 mod 4 (theirs).
base = [line(i) for i in range(12000)]
ours, theirs = list(base), list(base)
for _ in range(200):
    i = rng.randrange(3000) * 4
    ours[i] = line(i).replace("Line", "Ours")
    j = rng.randrange(3000) * 4 + 2
    theirs[j] = line(j).replace("Line", "Theirs")
write(os.path.join(work, "big"), "".join(base), "".join(ours), "".join(theirs))

def sentence():
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 9))).capitalize() + "."

for k in range(50):
    kind = k % 3
    if kind == 0:
        # Small-alphabet line edits: clean merges, conflicts and near-conflicts.
        b = [rng.choice("abcde") + "\n" for _ in range(rng.randrange(3, 12))]
        def edit(lines):
            lines = list(lines)
            for _ in range(rng.randrange(1, 4)):
                at = rng.randrange(len(lines) + 1)
                op = rng.randrange(3)
                if op == 0 or at == len(lines):
                    lines.insert(at, rng.choice("abcdeXY") + "\n")
                elif op == 1:
                    del lines[at]
                else:
                    lines[at] = rng.choice("XYZ") + "\n"
            return lines
        write(os.path.join(work, f"case{k:02}"), "".join(b), "".join(edit(b)), "".join(edit(b)))
    else:
        # One DokuWiki paragraph (a single line) between other lines; ours and theirs rewrite
        # a sentence each: different sentences (kind 1) or the same sentence (kind 2).
        sents = [sentence() for _ in range(rng.randrange(4, 9))]
        i = rng.randrange(len(sents))
        j = (i + rng.randrange(1, len(sents))) % len(sents) if kind == 1 else i
        o, t = list(sents), list(sents)
        o[i] = sentence()
        t[j] = sentence()
        wrap = lambda s: "====== Title ======\n\n" + " ".join(s) + "\n\nFooter.\n"
        write(os.path.join(work, f"case{k:02}"), wrap(sents), wrap(o), wrap(t))
PY

big="$work/big"
echo "== 1.3 MB page: $(wc -c <"$big/base") bytes, $(wc -l <"$big/base") lines, 200 + 200 edits"
"$wikisync" merge "$big/ours" "$big/base" "$big/theirs" >"$work/w.out" && w_rc=0 || w_rc=$?
git merge-file -p "$big/ours" "$big/base" "$big/theirs" >"$work/g.out" && g_rc=0 || g_rc=$?
if cmp -s "$work/w.out" "$work/g.out" && [ "$w_rc" = "$g_rc" ]; then
    echo "output: identical to git (exit $g_rc)"
else
    echo "output: DIFFERENT from git (wikisync exit $w_rc, git exit $g_rc)"
fi

ms_per_run() { # command... → mean milliseconds over a timing loop
    local runs=50 start end
    for _ in 1 2 3; do "$@" >/dev/null || true; done
    start=$(date +%s%N)
    for _ in $(seq $runs); do "$@" >/dev/null || true; done
    end=$(date +%s%N)
    echo "scale=2; ($end - $start) / $runs / 1000000" | bc
}

if command -v hyperfine >/dev/null 2>&1; then
    hyperfine -N --warmup 5 --runs 50 -i --export-json "$work/h.json" \
        "$wikisync merge $big/ours $big/base $big/theirs" \
        "git merge-file -p $big/ours $big/base $big/theirs" >/dev/null 2>&1
    read -r w_ms g_ms < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(r[0]["mean"]*1000, r[1]["mean"]*1000)' "$work/h.json")
    how="hyperfine, 50 runs"
else
    w_ms=$(ms_per_run "$wikisync" merge "$big/ours" "$big/base" "$big/theirs")
    g_ms=$(ms_per_run git merge-file -p "$big/ours" "$big/base" "$big/theirs")
    how="timing loop, 50 runs"
fi
printf 'wikisync merge:     %.2f ms\ngit merge-file -p:  %.2f ms\nratio:              %.2fx git (%s)\n' \
    "$w_ms" "$g_ms" "$(echo "scale=4; $w_ms / $g_ms" | bc)" "$how"

echo "== 50 generated cases (line edits; sentence edits in one paragraph)"
git_clean=0 ws_clean=0 same=0 words_only=0
for d in "$work"/case*; do
    git merge-file -p "$d/ours" "$d/base" "$d/theirs" >"$d/g" && g=0 || g=$?
    "$wikisync" merge "$d/ours" "$d/base" "$d/theirs" >"$d/w" && w=0 || w=$?
    [ "$g" = 0 ] && git_clean=$((git_clean + 1))
    [ "$w" = 0 ] && ws_clean=$((ws_clean + 1))
    if [ "$g" = 0 ] && cmp -s "$d/g" "$d/w"; then same=$((same + 1)); fi
    if [ "$g" != 0 ] && [ "$w" = 0 ]; then words_only=$((words_only + 1)); fi
done
echo "git clean: $git_clean/50, wikisync clean: $ws_clean/50, identical output where git is clean: $same/$git_clean"
echo "merged cleanly by wikisync's word pass where git conflicts: $words_only"
