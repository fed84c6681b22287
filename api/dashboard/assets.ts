// The files the dashboard's pages load, each mapped by name to one exact file: Chart.js and
// Mermaid from their npm packages' browser builds, and the dashboard's own script and styles.
// Nothing comes from a CDN, and no request path ever reaches the file system.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

const JS = 'text/javascript; charset=utf-8';

const ASSETS = new Map<string, { file: string; type: string }>([
  // chart.js resolves to dist/chart.cjs; its UMD build lies beside it.
  ['chart.umd.min.js', { file: join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), type: JS }],
  ['mermaid.min.js', { file: require.resolve('mermaid/dist/mermaid.min.js'), type: JS }],
  ['dashboard.js', { file: join(__dirname, 'browser', 'dashboard.js'), type: JS }],
  ['dashboard.css', { file: join(__dirname, 'browser', 'dashboard.css'), type: 'text/css; charset=utf-8' }],
]);

export const assetNames = [...ASSETS.keys()];

const assetParams = z.object({ name: z.string() });

/** `GET /dashboard/assets/:name`: public, as they hold code and styles, no data. Read once, then served from memory. */
export function registerAssets(app: FastifyInstance): void {
  const loaded = new Map<string, Promise<Buffer>>();
  app.get<{ Params: { name: string } }>(
    '/dashboard/assets/:name',
    { config: { scope: 'public', doc: { summary: "The dashboard's scripts and styles (Chart.js, Mermaid, its own)", params: assetParams, responses: { 200: 'the file', 404: `not one of ${assetNames.join(', ')}` } } } },
    async (request, reply) => {
      const asset = ASSETS.get(request.params.name);
      if (!asset) return reply.code(404).send({ error: 'not_found', message: `no dashboard asset ${request.params.name}: there are ${assetNames.join(', ')}` });
      let body = loaded.get(asset.file);
      if (!body) {
        const file = asset.file;
        body = readFile(file).catch((err: unknown) => {
          loaded.delete(file);
          throw err;
        });
        loaded.set(asset.file, body);
      }
      return reply.type(asset.type).header('cache-control', 'public, max-age=3600').header('x-content-type-options', 'nosniff').send(await body);
    },
  );
}
