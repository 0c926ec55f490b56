import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { WharfError } from '@wharf/contract'

/** Where a workspace is: server URL, workspace name, optional token, and which file said so. */
export interface WorkspaceConfig {
  url: string
  workspace: string
  token?: string
  /**
   * The interpreter of submitted `.py` scripts (`"python"` in the file; a relative path is taken from
   * the folder that holds `.wharf/`), so a project's virtualenv runs its scripts.
   */
  python?: string
  /** The config file read, or `environment` when only WHARF_TRACKING_URI was set. */
  source: string
}

/** The names looked for in each folder, in order. */
export const CONFIG_FILE_NAMES = [path.join('.wharf', 'config.json'), 'config.json'] as const

interface ConfigFile {
  url?: unknown
  trackingUri?: unknown
  workspace?: unknown
  token?: unknown
  python?: unknown
}

async function readConfigFile(file: string): Promise<ConfigFile | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return undefined
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `${file} is not valid JSON (${(cause as Error).message}); fix it or run "wharf workspace init" again`,
      { cause },
    )
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined
  const config = parsed as ConfigFile
  // A config.json of another tool (no url) is not ours: keep looking further up.
  return typeof config.url === 'string' || typeof config.trackingUri === 'string' ? config : undefined
}

function validUrl(raw: string, source: string): string {
  try {
    const url = new URL(raw)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)')
  } catch (cause) {
    throw new WharfError('INVALID_ARGUMENT', `"${raw}" (from ${source}) is not an http(s) URL of a Wharf server`, { cause })
  }
  return raw.replace(/\/+$/, '')
}

/**
 * Finds the workspace config: `.wharf/config.json`, then `config.json`, in `cwd` and each parent, with
 * `overrides` (from the environment or flags) taking precedence. Throws CONFIG_NOT_FOUND, saying how
 * to write one, when neither a file nor a URL is found.
 */
export async function findWorkspaceConfig(
  options: { cwd?: string; file?: string; overrides?: { url?: string; workspace?: string; token?: string } } = {},
): Promise<WorkspaceConfig> {
  const overrides = options.overrides ?? {}
  let found: { file: string; config: ConfigFile } | undefined
  if (options.file) {
    const config = await readConfigFile(path.resolve(options.file))
    if (!config) {
      throw new WharfError(
        'CONFIG_NOT_FOUND',
        `${options.file} is missing or has no "url"; write one with "wharf workspace init"`,
      )
    }
    found = { file: path.resolve(options.file), config }
  } else {
    let dir = path.resolve(options.cwd ?? process.cwd())
    for (;;) {
      for (const name of CONFIG_FILE_NAMES) {
        const file = path.join(dir, name)
        const config = await readConfigFile(file)
        if (config) {
          found = { file, config }
          break
        }
      }
      const parent = path.dirname(dir)
      if (found || parent === dir) break
      dir = parent
    }
  }
  const fileUrl = found ? ((found.config.url ?? found.config.trackingUri) as string) : undefined
  const rawUrl = overrides.url ?? fileUrl
  if (rawUrl === undefined) {
    throw new WharfError(
      'CONFIG_NOT_FOUND',
      `no Wharf workspace config in ${path.resolve(options.cwd ?? process.cwd())} or its parents. ` +
        'Write one with "wharf workspace init --url http://127.0.0.1:5050" (it creates .wharf/config.json), ' +
        'or set WHARF_TRACKING_URI to the server URL',
    )
  }
  const source = overrides.url !== undefined ? 'environment' : (found?.file ?? 'environment')
  const workspace = overrides.workspace ?? (typeof found?.config.workspace === 'string' ? found.config.workspace : 'default')
  const token = overrides.token ?? (typeof found?.config.token === 'string' ? found.config.token : undefined)
  const python = found ? pythonSetting(found.file, found.config.python) : undefined
  return {
    url: validUrl(rawUrl, source),
    workspace,
    ...(token !== undefined ? { token } : {}),
    ...(python !== undefined ? { python } : {}),
    source,
  }
}

/** The `python` setting of a config file: a command name as it is, a path made absolute from the project folder. */
function pythonSetting(file: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.trim() === '') {
    throw new WharfError(
      'INVALID_ARGUMENT',
      `"python" in ${file} must be an interpreter's name or path (e.g. ".venv/bin/python"); fix or remove it`,
    )
  }
  if (!value.includes('/') || path.isAbsolute(value)) return value
  // .wharf/config.json: the project folder is the one holding .wharf; config.json: its own folder.
  const folder = path.dirname(file)
  return path.resolve(path.basename(folder) === '.wharf' ? path.dirname(folder) : folder, value)
}
