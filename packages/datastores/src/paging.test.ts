import { describe, expect, it } from 'vitest'
import { resumeInFolder } from './paging.js'

describe('resumeInFolder', () => {
  it('walks a folder whole, skips it, or resumes inside it, by where the last key was', () => {
    expect(resumeInFolder('b/', undefined)).toEqual({ after: undefined })
    expect(resumeInFolder('b/', 'b/c/d.txt')).toEqual({ after: 'b/c/d.txt' })
    expect(resumeInFolder('b/', 'c.txt')).toBe('skip')
    expect(resumeInFolder('b/', 'a.txt')).toEqual({ after: undefined })
    // UTF-8 byte order: "/" (0x2F) sorts before "0" (0x30), so every key in "a/" comes before "a0".
    expect(resumeInFolder('a/', 'a0')).toBe('skip')
    expect(resumeInFolder('a0/', 'a/z')).toEqual({ after: undefined })
  })
})
