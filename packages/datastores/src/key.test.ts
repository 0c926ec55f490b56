import { describe, expect, it } from 'vitest'
import { isWharfError } from '@wharf/contract'
import { joinKey, keyProblemOf, toDatastoreKey, toKeyPrefix } from './key.js'

function rejection(run: () => unknown): { code: string; message: string } {
  try {
    run()
  } catch (error) {
    if (isWharfError(error)) return { code: error.code, message: error.message }
    throw error
  }
  throw new Error('expected a WharfError, but nothing was thrown')
}

describe('toDatastoreKey', () => {
  it.each([
    ['a', 'a'],
    ['a/b/c.txt', 'a/b/c.txt'],
    ['a\\b\\c.txt', 'a/b/c.txt'],
    ['a//b///c', 'a/b/c'],
    ['./a/b', 'a/b'],
    ['././a', 'a'],
    ['.//a', 'a'],
    ['a/b/', 'a/b'],
    ['a/b//', 'a/b'],
    ['.hidden/.env', '.hidden/.env'],
    ['a/..b/c..', 'a/..b/c..'],
    ['dir with space/file name.txt', 'dir with space/file name.txt'],
    ['données/日本語/😀.bin', 'données/日本語/😀.bin'],
    ['ab:c/d:e', 'ab:c/d:e'],
    ['x/C:/y', 'x/C:/y'],
  ])('normalises %j to %j', (raw, key) => {
    expect(toDatastoreKey(raw)).toBe(key)
  })

  it('is idempotent', () => {
    for (const raw of ['a\\b//c/', './x', 'données/a']) {
      const once = toDatastoreKey(raw)
      expect(toDatastoreKey(once)).toBe(once)
    }
  })

  it.each([
    ['', /empty/],
    ['/', /absolute/],
    ['./', /empty/],
    ['/etc/passwd', /absolute/],
    ['\\etc\\passwd', /absolute/],
    ['\\\\server\\share\\x', /absolute/],
    ['//a', /absolute/],
    ['..', /"\.\." segments/],
    ['../a', /"\.\." segments/],
    ['a/../b', /"\.\." segments/],
    ['a/..', /"\.\." segments/],
    ['a\\..\\..\\b', /"\.\." segments/],
    ['.', /"\." segments/],
    ['a/./b', /"\." segments/],
    ['a/.', /"\." segments/],
    ['C:', /drive letter/],
    ['C:/Windows', /drive letter/],
    ['c:\\x', /drive letter/],
    ['./C:/x', /drive letter/],
    ['a:b/c', /drive letter/],
    ['a\u0000b', /control character/],
    ['a\nb', /control character/],
    ['a\tb', /control character/],
    ['a\u007fb', /control character/],
    ['a\u0085b', /control character/],
    ['a\ud800b', /well-formed Unicode/],
    ['a/.wharf-tmp-123', /reserved/],
    [`${'é'.repeat(128)}`, /256 bytes of UTF-8; the limit is 255/],
    [`ok/${'x'.repeat(256)}`, /256 bytes/],
  ])('rejects %j with UNSAFE_PATH', (raw, rule) => {
    const { code, message } = rejection(() => toDatastoreKey(raw))
    expect(code).toBe('UNSAFE_PATH')
    expect(message).toMatch(rule)
    expect(message).toContain('the datastore key "')
  })

  it('names the input in the message, with control characters escaped', () => {
    expect(rejection(() => toDatastoreKey('../secret')).message).toContain('"../secret"')
    expect(rejection(() => toDatastoreKey('a\u0000b')).message).toContain('"a\\u0000b"')
  })

  it('accepts a segment of exactly 255 UTF-8 bytes', () => {
    const segment = `${'é'.repeat(127)}x`
    expect(Buffer.byteLength(segment)).toBe(255)
    expect(toDatastoreKey(`a/${segment}`)).toBe(`a/${segment}`)
  })

  it('rejects a value that is not a string', () => {
    expect(rejection(() => toDatastoreKey(42 as unknown as string)).code).toBe('UNSAFE_PATH')
  })
})

describe('toKeyPrefix', () => {
  it.each([
    ['', ''],
    ['./', ''],
    ['a', 'a'],
    ['a/b', 'a/b'],
    ['a/b/', 'a/b/'],
    ['a//b//', 'a/b/'],
    ['a\\b\\', 'a/b/'],
    ['./a/', 'a/'],
    ['.hid', '.hid'],
  ])('normalises %j to %j', (raw, prefix) => {
    expect(toKeyPrefix(raw)).toBe(prefix)
  })

  it.each(['/', '/a', '../', '..', 'a/../', 'a/..', 'a/./', '.', 'C:/', 'a\u0000', 'a/.wharf-tmp-x', 'a\ud800'])(
    'rejects %j with UNSAFE_PATH',
    (raw) => {
      const { code, message } = rejection(() => toKeyPrefix(raw))
      expect(code).toBe('UNSAFE_PATH')
      expect(message).toContain('the datastore prefix "')
    },
  )
})

describe('joinKey', () => {
  it('joins parts, each of which may hold folders', () => {
    expect(joinKey('ExperimentRun', 'run-1', 'outputs/model.pt')).toBe('ExperimentRun/run-1/outputs/model.pt')
    expect(joinKey('a\\b', 'c/')).toBe('a/b/c')
  })

  it.each([[['a', '..', 'b']], [['a', '/etc']], [['a', '']], [['a', '../b']], [[]]])('rejects %j with UNSAFE_PATH', (parts) => {
    expect(rejection(() => joinKey(...parts)).code).toBe('UNSAFE_PATH')
  })
})

describe('keyProblemOf', () => {
  it('finds no problem only in a name that is a key exactly as it is, and says what is wrong with the rest', () => {
    for (const name of ['file.txt', 'a/C:', 'a/b.txt', 'v1.']) expect(keyProblemOf(name), name).toBeUndefined()
    for (const name of [
      '',
      '.',
      'a/..',
      'a\\b',
      'a//b',
      'dir/',
      './a',
      'a\u0001',
      '.wharf-tmp-1',
      'x'.repeat(256),
      'C:',
      '/abs',
    ]) {
      expect(keyProblemOf(name), name).toEqual(expect.any(String))
    }
    expect(keyProblemOf('a\\b')).toBe('it contains "\\", a folder separator on Windows')
    expect(keyProblemOf('dir/.wharf-tmp-1')).toMatch(/reserved for uploads in progress/)
  })
})
