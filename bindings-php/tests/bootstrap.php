<?php
// Test bootstrap: the extension must be loaded (php -d extension=/abs/path/libwikisync_php.so).
declare(strict_types=1);

if (!extension_loaded('wikisync')) {
    fwrite(STDERR, "the wikisync extension is not loaded: run phpunit as php -d extension=/abs/path/libwikisync_php.so /usr/bin/phpunit (scripts/test-php does)\n");
    exit(1);
}

require __DIR__ . '/Vectors.php';
