/**
 * `${VAR}` interpolation for the YAML config file. Only whole `${NAME}` tokens are
 * replaced; `$${NAME}` escapes a literal `${NAME}`. A referenced variable that is not set
 * is an error naming the variable and where it is used, never an empty string: an empty
 * password silently sent to a database is worse than a refusal to start.
 */
export class MissingEnvError extends Error {
  override readonly name = 'MissingEnvError';
  constructor(
    readonly variable: string,
    readonly path: string,
  ) {
    super(`config ${path}: environment variable ${variable} is referenced but not set`);
  }
}

const TOKEN = /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function interpolateString(value: string, env: NodeJS.ProcessEnv, path: string): string {
  return value.replace(TOKEN, (_match, escaped: string | undefined, name: string) => {
    if (escaped) return `\${${name}}`;
    const v = env[name];
    if (v === undefined) throw new MissingEnvError(name, path);
    return v;
  });
}

/** Walks a parsed YAML document and interpolates every string leaf. */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') return interpolateString(value, env, path || '(root)');
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}
