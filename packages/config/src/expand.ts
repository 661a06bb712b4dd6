import { IkcError } from '@ikc/wire';

/**
 * Replaces `${VAR}` in every string of a parsed config with the environment's value; `$${`
 * stands for a literal `${`. An unset variable is an error naming it, the key and the file.
 */
export function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  file: string,
  path: string[] = [],
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$?\$\{([^}]*)\}/g, (match, name: string) => {
      if (match.startsWith('$$')) return match.slice(1);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        throw configError(file, path, `"\${${name}}" is not a valid variable name`);
      }
      const v = env[name];
      if (v === undefined) throw configError(file, path, `environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, file, [...path, String(i)]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, file, [...path, k]);
    return out;
  }
  return value;
}

/** A configuration error: names the file and the key path, and says what was expected. */
export function configError(file: string, path: readonly (string | number)[], message: string): IkcError {
  const key = path.length ? path.join('.') : '(top level)';
  return new IkcError('IKC_ERR_CONFIG', `${file}: ${key}: ${message}`, { details: { file, key } });
}
