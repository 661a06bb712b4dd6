/** An ARG of `ikc post` / `ikc call`: JSON where it parses as JSON, else the string itself. */
export function parseArg(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
