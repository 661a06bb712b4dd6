import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { IkcError } from '@ikc/wire';
import { cosmiconfig, defaultLoaders } from 'cosmiconfig';
import type { z } from 'zod';
import { defaultKernelName, defaultMaxProc, defaultSocketPath } from './defaults.js';
import { configError, expandEnv } from './expand.js';
import { readPem } from './pem.js';
import { type Config, type ConfigInput, configSchema, LEVELS } from './schema.js';

export interface LoadOptions {
  /** `--config FILE`: this file and no other (it must exist). */
  file?: string;
  /** Default: process.env ($POE_CONF, ${VAR} values, $POE_LOG). */
  env?: NodeJS.ProcessEnv;
  /** Default: os.homedir(), for ~/.poe.conf. */
  home?: string;
  /** Default: /etc/poe.conf. */
  systemFile?: string;
  /** Single keys from command-line flags, by dotted path ('kernel.name'), applied last. */
  overrides?: Record<string, unknown>;
  /** Session modules from flags, relative to the working directory, added to the file's. */
  sessions?: string[];
}

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or undefined when none was found (all defaults). */
  file: string | undefined;
  /** Every place looked at, in order (for messages). */
  looked: string[];
}

// One explorer: YAML or JSON (JSON is YAML), whatever the file is named: .poe.conf,
// poe.conf, a .yaml, .yml or .json file, no extension at all, or any other. Every extension
// (.js and .ts included: a config file is never run as code) goes to the YAML loader.
const yamlLoader = defaultLoaders['.yaml'];
const explorer = cosmiconfig('poe', {
  searchStrategy: 'none',
  cache: false,
  loaders: {
    ...Object.fromEntries(Object.keys(defaultLoaders).map((ext) => [ext, yamlLoader])),
    '.conf': yamlLoader,
    default: yamlLoader,
  },
});

/** The candidate files, in the order DESIGN.md fixes: --config, $POE_CONF, ~/.poe.conf, /etc/poe.conf. */
function candidates(
  options: LoadOptions,
  env: NodeJS.ProcessEnv,
): { path: string; required: string | undefined }[] {
  if (options.file) return [{ path: resolve(options.file), required: '--config' }];
  const out: { path: string; required: string | undefined }[] = [];
  if (env.POE_CONF) out.push({ path: resolve(env.POE_CONF), required: '$POE_CONF' });
  out.push({ path: join(options.home ?? homedir(), '.poe.conf'), required: undefined });
  out.push({ path: options.systemFile ?? '/etc/poe.conf', required: undefined });
  return out;
}

/**
 * Loads the configuration: the first file found (YAML or JSON), `${VAR}` expanded, checked
 * against the schema, defaults filled in, flags applied. Any problem is an IkcError
 * IKC_ERR_CONFIG whose message names the file and the key.
 */
export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const looked: string[] = [];
  let file: string | undefined;
  let raw: unknown = {};
  for (const candidate of candidates(options, env)) {
    looked.push(candidate.path);
    if (!existsSync(candidate.path)) {
      if (candidate.required) {
        throw new IkcError(
          'IKC_ERR_CONFIG',
          `${candidate.path}: no such config file (from ${candidate.required})`,
          {
            details: { file: candidate.path },
          },
        );
      }
      continue;
    }
    let result: Awaited<ReturnType<typeof explorer.load>>;
    try {
      result = await explorer.load(candidate.path);
    } catch (cause) {
      throw new IkcError(
        'IKC_ERR_CONFIG',
        `${candidate.path}: not valid YAML or JSON: ${(cause as Error).message}`,
        {
          cause,
          details: { file: candidate.path },
        },
      );
    }
    file = candidate.path;
    raw = result?.isEmpty ? {} : (result?.config ?? {});
    break;
  }
  const where = file ?? 'defaults';
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(where, [], 'the file must hold a mapping of keys (kernel, cloud, sessions, ...)');
  }
  const expanded = expandEnv(raw, env, where) as Record<string, unknown>;
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) setPath(expanded, key.split('.'), value);
  }
  const parsed = configSchema.safeParse(expanded satisfies ConfigInput as ConfigInput);
  if (!parsed.success) {
    // A bad value a flag put there is the command line's fault, not the file's.
    const key = parsed.error.issues[0]?.path.join('.');
    const fromFlag = Object.entries(options.overrides ?? {}).some(([k, v]) => v !== undefined && k === key);
    throw describe(parsed.error, fromFlag ? 'command line' : where);
  }
  const poeLog = env.POE_LOG || undefined;
  if (poeLog !== undefined && !(LEVELS as readonly string[]).includes(poeLog)) {
    throw configError('$POE_LOG', ['log', 'level'], `expected one of ${LEVELS.join(', ')}; got "${poeLog}"`);
  }
  const out = parsed.data;

  const name = out.kernel.name ?? defaultKernelName();
  const base = file ? dirname(file) : process.cwd();
  const config: Config = {
    kernel: {
      name,
      listen: out.kernel.listen,
      socket: out.kernel.socket === undefined ? defaultSocketPath(name, env) : out.kernel.socket,
      heapGrowingPercent: out.kernel.heapGrowingPercent,
      ...(out.kernel.tls ? { tls: tlsFiles(out.kernel.tls, base, where) } : {}),
    },
    cloud: out.cloud,
    sessions: [
      ...out.sessions.map((s) => (isAbsolute(s) ? s : resolve(base, s))),
      ...(options.sessions ?? []).map((s) => resolve(s)),
    ],
    jobs: {
      allow: out.jobs.allow,
      maxProc: out.jobs.maxProc ?? defaultMaxProc(),
      killOrphans: out.jobs.killOrphans,
    },
    log: { level: (poeLog as Config['log']['level'] | undefined) ?? out.log.level },
    mesh: out.mesh,
  };
  return { config, file, looked };
}

/**
 * kernel.tls's files, absolute (relative ones from the config file's directory), each
 * readable and PEM: a kernel must not find out at its first link that its key is missing.
 */
function tlsFiles(
  tls: { cert: string; key: string; ca: string },
  base: string,
  where: string,
): { cert: string; key: string; ca: string } {
  const out = { cert: '', key: '', ca: '' };
  for (const key of ['cert', 'key', 'ca'] as const) {
    const file = isAbsolute(tls[key]) ? tls[key] : resolve(base, tls[key]);
    const pem = readPem(file);
    if ('problem' in pem) throw configError(where, ['kernel', 'tls', key], pem.problem);
    out[key] = file;
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** The first schema problem, as an error naming the file, the key and what was expected. */
function describe(error: z.ZodError, file: string): IkcError {
  const issue = error.issues[0];
  if (!issue) return configError(file, [], 'invalid configuration');
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => [...path, k].join('.'));
    return configError(
      file,
      [...path, issue.keys[0] as string],
      `unknown key (${keys.join(', ')}); see poe.conf.example`,
    );
  }
  if (issue.code === 'invalid_type') {
    return configError(file, path, `expected ${issue.expected}`);
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // Say what each alternative wanted ("expected string or false"), not zod's "Invalid input".
    const wanted = issue.errors.map((branch) => {
      const first = branch[0];
      if (first?.code === 'invalid_type') return first.expected;
      if (first?.code === 'invalid_value') return first.values.map((v) => JSON.stringify(v)).join(' or ');
      return first?.message ?? 'something else';
    });
    return configError(file, path, `expected ${wanted.join(' or ')}`);
  }
  return configError(file, path, issue.message);
}
