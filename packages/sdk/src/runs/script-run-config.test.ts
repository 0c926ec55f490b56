import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejectionOf, thrownCodeOf } from '@wharf/contract/test-support'
import { DataReference } from '../data/data-reference.js'
import { Estimator } from './estimator.js'
import { ScriptRunConfig } from './script-run-config.js'

let source: string
const data = new DataReference({ datastore: 'data', pathOnDatastore: 'mnist' })

beforeAll(async () => {
  source = await mkdtemp(path.join(tmpdir(), 'wharf-src-'))
  await mkdir(path.join(source, 'src'))
  await writeFile(path.join(source, 'src', 'train.py'), 'print(1)\n')
})
afterAll(async () => {
  await rm(source, { recursive: true, force: true })
})

describe('ScriptRunConfig', () => {
  it('builds the definition of a script run: the script relative to the source, arguments as text, references collected', () => {
    const out = new DataReference({ datastore: 'models', dataReferenceName: 'OUT' }).asUpload({ pathOnCompute: 'outputs' })
    const config = new ScriptRunConfig({
      sourceDirectory: source,
      script: path.join(source, 'src', 'train.py'),
      arguments: ['--data', data, '--epochs', 3, '--out', out],
      inputs: [data, new DataReference({ datastore: 'data' }).asDownload({ overwrite: true })],
      environmentVariables: { SEED: '7' },
      python: '/usr/bin/python3',
      displayName: 'first',
      tags: { team: 'vision' },
    })
    expect(config.definition).toEqual({
      script: 'src/train.py',
      command: [
        'src/train.py',
        '--data',
        '$WHARF_DATAREFERENCE_data_mnist',
        '--epochs',
        '3',
        '--out',
        '$WHARF_DATAREFERENCE_OUT',
      ],
      dataReferences: [
        data.toConfig(),
        out.toConfig(),
        { ...new DataReference({ datastore: 'data' }).toConfig(), mode: 'download', overwrite: true },
      ],
      environmentVariables: { SEED: '7' },
      python: '/usr/bin/python3',
      maxRunDurationSeconds: 2_592_000,
    })
    const request = config.toSubmitRequest({ experiment: 'mnist' })
    expect(request).toMatchObject({
      experiment: 'mnist',
      sourceDirectory: source,
      computeTarget: 'local',
      displayName: 'first',
      tags: { team: 'vision' },
    })
    expect(request.definition.sourceDirectoryDataStore).toBeUndefined()
  })

  it('runs a string command through /bin/sh -c and an argv as given', () => {
    const shell = new ScriptRunConfig({ sourceDirectory: source, command: 'ls -la | wc -l', sourceDirectoryDataStore: 'code' })
    expect(shell.definition).toMatchObject({
      script: null,
      command: ['/bin/sh', '-c', 'ls -la | wc -l'],
      sourceDirectoryDataStore: 'code',
    })
    const argv = new ScriptRunConfig({ sourceDirectory: source, command: ['node', 'x.js', data.asDownload()] })
    expect(argv.definition.command).toEqual(['node', 'x.js', '$WHARF_DATAREFERENCE_data_mnist'])
    expect(argv.definition.dataReferences[0]?.mode).toBe('download')
  })

  it('refuses script with command, neither, arguments with command, and targets other than local', () => {
    expect(thrownCodeOf(() => new ScriptRunConfig({ sourceDirectory: source }))).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => new ScriptRunConfig({ sourceDirectory: source, script: 'a.py', command: ['ls'] }))).toBe(
      'INVALID_ARGUMENT',
    )
    expect(thrownCodeOf(() => new ScriptRunConfig({ sourceDirectory: source, command: ['ls'], arguments: ['-l'] }))).toBe(
      'INVALID_ARGUMENT',
    )
    expect(thrownCodeOf(() => new ScriptRunConfig({ sourceDirectory: source, command: [] }))).toBe('INVALID_ARGUMENT')
    expect(() => new ScriptRunConfig({ sourceDirectory: source, script: 'a.py', computeTarget: 'gpu-cluster' })).toThrow(
      /only 'local'/,
    )
  })

  it('refuses a script outside the source, two references of one name, bad variables and durations', () => {
    expect(thrownCodeOf(() => new ScriptRunConfig({ sourceDirectory: source, script: '../x.py' }))).toBe('INVALID_ARGUMENT')
    const clash = () =>
      new ScriptRunConfig({ sourceDirectory: source, script: 'a.py', arguments: [data], inputs: [data.asDownload()] })
    expect(clash).toThrow(/two different data references are named "data_mnist"/)
    // The same reference twice is one reference.
    expect(
      new ScriptRunConfig({ sourceDirectory: source, script: 'a.py', arguments: [data], inputs: [data] }).definition
        .dataReferences,
    ).toHaveLength(1)
    expect(
      thrownCodeOf(() => new ScriptRunConfig({ sourceDirectory: source, script: 'a.py', outputs: [data.asDownload()] })),
    ).toBe('INVALID_ARGUMENT')
    expect(
      thrownCodeOf(() => new ScriptRunConfig({ sourceDirectory: source, script: 'a.py', environmentVariables: { '1X': 'a' } })),
    ).toBe('INVALID_ARGUMENT')
    expect(
      thrownCodeOf(
        () => new ScriptRunConfig({ sourceDirectory: source, script: 'a.py', environmentVariables: { WHARF_RUN_ID: 'a' } }),
      ),
    ).toBe('INVALID_ARGUMENT')
    expect(thrownCodeOf(() => new ScriptRunConfig({ sourceDirectory: source, script: 'a.py', maxRunDurationSeconds: 0 }))).toBe(
      'INVALID_ARGUMENT',
    )
    expect(thrownCodeOf(() => new ScriptRunConfig({ sourceDirectory: source, script: 'a.py', arguments: [Number.NaN] }))).toBe(
      'INVALID_ARGUMENT',
    )
  })

  it('says at submit time which of the source folder and the script is missing', async () => {
    await new ScriptRunConfig({ sourceDirectory: source, script: 'src/train.py' }).checkSource()
    const noScript = await rejectionOf(
      new ScriptRunConfig({ sourceDirectory: source, script: 'train.py' }).checkSource(),
      'FILE_NOT_FOUND',
    )
    expect(noScript.message).toMatch(/script "train.py" is not a file in the source directory/)
    const noFolder = await rejectionOf(
      new ScriptRunConfig({ sourceDirectory: path.join(source, 'nope'), command: 'true' }).checkSource(),
      'FILE_NOT_FOUND',
    )
    expect(noFolder.message).toMatch(/does not exist/)
  })
})

describe('Estimator', () => {
  it('makes script params --name value arguments of a ScriptRunConfig, data references collected', () => {
    const estimator = new Estimator({
      sourceDirectory: source,
      entryScript: 'src/train.py',
      scriptParams: { '--data-folder': data, lr: 0.1 },
      inputs: [new DataReference({ datastore: 'extra' }).asDownload()],
      environmentVariables: { A: 'b' },
    })
    expect(estimator.definition.command).toEqual([
      'src/train.py',
      '--data-folder',
      '$WHARF_DATAREFERENCE_data_mnist',
      '--lr',
      '0.1',
    ])
    expect(estimator.definition.dataReferences.map((r) => r.name)).toEqual(['data_mnist', 'extra'])
    expect(estimator.toScriptRunConfig().computeTarget).toBe('local')
  })

  it("refuses compute targets other than 'local', saying only local exists today", () => {
    expect(() => new Estimator({ sourceDirectory: source, entryScript: 'src/train.py', computeTarget: 'aml-cluster' })).toThrow(
      /only 'local' \(this machine\) exists today/,
    )
    expect(thrownCodeOf(() => new Estimator({ sourceDirectory: source, entryScript: '' }))).toBe('INVALID_ARGUMENT')
  })
})
