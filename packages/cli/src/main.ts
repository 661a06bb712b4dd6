#!/usr/bin/env node
// The `ikc` command. See docs/cli.md.
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2));
