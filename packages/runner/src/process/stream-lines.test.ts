import { describe, expect, it } from 'vitest'
import { StreamLines } from './stream-lines.js'

describe('StreamLines', () => {
  it('passes on whole lines only, holding a partial line until its end comes', () => {
    const out: string[] = []
    const lines = new StreamLines({ emit: (b) => out.push(b.toString()), holdMs: 10_000 })
    lines.push(Buffer.from('out 1'))
    expect(out).toEqual([])
    lines.push(Buffer.from('\nout 2\nout'))
    expect(out).toEqual(['out 1\nout 2\n'])
    lines.push(Buffer.from(' 3\rbar'))
    expect(out).toEqual(['out 1\nout 2\n', 'out 3\r'])
    lines.end()
    expect(out).toEqual(['out 1\nout 2\n', 'out 3\r', 'bar'])
  })

  it('passes on a partial line after a while, and a long one at once', async () => {
    const out: string[] = []
    const lines = new StreamLines({ emit: (b) => out.push(b.toString()), holdMs: 20, maxHeldBytes: 8 })
    lines.push(Buffer.from('12345'))
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(out).toEqual(['12345'])
    lines.push(Buffer.from('abcdefghij'))
    expect(out).toEqual(['12345', 'abcdefghij'])
  })

  it('keeps a line interleaving whole when two streams share one log', () => {
    const log: string[] = []
    const out = new StreamLines({ emit: (b) => log.push(b.toString()), holdMs: 10_000 })
    const err = new StreamLines({ emit: (b) => log.push(b.toString()), holdMs: 10_000 })
    out.push(Buffer.from('stdout text'))
    err.push(Buffer.from('stderr line\n'))
    out.push(Buffer.from('\n'))
    expect(log.join('')).toBe('stderr line\nstdout text\n')
  })
})
