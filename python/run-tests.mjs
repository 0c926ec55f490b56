// The Python half of `npm test`: the Python SDK's lint (ruff), types (mypy --strict) and tests (pytest,
// against real servers the tests start from packages/cli/dist), in a virtualenv at .venv-py that is
// made on first use and refreshed when python/pyproject.toml changes. Without python3 (or its venv
// module) it prints why it skips; in CI (CI=true) that is a failure.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const pythonDir = path.dirname(fileURLToPath(import.meta.url))
const root = path.dirname(pythonDir)
const venv = process.env.WHARF_PYTHON_VENV ?? path.join(root, '.venv-py')
const bin = (name) => path.join(venv, 'bin', name)
const started = Date.now()

function run(command, args, options = {}) {
  console.log(`$ ${path.relative(root, command) || command} ${args.join(' ')}`)
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: options.cwd ?? root })
  if (result.error) throw result.error
  return result.status ?? 1
}

function skip(reason) {
  if (process.env.CI === 'true') {
    console.error(`python tests cannot run: ${reason}`)
    process.exit(1)
  }
  console.log(`skipped: the Python SDK tests (${reason})`)
  process.exit(0)
}

const python3 = process.env.WHARF_PYTHON ?? 'python3'
const probe = spawnSync(python3, ['-c', 'import sys, venv; print(sys.version_info >= (3, 10))'], { encoding: 'utf8' })
if (probe.error || probe.status !== 0) skip(`${python3} with its venv module is not installed`)
if (probe.stdout.trim() !== 'True') skip(`${python3} is older than 3.10`)

// What the venv holds: the SDK with its test tools, and the real MLflow client with scikit-learn for the
// MLflow-compatibility tests (python/tests_mlflow/requirements.txt). A hash of pyproject.toml tells when to install again.
const mlflowRequirements = path.join(pythonDir, 'tests_mlflow', 'requirements.txt')
const wanted = createHash('sha256')
  .update(readFileSync(path.join(pythonDir, 'pyproject.toml')))
  .update(readFileSync(mlflowRequirements))
  .digest('hex')
const stamp = path.join(venv, '.wharf-installed')
if (!existsSync(bin('python')) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== wanted) {
  console.log(`== making the Python virtualenv ${path.relative(root, venv)} (first run: a few minutes of downloads from PyPI)`)
  if (!existsSync(bin('python')) && run(python3, ['-m', 'venv', venv]) !== 0) skip(`${python3} -m venv failed`)
  const pipArgs = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
  if (run(bin('python'), [...pipArgs, '--editable', `${pythonDir}[test]`, '--requirement', mlflowRequirements]) !== 0) {
    console.error('pip install of ./python[test] and the MLflow client failed (is PyPI reachable?)')
    process.exit(1)
  }
  writeFileSync(stamp, wanted)
}

// The Python folders (not the README's examples, which are prose).
const sources = ['src', 'tests', 'tests_mlflow', 'bench'].filter((dir) => existsSync(path.join(pythonDir, dir)))
let failed = 0
failed += run(bin('ruff'), ['check', ...sources], { cwd: pythonDir })
failed += run(bin('ruff'), ['format', '--check', ...sources], { cwd: pythonDir })
failed += run(bin('mypy'), [], { cwd: pythonDir })
// The MLflow tests apart: their conftest.py and the SDK tests' share a module name.
failed += run(bin('mypy'), ['tests_mlflow'], { cwd: pythonDir })
failed += run(bin('pytest'), ['-q', '-p', 'no:cacheprovider', 'tests'], { cwd: pythonDir })
// Stock MLflow 3 (client, autolog, model loading) against Wharf's MLflow-compatible API.
failed += run(bin('pytest'), ['-q', '-p', 'no:cacheprovider', 'tests_mlflow'], { cwd: pythonDir })
console.log(`== python: ${failed === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s`)
process.exit(failed === 0 ? 0 : 1)
