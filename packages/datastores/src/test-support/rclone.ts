import { execFile, spawnSync } from 'node:child_process'
import type { AzuriteInstance } from './azurite.js'

/** True when the `rclone` binary is on PATH (Debian package `rclone`). */
export function hasRclone(): boolean {
  return spawnSync('rclone', ['version'], { stdio: 'ignore' }).status === 0
}

/**
 * Environment that defines an rclone remote named `az` over an Azurite blob service, without a config
 * file. rclone 1.60 needs both `use_emulator` and the full endpoint URL for Azurite.
 */
export function rcloneAzuriteEnv(azurite: AzuriteInstance): Record<string, string> {
  return {
    RCLONE_CONFIG: '/dev/null',
    RCLONE_CONFIG_AZ_TYPE: 'azureblob',
    RCLONE_CONFIG_AZ_ACCOUNT: azurite.accountName,
    RCLONE_CONFIG_AZ_KEY: azurite.accountKey,
    RCLONE_CONFIG_AZ_ENDPOINT: azurite.endpoint,
    RCLONE_CONFIG_AZ_USE_EMULATOR: 'true',
  }
}

/** Runs rclone with the given environment added; resolves with its exit code and output. */
export function runRclone(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('rclone', args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}
