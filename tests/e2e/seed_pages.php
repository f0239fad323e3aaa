<?php
/**
 * Creates pages in a DokuWiki instance through saveWikiText(), as an existing wiki would have
 * them (history, changelog, author), without any HTTP. Used by the end-to-end tests and the
 * benchmark to build a large namespace quickly.
 *
 * Usage: php seed_pages.php DOKU_DIR NAMESPACE COUNT [USER]
 */
if ($argc < 4) {
    fwrite(STDERR, "usage: php seed_pages.php DOKU_DIR NAMESPACE COUNT [USER]\n");
    exit(2);
}
[$dir, $ns, $count] = [$argv[1], $argv[2], (int)$argv[3]];
$user = $argv[4] ?? 'seeder';
define('DOKU_INC', rtrim($dir, '/') . '/');
define('NOSESSION', 1);
require_once DOKU_INC . 'inc/init.php';
$_SERVER['REMOTE_USER'] = $user;
$INPUT->server->set('REMOTE_USER', $user);
for ($i = 0; $i < $count; $i++) {
    $id = sprintf('%s:page%04d', $ns, $i);
    // varied content: UTF-8, CR/LF mixes, trailing spaces, markup that looks like XML
    $text = sprintf("====== Page %d ======\n\nGrüße aus Köln – 日本語 – page %d of %d.\r\n", $i, $i, $count)
        . str_repeat("  * item with <tag> & ]]> and **bold** $i\n", 1 + $i % 7)
        . ($i % 3 === 0 ? "\nNo final newline  " : "\n");
    saveWikiText($id, $text, "seeded page $i", false);
}
echo "$count\n";
