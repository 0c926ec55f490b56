import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WharfError } from '@wharf/contract'
import { buildSubmitConfig, parseEnvFlags, parseInputFlag, parseOutputFlag, type SubmitFlags } from './commands/run.js'
import { runWharf } from './test-support/run-cli.js'

let project: string
beforeAll(async () => {
  project = await mkdtemp(path.join(tmpdir(), 'wharf-cli-args-'))
})
afterAll(async () => {
  await rm(project, { recursive: true, force: true })
})

function errorOf(call: () => unknown): WharfError {
  try {
    call()
  } catch (error) {
    if (error instanceof WharfError) return error
    throw error
  }
  throw new Error('did not throw')
}

describe('wharf run submit flags', () => {
  it('reads --input NAME=DATASTORE[:PATH][:download|mount], downloaded by default', () => {
    expect(parseInputFlag('DATA=workspaceblobstore:mnist/train:download').toConfig()).toEqual({
      name: 'DATA',
      datastore: 'workspaceblobstore',
      pathOnDatastore: 'mnist/train',
      mode: 'download',
      pathOnCompute: null,
      overwrite: false,
    })
    expect(parseInputFlag('ALL=raw').toConfig()).toMatchObject({ datastore: 'raw', pathOnDatastore: null, mode: 'download' })
    expect(parseInputFlag('X=raw:a:b').toConfig()).toMatchObject({ pathOnDatastore: 'a:b', mode: 'download' })
    expect(parseInputFlag('X=raw:mount').toConfig()).toMatchObject({ pathOnDatastore: null, mode: 'mount' })
  })

  it('refuses a bad --input with the expected format and a stable code', () => {
    for (const bad of ['raw', '=raw', 'DATA=', '1X=raw', 'A-B=raw', 'X=Raw:p', 'X=raw:../up', 'X=raw:p:upload']) {
      const error = errorOf(() => parseInputFlag(bad))
      expect(['INVALID_ARGUMENT', 'UNSAFE_PATH'], bad).toContain(error.code)
      expect(error.message, bad).toMatch(/--input/)
    }
    expect(errorOf(() => parseInputFlag('raw')).message).toMatch(/NAME=DATASTORE\[:PATH\]\[:download\|mount\]/)
    expect(errorOf(() => parseInputFlag('X=raw:p:upload')).message).toMatch(/--output DATASTORE\[:PATH\]=LOCALPATH/)
  })

  it('reads --output DATASTORE[:PATH]=LOCALPATH as an upload, and refuses other shapes', () => {
    expect(parseOutputFlag('models:runs/{runId}=outputs/model').toConfig()).toEqual({
      name: 'models_runs_runId',
      datastore: 'models',
      pathOnDatastore: 'runs/{runId}',
      mode: 'upload',
      pathOnCompute: 'outputs/model',
      overwrite: false,
    })
    expect(errorOf(() => parseOutputFlag('models')).message).toMatch(/DATASTORE\[:PATH\]=LOCALPATH/)
    expect(errorOf(() => parseOutputFlag('=out')).code).toBe('INVALID_ARGUMENT')
  })

  it('reads --env KEY=VALUE and refuses a pair without a key', () => {
    expect(parseEnvFlags(['A=1', 'B=x=y', 'C='])).toEqual({ A: '1', B: 'x=y', C: '' })
    expect(errorOf(() => parseEnvFlags(['=1'])).message).toMatch(/KEY=VALUE/)
    expect(errorOf(() => parseEnvFlags(['A'])).code).toBe('INVALID_ARGUMENT')
  })

  it('builds the config: the experiment defaults to the source folder name, inputs usable in the arguments', () => {
    const flags: SubmitFlags = {
      sourceDir: project,
      script: 'train.py',
      input: ['DATA=workspaceblobstore:mnist:download'],
      output: ['workspaceblobstore:models=outputs'],
      env: ['SEED=1'],
      name: 'first',
    }
    const { config, experiment } = buildSubmitConfig(flags, ['--data', '$WHARF_DATAREFERENCE_DATA'])
    expect(experiment).toBe(path.basename(project))
    expect(config.definition.command).toEqual(['train.py', '--data', '$WHARF_DATAREFERENCE_DATA'])
    expect(config.definition.dataReferences.map((r) => [r.name, r.mode])).toEqual([
      ['DATA', 'download'],
      ['workspaceblobstore_models', 'upload'],
    ])
    expect(config.displayName).toBe('first')
    const shell = buildSubmitConfig({ sourceDir: project, command: 'echo hi', experiment: 'e1' }, [])
    expect(shell.config.definition.command).toEqual(['/bin/sh', '-c', 'echo hi'])
  })

  it('refuses neither or both of --script and --command, arguments with --command, and a folder name that is no experiment name', () => {
    expect(errorOf(() => buildSubmitConfig({ sourceDir: project }, [])).message).toMatch(/--script FILE .* or --command/)
    expect(errorOf(() => buildSubmitConfig({ sourceDir: project, script: 'a.py', command: 'ls' }, [])).message).toMatch(
      /exclusive/,
    )
    expect(errorOf(() => buildSubmitConfig({ sourceDir: project, command: 'ls' }, ['-l'])).message).toMatch(
      /put them in the command/,
    )
    expect(errorOf(() => buildSubmitConfig({ sourceDir: path.join(project, 'my code'), script: 'a.py' }, [])).message).toMatch(
      /pass --experiment NAME/,
    )
  })
})

describe('wharf run as a command', () => {
  it('answers a usage mistake with its code and exit 2, never a stack trace', async () => {
    const result = await runWharf(['run', 'submit', '--script', 'a.py', '--command', 'ls'], { cwd: project })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^wharf: error: --script and --command are exclusive.*\[INVALID_ARGUMENT\]\n$/)
    const input = await runWharf(['run', 'submit', '--script', 'a.py', '--input', 'nope'], { cwd: project })
    expect(input.code).toBe(2)
    expect(input.stderr).toMatch(/NAME=DATASTORE\[:PATH\]\[:download\|mount\]/)
    expect(input.stderr).not.toMatch(/\n\s+at /)
  })
})
