<?php
declare(strict_types=1);

namespace WikiSync\Tests;

use PHPUnit\Framework\TestCase;

/**
 * The IDE stub (stubs/wikisync.stub.php) declares exactly the classes, parents, methods and
 * parameters of the loaded extension, so it cannot go stale: update it when this fails.
 */
final class StubTest extends TestCase
{
    /** What the stub declares: class => [parent, [method => signature]]. */
    private static function fromStub(): array
    {
        $code = (string) file_get_contents(dirname(__DIR__) . '/stubs/wikisync.stub.php');
        $tokens = array_values(array_filter(
            \PhpToken::tokenize($code),
            fn (\PhpToken $t) => !$t->is([T_WHITESPACE, T_COMMENT, T_DOC_COMMENT]),
        ));
        $out = [];
        $namespace = '';
        $class = null;
        $n = count($tokens);
        for ($i = 0; $i < $n; $i++) {
            $t = $tokens[$i];
            if ($t->is(T_NAMESPACE)) {
                $namespace = $tokens[$i + 1]->text;
            } elseif ($t->is(T_CLASS)) {
                $class = ltrim($namespace . '\\' . $tokens[$i + 1]->text, '\\');
                $parent = $tokens[$i + 2]->is(T_EXTENDS) ? ltrim($tokens[$i + 3]->text, '\\') : null;
                $out[$class] = [$parent, []];
            } elseif ($t->is(T_FUNCTION) && $class !== null) {
                $static = $tokens[$i - 1]->is(T_STATIC);
                $name = $tokens[$i + 1]->text;
                if ($name === '__construct') {
                    continue; // every Rust class has one (it refuses instantiation)
                }
                $params = [];
                $optional = 0;
                $depth = 0;
                for ($j = $i + 2; $j < $n; $j++) {
                    $text = $tokens[$j]->text;
                    if ($text === '(' || $text === '[') {
                        $depth++;
                    } elseif ($text === ')' || $text === ']') {
                        $depth--;
                        if ($depth === 0) {
                            break;
                        }
                    } elseif ($tokens[$j]->is(T_VARIABLE) && $depth === 1) {
                        $params[] = $text;
                    } elseif ($text === '=' && $depth === 1) {
                        $optional++;
                    }
                }
                $out[$class][1][strtolower($name)] = self::signature($static, $name, $params, $optional);
            }
        }
        return $out;
    }

    private static function signature(bool $static, string $name, array $params, int $optional): string
    {
        return ($static ? 'static ' : '') . $name . '(' . implode(', ', $params) . ") optional=$optional";
    }

    /** What the loaded extension declares, in the same form. */
    private static function fromExtension(): array
    {
        $out = [];
        foreach ((new \ReflectionExtension('wikisync'))->getClasses() as $class) {
            $methods = [];
            foreach ($class->getMethods() as $m) {
                if ($m->getDeclaringClass()->getName() !== $class->getName() || $m->getName() === '__construct') {
                    continue;
                }
                $params = array_map(fn ($p) => '$' . $p->getName(), $m->getParameters());
                $optional = $m->getNumberOfParameters() - $m->getNumberOfRequiredParameters();
                $methods[strtolower($m->getName())] = self::signature($m->isStatic(), $m->getName(), $params, $optional);
            }
            $parent = $class->getParentClass();
            $out[$class->getName()] = [$parent ? $parent->getName() : null, $methods];
        }
        return $out;
    }

    public function testStubMatchesTheExtension(): void
    {
        $stub = self::fromStub();
        $ext = self::fromExtension();
        ksort($stub);
        ksort($ext);
        foreach ([&$stub, &$ext] as &$side) {
            foreach ($side as &$class) {
                ksort($class[1]);
            }
        }
        unset($side, $class);
        $this->assertSame($ext, $stub, 'stubs/wikisync.stub.php is stale: update it');
        $this->assertArrayHasKey('WikiSync\\Sync', $ext);
        $this->assertCount(12, $ext, 'six API classes and six exception classes');
    }
}
