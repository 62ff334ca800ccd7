/**
 * `npm run build` (after `build:console`): the production JavaScript in dist/ (the type check
 * is `npm run typecheck`).
 *
 * Each process is one ESM bundle, dist/<name>/main.js, run with plain `node` (no tsx loader):
 * the @bk/* workspaces are bundled in, every other package stays an import of node_modules
 * (native addons, and files packages read relative to themselves, keep working), so
 * dist/ runs from the checkout or image it was built in, beside its node_modules.
 *
 * Files read at run time relative to a module's own location (`new URL('../migrations',
 * import.meta.url)`): in each bundled module, `import.meta.url` is rewritten to that module's
 * path mirrored under dist/ (packages/catalog/src/db.ts -> dist/packages/catalog/src/db.ts),
 * and the files it reads are copied to the same mirrored place. Every module that uses
 * `import.meta.url` must be listed in RUNTIME_FILES, so a new one fails the build here
 * instead of in production.
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

/** Output name -> entry point. Each becomes dist/<name>/main.js. */
const ENTRIES: Record<string, string> = {
  api: 'apps/api/src/main.ts',
  worker: 'apps/worker/src/main.ts',
  cli: 'apps/cli/src/main.ts',
};

/**
 * Modules that use `import.meta.url`, with the files (or folders) they read relative to it,
 * copied to dist/ under the same relative paths. `optional`: may be absent (the module
 * copes, e.g. the libdeflate addon is only built where libdeflate-dev is installed).
 */
const RUNTIME_FILES: Record<string, { path: string; optional?: boolean }[]> = {
  // node-pg-migrate reads the SQL files at start-up.
  'packages/catalog/src/db.ts': [{ path: 'packages/catalog/migrations' }],
  // The node-gyp build of the gzip addon; without it gzip falls back to Node zlib (with a warning).
  'packages/libdeflate/src/index.ts': [{ path: 'packages/libdeflate/build/Release/gzip_binding.node', optional: true }],
  // Only resolves the zstd-napi package from here: found in node_modules above dist/.
  'packages/core/src/pipeline/zstd.ts': [],
  // The web console the API serves, built by Vite (`npm run build:console`, run by `npm run build` first).
  'apps/console/src/index.ts': [{ path: 'apps/console/dist' }],
};

const toPosix = (p: string) => p.split(sep).join('/');

/** Bundles @bk/* (and relative imports); leaves every other bare import to node_modules. */
const externalPackages: Plugin = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@bk/') ? undefined : { path: args.path, external: true }));
  },
};

/** Rewrites `import.meta.url` in each bundled module to its mirrored path under dist/. */
function mirroredImportMetaUrl(outDir: string, seen: Set<string>): Plugin {
  return {
    name: 'mirrored-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        const rel = toPosix(relative(root, args.path));
        if (rel.startsWith('..') || rel.includes('node_modules/')) return undefined;
        seen.add(rel);
        const fromOutput = toPosix(relative(outDir, join(dist, rel)));
        const url = `new URL(${JSON.stringify(fromOutput)}, import.meta.url).href`;
        return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
      });
    },
  };
}

/** The packages a bundle imports at run time, which must be production dependencies. */
function externalImports(metafile: Metafile): Set<string> {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) {
      if (!imp.external || imp.path.startsWith('node:') || builtinModules.includes(imp.path.split('/')[0] ?? '')) continue;
      const parts = imp.path.split('/');
      names.add(imp.path.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? imp.path));
    }
  }
  return names;
}

async function main(): Promise<void> {
  const started = Date.now();
  await rm(dist, { recursive: true, force: true });
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const prodDeps = new Set(Object.keys(pkg.dependencies ?? {}));
  const usesImportMeta = new Set<string>();
  const problems: string[] = [];

  const results = await Promise.all(
    Object.entries(ENTRIES).map(async ([name, entry]) => {
      const outDir = join(dist, name);
      const result = await build({
        absWorkingDir: root,
        entryPoints: [entry],
        outfile: join(outDir, 'main.js'),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        sourcemap: 'linked',
        metafile: true,
        logLevel: 'warning',
        plugins: [externalPackages, mirroredImportMetaUrl(outDir, usesImportMeta)],
      });
      for (const dep of externalImports(result.metafile)) {
        if (!prodDeps.has(dep))
          problems.push(`dist/${name}/main.js imports "${dep}", which is not in the root package.json's dependencies`);
      }
      return { name, result };
    }),
  );

  for (const rel of usesImportMeta) {
    if (!(rel in RUNTIME_FILES)) problems.push(`${rel} uses import.meta.url: list the files it reads in RUNTIME_FILES (scripts/build.ts)`);
  }
  for (const [module, files] of Object.entries(RUNTIME_FILES)) {
    if (!usesImportMeta.has(module)) continue;
    for (const file of files) {
      const from = join(root, file.path);
      if (!existsSync(from)) {
        if (file.optional) console.warn(`build: ${file.path} is missing (${module} copes without it); not copied`);
        else problems.push(`${file.path} (read by ${module}) is missing`);
        continue;
      }
      await mkdir(dirname(join(dist, file.path)), { recursive: true });
      await cp(from, join(dist, file.path), { recursive: true });
    }
  }
  if (problems.length > 0) {
    for (const p of problems) console.error(`build: ${p}`);
    // Nothing half-built for an image or a start script to pick up.
    await rm(dist, { recursive: true, force: true });
    process.exit(1);
  }
  // dist/ is ESM like the sources (the root package.json says so too; this keeps it so if copied alone).
  await writeFile(join(dist, 'package.json'), `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`);
  for (const { name, result } of results) {
    const bytes = Object.entries(result.metafile.outputs).find(([out]) => out.endsWith('main.js'))?.[1].bytes ?? 0;
    console.log(`dist/${name}/main.js  ${(bytes / 1024).toFixed(0)} KiB`);
  }
  console.log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await main();
