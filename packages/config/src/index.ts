/**
 * @ikc/config — ikc's configuration: ~/.poe.conf (YAML or JSON) found by cosmiconfig, with
 * `${VAR}` expansion, a zod schema that names the file and key of every mistake, and one
 * table of defaults.
 */
export {
  COMPUTED_KEYS,
  DEFAULTS,
  defaultKernelName,
  defaultMaxProc,
  defaultSocketPath,
  defaultTuning,
  type MeshTuning,
  OPTIONAL_KEYS,
} from './defaults.js';
export { configError, expandEnv } from './expand.js';
export { type LoadedConfig, type LoadOptions, loadConfig } from './load.js';
export { PEM_START, readPem } from './pem.js';
export { type Config, type ConfigInput, configSchema } from './schema.js';
