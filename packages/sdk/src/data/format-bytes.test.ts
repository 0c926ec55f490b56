import { describe, expect, it } from 'vitest'
import { formatBytes } from './format-bytes.js'

describe('formatBytes', () => {
  it('picks the binary unit by size, so small transfers are not 0.00 MiB and large ones not millions', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(5)).toBe('5 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1024)).toBe('1.0 KiB')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(200_005)).toBe('195 KiB')
    expect(formatBytes(23 * 1024 * 1024)).toBe('23.0 MiB')
    expect(formatBytes(52_615_981)).toBe('50.2 MiB')
    expect(formatBytes(1024 * 1024 - 1)).toBe('1.0 MiB')
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB')
  })
})
