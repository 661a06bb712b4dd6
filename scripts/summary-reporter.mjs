// A node:test reporter that prints one closing line, "tests: N passed, N failed, N skipped",
// after the spec reporter's output. CI and people read this line; keep its shape.
export default async function* summary(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    // Suites report too; count only leaf tests so a failing test is not counted twice.
    if (event.data.details?.type === 'suite') continue;
    if (event.type === 'test:fail') {
      failed++;
      failures.push(`${event.data.file ?? ''} › ${event.data.name}`);
    } else if (event.data.skip || event.data.todo) skipped++;
    else passed++;
  }
  if (failures.length) yield `\nfailed:\n${failures.map((f) => `  ${f}`).join('\n')}\n`;
  yield `\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
