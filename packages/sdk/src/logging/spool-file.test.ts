import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  encodeSpoolLine,
  parseSpoolFileName,
  parseSpoolLine,
  readSpoolLines,
  spoolFilePath,
  type SpoolRecord,
} from './spool-file.js'
import { lockSpoolFile, unlockSpoolFile } from './spool-lock.js'
import { SpoolWriter } from './spool-writer.js'

const record = (sequence: number): SpoolRecord => ({
  runId: 'run/1 ü',
  workspace: 'team',
  writerId: 'w-1',
  sequence,
  series: [{ name: 'loss', values: [sequence, -0], times: [1, 2] }],
})

const dir = await mkdtemp(path.join(tmpdir(), 'wharf-spool-file-'))
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('a spool file', () => {
  it('is named after its run and writer, and the name gives them back, whatever the run id holds', () => {
    const file = spoolFilePath({ spoolDir: dir, runId: 'run/1.with dots', writerId: 'w_2-x' })
    expect(path.dirname(file)).toBe(dir)
    expect(parseSpoolFileName(path.basename(file))).toEqual({ runId: 'run/1.with dots', writerId: 'w_2-x' })
    expect(parseSpoolFileName('run.jsonl.lock')).toBeUndefined()
    expect(parseSpoolFileName('.w1.jsonl')).toBeUndefined()
    expect(parseSpoolFileName('run.bad%writer.jsonl')).toBeUndefined()
  })

  it('holds one record a line that reads back as written, -0 included, and says why a line is none', () => {
    const line = encodeSpoolLine(record(3))
    expect(line.endsWith('\n')).toBe(true)
    expect(line.slice(0, -1)).not.toContain('\n')
    const parsed = parseSpoolLine(line)
    expect(parsed).toEqual(record(3))
    expect(Object.is((parsed as SpoolRecord).series[0]?.values?.[1], -0)).toBe(true)
    expect(parseSpoolLine('{"runId":"r","writerId":"w","sequence":-1,"series":[]}')).toBe('no valid sequence')
    expect(parseSpoolLine('{"runId":"r","writerId":"w.x","sequence":1,"series":[]}')).toBe('no valid writerId')
    expect(parseSpoolLine('{"runId":')).toMatch(/^not JSON/)
    // An old line without a workspace belongs to the default one.
    expect(parseSpoolLine('{"runId":"r","writerId":"w","sequence":0,"series":[]}')).toMatchObject({ workspace: 'default' })
  })

  it('is read line by line between byte offsets, with a last line cut off mid-write marked incomplete', async () => {
    const file = path.join(dir, 'lines.jsonl')
    const lines = [encodeSpoolLine(record(0)), encodeSpoolLine(record(1)), encodeSpoolLine(record(2)).slice(0, 25)]
    await writeFile(file, lines.join(''))
    const all = []
    for await (const line of readSpoolLines(file)) all.push(line)
    expect(all.map((line) => line.complete)).toEqual([true, true, false])
    expect(all.map((line) => line.text)).toEqual([lines[0]?.slice(0, -1), lines[1]?.slice(0, -1), lines[2]])
    const second = all[1]!
    const ranged = []
    for await (const line of readSpoolLines(file, { start: second.start, end: second.end })) ranged.push(line)
    expect(ranged).toEqual([second])
  })

  it('is appended to by one writer at a time, under a lock the writer releases', () => {
    const file = spoolFilePath({ spoolDir: path.join(dir, 'writer'), runId: 'run', writerId: 'w1' })
    const writer = SpoolWriter.open(file)
    expect(() => SpoolWriter.open(file)).toThrow(/in use in this process; give every logger its own writerId/)
    writer.append([record(0), record(1)])
    expect(writer.written).toBe(Buffer.byteLength(encodeSpoolLine(record(0)) + encodeSpoolLine(record(1))))
    writer.close({ remove: false })
    expect(() => writer.append([record(2)])).toThrow(/already closed/)
    // Released: someone else may take the file now, and a reopened writer appends after what is there.
    expect(lockSpoolFile(file)).toEqual({ locked: true })
    unlockSpoolFile(file)
    const reopened = SpoolWriter.open(file)
    expect(reopened.written).toBe(writer.written)
    reopened.close({ remove: true })
    expect(existsSync(file)).toBe(false)
    expect(existsSync(`${file}.lock`)).toBe(false)
  })
})
