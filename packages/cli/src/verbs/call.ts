import { parseArg } from '../args.js';
import { connect, type GlobalOptions } from '../connect.js';
import { EXIT } from '../exit.js';
import { toJson } from '../output.js';
import { specOf, specText } from '../target.js';

/** ikc call SPEC [ARG...]: runs the event and prints its result as JSON. */
export async function call(specArg: string, args: string[], options: GlobalOptions): Promise<number> {
  const conn = await connect(options, 'call');
  try {
    const spec = specOf(specArg, conn);
    const result = await conn.leaf.callWith(
      { timeoutMs: conn.timeoutMs },
      specText(spec),
      ...args.map(parseArg),
    );
    process.stdout.write(`${toJson(result)}\n`);
    return EXIT.OK;
  } finally {
    await conn.close();
  }
}
