/** @ikc/cli — the `ikc` command, also callable as `run(argv)`. */
export { CliError, EXIT, exitCodeFor } from './exit.js';
export { run } from './program.js';
