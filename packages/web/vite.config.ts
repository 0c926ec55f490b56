import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// The studio reads @wharf/client and @wharf/contract from their TypeScript source (the `@wharf/source`
// export condition), so building it needs no build of theirs first. `npm run dev` proxies the API to a
// server on WHARF_DEV_API (default http://127.0.0.1:5050).
export default defineConfig({
  plugins: [react()],
  resolve: { conditions: ['@wharf/source', 'browser', 'module', 'import', 'default'] },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 900 },
  server: {
    proxy: { '/api': { target: process.env.WHARF_DEV_API ?? 'http://127.0.0.1:5050', changeOrigin: false } },
  },
})
