import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { audit, getBackup } from '@bk/catalog';
import { ConflictError, ForbiddenError, NotFoundError, codecExtension } from '@bk/core';
import { type Platform, loadManifest, openObject } from '@bk/platform';
import { ZipArchive } from 'archiver';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { hasScope } from '../plugins/auth.ts';
import { errorSchema, idParam } from '../schemas.ts';

/**
 * `GET /v1/backups/{id}/download`: one zip of the manifest and the stored objects, as
 * stored (zip "store" method: they are compressed already), streamed one object at a time,
 * never buffered whole. `?decrypt=true` gives the decrypted, decompressed files instead
 * (COPY text, pg_dump archives), each verified against its SHA-256 while it streams.
 */
export function downloadRoutes(platform: Platform): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/backups/:id/download',
      {
        schema: {
          tags: ['backups'],
          summary: 'Download a backup as one zip (streamed)',
          params: idParam,
          querystring: z.object({ decrypt: z.enum(['true', 'false']).default('false') }).strict(),
          // 200 is a streamed application/zip body (not JSON; never serialised).
          response: {
            200: z.unknown().describe('application/zip'),
            401: errorSchema,
            403: errorSchema,
            404: errorSchema,
            409: errorSchema,
          },
        },
      },
      async (req, reply) => {
        // Plain data is what a restore would write: it needs the restore scope (checked first).
        if (req.query.decrypt === 'true' && !hasScope(req.principal, 'restore'))
          throw new ForbiddenError('?decrypt=true needs the "restore" scope');
        const b = await getBackup(platform.db, req.params.id);
        if (!b) throw new NotFoundError(`backup ${req.params.id} not found`);
        if (b.status !== 'succeeded')
          throw new ConflictError(`backup ${b.id} is ${b.status}; only succeeded backups can be downloaded`, 'backup_not_downloadable');
        const { manifest, dataKey } = await loadManifest(platform, b.id).catch((e: unknown) => {
          throw new ConflictError(`backup ${b.id} cannot be read: ${(e as Error).message}`, 'backup_unreadable');
        });
        const decrypt = req.query.decrypt === 'true';
        await audit(platform.db, {
          actor: req.principal?.actor ?? 'anonymous',
          action: 'backup.download',
          target: b.id,
          address: req.ip,
          outcome: 'ok',
          details: { decrypt },
        });

        const archive = new ZipArchive({ store: true });
        const out = new PassThrough();
        // A client that goes away must release the object being read (its S3 socket) and
        // stop the loop below; otherwise every cancelled download would hold a connection.
        const stop = new AbortController();
        let current: Readable | undefined;
        let finished = false;
        out.on('close', () => {
          if (finished) return;
          stop.abort(new Error('download interrupted by the client'));
          current?.destroy();
          archive.abort();
        });
        archive.on('error', (e: Error) => out.destroy(e));
        archive.pipe(out);
        const relative = (key: string) => key.slice(b.storagePrefix.length);
        const entryWritten = () => once(archive, 'entry', { signal: stop.signal });
        const fill = async () => {
          archive.append(`${JSON.stringify(manifest, null, 2)}\n`, { name: 'manifest.json' });
          await entryWritten();
          for (const obj of manifest.objects) {
            // One object at a time: the next GET starts when the previous entry is written.
            let name = relative(obj.key);
            if (decrypt) {
              current = (await openObject(platform, obj, dataKey, stop.signal)).stream;
              const ext = codecExtension(obj.compression.codec);
              if (ext && name.endsWith(ext)) name = name.slice(0, -ext.length);
            } else {
              current = await platform.store.get(obj.key, { signal: stop.signal });
            }
            archive.append(current, { name });
            await entryWritten();
          }
          await archive.finalize();
          finished = true;
        };
        fill().catch((e: unknown) => {
          if (stop.signal.aborted) return;
          req.log.error({ err: e, backupId: b.id }, 'download failed midway');
          // The client sees a truncated zip and a broken connection, never a complete-looking file.
          out.destroy(e as Error);
          archive.abort();
        });
        const suffix = decrypt ? '-decrypted' : '';
        return reply
          .header('content-type', 'application/zip')
          .header('content-disposition', `attachment; filename="${b.id}${suffix}.zip"`)
          .send(out);
      },
    );
  };
}
