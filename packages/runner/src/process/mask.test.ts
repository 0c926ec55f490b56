import { describe, expect, it } from 'vitest'
import { maskSecrets } from './mask.js'

describe('maskSecrets', () => {
  it('masks every occurrence of each secret, in text and in bytes alike, and ignores an empty secret', () => {
    expect(maskSecrets('a tok b tok', ['tok', ''])).toBe('a *** b ***')
    expect(maskSecrets('nothing here', ['tok'])).toBe('nothing here')
    expect(maskSecrets('ünï tök ✓', ['tök'])).toBe('ünï *** ✓')
    const bytes = Buffer.concat([Buffer.from([0xff]), Buffer.from('xSECRETySECRET')])
    expect(
      maskSecrets(bytes, [Buffer.from('SECRET')]).equals(Buffer.concat([Buffer.from([0xff]), Buffer.from('x***y***')])),
    ).toBe(true)
    expect(maskSecrets('one two', ['one', 'two'])).toBe('*** ***')
  })
})
