import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { answers, freePort } from '@wharf/datastores/test-support'

/** The line a test prints when it needs nginx and the machine has none. */
export const NGINX_SKIP_LINE = 'skipped: nginx not installed (apt-get install -y nginx)'

/** nginx balancing round robin over server replicas. */
export interface LoadBalancer {
  /** `http://127.0.0.1:PORT`, the address clients use instead of a replica's. */
  url: string
  /** Stops nginx (by its PID) and removes its folder. */
  stop(): Promise<void>
}

/** The nginx binary (Debian's package puts it in /usr/sbin), or undefined when it is not installed. */
export function nginxBinary(): string | undefined {
  const folders = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin']
  return folders
    .filter((folder) => folder !== '')
    .map((folder) => path.join(folder, 'nginx'))
    .find((file) => existsSync(file))
}

/**
 * Starts nginx as a child process (`daemon off`, its config, PID file, logs and temp files in a fresh
 * folder) in front of `upstreams` (URLs of the replicas), round robin, streaming request and response
 * bodies as a team's proxy would. Throws when nginx is missing (check {@link nginxBinary} first) or does
 * not answer within 10 s, with its error log.
 */
export async function startNginx(options: { upstreams: readonly string[] }): Promise<LoadBalancer> {
  const binary = nginxBinary()
  if (binary === undefined) throw new Error(NGINX_SKIP_LINE)
  const prefix = await mkdtemp(path.join(tmpdir(), 'wharf-nginx-'))
  const port = await freePort()
  const servers = options.upstreams.map((url) => `    server ${new URL(url).host};`).join('\n')
  const config = `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream wharf {
${servers}
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    location / {
      proxy_pass http://wharf;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_request_buffering off;
      proxy_buffering off;
      # A request is sent to one replica only: a retry elsewhere would send an upload twice.
      proxy_next_upstream off;
    }
  }
}
`
  const file = path.join(prefix, 'nginx.conf')
  await writeFile(file, config)
  const child = spawn(binary, ['-p', prefix, '-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM')
      await exited
    }
    await rm(prefix, { recursive: true, force: true })
  }
  const deadline = Date.now() + 10_000
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = await readFile(path.join(prefix, 'error.log'), 'utf8').catch(() => '')
      await stop()
      throw new Error(`nginx did not start on port ${port}: ${stderr}${log}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { url: `http://127.0.0.1:${port}`, stop }
}
