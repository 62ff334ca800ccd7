import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { interpolate } from './interpolate.ts';
import { type Codec, type Config, codecSchema, configSchema } from './schema.ts';

/** A configuration problem; the message names the key and what is wrong with it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** YAML text to use instead of reading `BACKUP_CONFIG` (tests). */
  yamlText?: string;
  /** Base directory for relative paths (file:// storage); default process.cwd(). */
  cwd?: string;
}

/**
 * Loads the YAML file named by `BACKUP_CONFIG` (default `backup.config.yaml`; a missing
 * default file is fine, a missing named file is not), interpolates `${VAR}`, applies the
 * environment overrides from SPEC's stable interface, validates everything once and
 * returns a deeply frozen object.
 */
export function loadConfig(opts: LoadConfigOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  let doc: unknown = {};
  if (opts.yamlText !== undefined) {
    doc = parseYamlText(opts.yamlText, '(inline)');
  } else {
    const named = env.BACKUP_CONFIG;
    const path = resolve(cwd, named ?? 'backup.config.yaml');
    if (existsSync(path)) doc = parseYamlText(readFileSync(path, 'utf8'), path);
    else if (named) throw new ConfigError(`BACKUP_CONFIG: file not found: ${path}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('config file: top level must be a mapping');
  let raw: Record<string, unknown>;
  try {
    raw = interpolate(doc, env) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  applyEnvOverrides(raw, env);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error));
  const cfg = parsed.data;
  cfg.storage.url = absolutiseFileUrl(cfg.storage.url, cwd);
  return deepFreeze(cfg);
}

function parseYamlText(text: string, where: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${where}: invalid YAML: ${(e as Error).message}`);
  }
}

function section(raw: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = raw[key];
  if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  const created: Record<string, unknown> = {};
  raw[key] = created;
  return created;
}

function intEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw new ConfigError(`${name}: must be an integer, got "${v}"`);
  return Number(v);
}

function boolEnv(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(`${name}: must be true or false, got "${v}"`);
}

/** The environment variables SPEC names override the file. */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const port = intEnv(env, 'PORT');
  if (port !== undefined) section(raw, 'server').port = port;
  if (env.HOST) section(raw, 'server').host = env.HOST;
  if (env.REDIS_URL) section(raw, 'redis').url = env.REDIS_URL;
  if (env.CATALOG_DATABASE_URL) section(raw, 'catalog').url = env.CATALOG_DATABASE_URL;
  const storage = section(raw, 'storage');
  if (env.STORAGE_URL) storage.url = env.STORAGE_URL;
  const s3Keys: [string, string][] = [
    ['S3_ENDPOINT', 'endpoint'],
    ['S3_REGION', 'region'],
    ['S3_ACCESS_KEY_ID', 'accessKeyId'],
    ['S3_SECRET_ACCESS_KEY', 'secretAccessKey'],
  ];
  for (const [envName, key] of s3Keys) {
    if (env[envName]) section(storage, 's3')[key] = env[envName];
  }
  const pathStyle = boolEnv(env, 'S3_FORCE_PATH_STYLE');
  if (pathStyle !== undefined) section(storage, 's3').forcePathStyle = pathStyle;
  if (env.API_KEYS) {
    const keys = env.API_KEYS.split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    const auth = section(raw, 'auth');
    const fromFile = Array.isArray(auth.apiKeys) ? (auth.apiKeys as unknown[]) : [];
    auth.apiKeys = [...fromFile, ...keys];
  }
  const wc = intEnv(env, 'WORKER_CONCURRENCY');
  if (wc !== undefined) {
    const conc = section(section(raw, 'workers'), 'concurrency');
    conc.export = wc;
    conc.restore = wc;
  }
  if (env.WORKER_QUEUES) {
    section(raw, 'workers').queues = env.WORKER_QUEUES.split(',')
      .map((q) => q.trim())
      .filter(Boolean);
  }
  if (env.COMPRESSION) {
    const codec = codecSchema.safeParse(env.COMPRESSION);
    if (!codec.success) throw new ConfigError(`COMPRESSION: must be zstd, gzip or none, got "${env.COMPRESSION}"`);
    const c = section(raw, 'compression');
    if (c.codec !== codec.data) delete c.level; // a file's level belongs to the file's codec
    c.codec = codec.data satisfies Codec;
  }
  const level = intEnv(env, 'COMPRESSION_LEVEL');
  if (level !== undefined) section(raw, 'compression').level = level;
}

function formatIssues(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const path = i.path.map(String).join('.') || '(root)';
      return `config ${path}: ${i.message}`;
    })
    .join('; ');
}

function absolutiseFileUrl(url: string, cwd: string): string {
  if (!url.startsWith('file://')) return url;
  const rest = url.slice('file://'.length);
  if (rest.startsWith('/')) return url;
  return `file://${resolve(cwd, rest)}`;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
