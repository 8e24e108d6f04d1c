// `npm run bench -- NAME [args]`: runs bench/NAME.ts (its exported main); without NAME, lists them.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  process.stderr.write(
    `${name === undefined ? '' : `unknown benchmark '${name}'. `}` +
      `usage: npm run bench -- <${available.join('|')}> [args]\n`,
  );
  process.exit(name === undefined ? 0 : 2);
}
const mod = (await import(`./${name}.ts`)) as { main?: (args: string[]) => Promise<void> };
if (typeof mod.main !== 'function') {
  process.stderr.write(`bench/${name}.ts exports no main(args)\n`);
  process.exit(2);
}
await mod.main(args);
